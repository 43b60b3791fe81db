//! Hot reload: watches the config file and every plugin file.
//!
//! A [`notify`] watcher on the directories that hold them feeds a tokio
//! task. A file that is complete — closed after writing, or renamed into
//! place — is acted on at once (after [`SETTLED_WAIT`], to take changes
//! that come together in one go); a file still being written, as far as
//! the events tell (data written, not closed yet: editors and tools that
//! write in several steps), only once it has been quiet for [`DEBOUNCE`].
//! Then:
//! - for the config file: loads and validates it, and hands it to
//!   [`Supervisor::reconfigure`]; an invalid config is logged, error by
//!   error, and the running one stays;
//! - for a plugin file (or a plugin's `shadow` file):
//!   [`Supervisor::reload_plugin`], which compiles nothing when the file's
//!   digest is the one serving (or shadowing), and keeps the old version
//!   if the new file does not compile or link.
//!
//! Plugin files are those the config in force names (the desired ones):
//! after an edit moves a plugin to a new path whose file does not load,
//! the old file keeps serving but it is the new path that is watched, and
//! the write that makes it loadable is picked up.
//!
//! Directories are watched rather than files, so editors that save by
//! writing a temporary file and renaming it over the original, or by
//! truncating and rewriting it, are both seen. Events for other files in
//! those directories (build outputs, editor swap files) are ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::supervisor::Supervisor;

/// How long a file still being written must be quiet before it is acted on.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// How long to wait for more changes once every changed file is complete.
pub const SETTLED_WAIT: Duration = Duration::from_millis(2);

/// What an event tells about the file it names.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Change {
    /// Closed after writing, or renamed into place: complete.
    Settled,
    /// Written, created, truncated or removed: maybe more to come.
    InProgress,
}

/// The files an event names, each with what it tells about them; none for
/// reads.
fn changes(event: notify::Event) -> Vec<(PathBuf, Change)> {
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
            event.paths.into_iter().map(|path| (path, Change::Settled)).collect()
        }
        EventKind::Access(_) => Vec::new(),
        EventKind::Modify(ModifyKind::Name(RenameMode::To)) => {
            event.paths.into_iter().map(|path| (path, Change::Settled)).collect()
        }
        // [from, to]: the old name is gone, the new one complete.
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {
            let last = event.paths.len().saturating_sub(1);
            let settled = |index| {
                if index == last {
                    Change::Settled
                } else {
                    Change::InProgress
                }
            };
            event
                .paths
                .into_iter()
                .enumerate()
                .map(|(index, path)| (path, settled(index)))
                .collect()
        }
        _ => event.paths.into_iter().map(|path| (path, Change::InProgress)).collect(),
    }
}

/// Turns a freshly loaded config into the one to apply (`purr chat` keeps
/// only its session, on the sim channel).
pub type Adapt = Box<dyn Fn(Config) -> Config + Send + Sync>;

/// A running watcher; dropping it stops watching.
pub struct Watcher {
    task: JoinHandle<()>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching `supervisor`'s config file (`config_path`) and plugins.
pub fn watch(supervisor: Supervisor, config_path: &Path, adapt: Adapt) -> anyhow::Result<Watcher> {
    let (changes, mut changed) = mpsc::unbounded_channel();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
        Ok(event) => {
            for change in self::changes(event) {
                let _ = changes.send(change);
            }
        }
        Err(error) => tracing::warn!(%error, "file watcher error"),
    })
    .context("starting the file watcher")?;
    let mut state = WatchState {
        supervisor,
        config_path: normalize(config_path),
        adapt,
        watcher,
        watched: BTreeSet::new(),
        files: BTreeMap::new(),
    };
    state.watch_all();
    let task = tokio::spawn(async move {
        while let Some((path, change)) = changed.recv().await {
            // The latest word on each file this round: settled or not.
            let mut pending = BTreeMap::new();
            state.note(&mut pending, path, change);
            while !pending.is_empty() {
                let wait = if pending.values().all(|change| *change == Change::Settled) {
                    SETTLED_WAIT
                } else {
                    DEBOUNCE
                };
                match tokio::time::timeout(wait, changed.recv()).await {
                    Ok(Some((path, change))) => state.note(&mut pending, path, change),
                    Ok(None) => return,
                    Err(_quiet) => break,
                }
            }
            if !pending.is_empty() {
                state.apply(&pending.into_keys().collect()).await;
            }
        }
    });
    Ok(Watcher { task })
}

struct WatchState {
    supervisor: Supervisor,
    config_path: PathBuf,
    adapt: Adapt,
    watcher: notify::RecommendedWatcher,
    watched: BTreeSet<PathBuf>,
    /// The plugin files (normalized) of the config in force, and the
    /// plugins loaded from each; refreshed with the watched directories.
    files: BTreeMap<PathBuf, Vec<String>>,
}

impl WatchState {
    /// Takes the plugin files of the config in force and watches their
    /// directories and the config file's.
    fn watch_all(&mut self) {
        self.files = self.plugin_files();
        let mut dirs: BTreeSet<PathBuf> = self.files.keys().cloned().filter_map(parent).collect();
        dirs.extend(parent(self.config_path.clone()));
        for dir in dirs {
            if self.watched.contains(&dir) {
                continue;
            }
            match self.watcher.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    tracing::debug!(dir = %dir.display(), "watching");
                    self.watched.insert(dir);
                }
                Err(error) => {
                    tracing::warn!(dir = %dir.display(), %error, "cannot watch; changes there need a restart")
                }
            }
        }
    }

    /// Records `change` of `path` in `pending` if `path` is the config file
    /// or a plugin file.
    fn note(&self, pending: &mut BTreeMap<PathBuf, Change>, path: PathBuf, change: Change) {
        let path = normalize(&path);
        if path == self.config_path || self.files.contains_key(&path) {
            pending.insert(path, change);
        }
    }

    /// Plugin files (normalized) the config in force names, shadows'
    /// included, and the plugins to reload for each.
    fn plugin_files(&self) -> BTreeMap<PathBuf, Vec<String>> {
        let mut files: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
        for (name, plugin) in self.supervisor.config().plugins {
            for path in std::iter::once(&plugin.path).chain(&plugin.shadow) {
                files.entry(normalize(path)).or_default().push(name.clone());
            }
        }
        files
    }

    /// Acts on the changed files `paths` (normalized).
    async fn apply(&mut self, paths: &BTreeSet<PathBuf>) {
        if paths.contains(&self.config_path) {
            self.apply_config().await;
        }
        for (file, plugins) in &self.files {
            if !paths.contains(file) {
                continue;
            }
            for plugin in plugins {
                // Failures are logged and recorded in the plugin's status.
                let _ = self.supervisor.reload_plugin(plugin).await;
            }
        }
    }

    async fn apply_config(&mut self) {
        let config = match Config::load(&self.config_path) {
            Ok(config) => (self.adapt)(config),
            Err(errors) => {
                for error in errors.iter() {
                    tracing::error!(%error, "config not applied");
                }
                return;
            }
        };
        match self.supervisor.reconfigure(config).await {
            Ok(_) => self.watch_all(),
            Err(error) => tracing::error!(error = %format!("{error:#}"), "config not applied"),
        }
    }
}

fn parent(path: PathBuf) -> Option<PathBuf> {
    path.parent().map(Path::to_path_buf)
}

/// `path` with its directory made canonical, so paths from the config and
/// from the watcher compare equal (the file itself may not exist).
fn normalize(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(dir), Some(file)) => dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()).join(file),
        _ => absolute,
    }
}
