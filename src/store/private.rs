//! Keys at rest: the modes of the files that hold secrets (the database
//! with the WhatsApp device keys, the API token, the compile cache's key)
//! and of the directories they live in.
//!
//! - A directory purr creates is `0700`, a secret file `0600`.
//! - An existing directory writable by group or others is refused: whoever
//!   can write there can replace the database, the token or the cache key,
//!   and tightening the mode now would not undo what they may have done.
//!   The message names the path, the mode found and the fix.
//! - An existing database file (or its `-wal`/`-shm`) readable by others is
//!   purr's own file, made by an older purr: it is tightened to `0600` with
//!   a warning.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context as _;

/// Group and others may write.
const WRITABLE_BY_OTHERS: u32 = 0o022;

/// The permission bits of `path` (following symlinks), `None` if it does not exist.
pub fn mode(path: &Path) -> std::io::Result<Option<u32>> {
    match std::fs::metadata(path) {
        Ok(metadata) => Ok(Some(metadata.permissions().mode() & 0o7777)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Creates `dir` (and missing parents) with mode 0700, or checks that an
/// existing `dir` is not writable by group or others (refused, naming the
/// fix). `what` names the directory in messages ("data dir").
pub fn private_dir(dir: &Path, what: &str) -> anyhow::Result<()> {
    let existing = mode(dir).with_context(|| format!("{what} {}", dir.display()))?;
    if existing.is_none() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {what} {}", dir.display()))?;
    }
    check_dir(dir, what)
}

/// Refuses an existing `dir` that group or others may write to.
pub fn check_dir(dir: &Path, what: &str) -> anyhow::Result<()> {
    let metadata = std::fs::metadata(dir).with_context(|| format!("{what} {}", dir.display()))?;
    if !metadata.is_dir() {
        anyhow::bail!("{what} {} is not a directory", dir.display());
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & WRITABLE_BY_OTHERS != 0 {
        anyhow::bail!(
            "{what} {} has mode {mode:04o}: it is writable by group or others, who could replace the \
             database, the API token or the compile cache in it; run `chmod 700 {}` (or use a \
             directory of your own)",
            dir.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Creates `path` empty with mode 0600 if it does not exist yet.
pub fn create_private_file(path: &Path) -> anyhow::Result<()> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error).with_context(|| format!("creating {}", path.display())),
    }
}

/// Tightens an existing `path` that group or others may access to 0600,
/// with a warning; nothing if it does not exist.
pub fn tighten_file(path: &Path) -> anyhow::Result<()> {
    let Some(found) = mode(path).with_context(|| path.display().to_string())? else {
        return Ok(());
    };
    if found & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).with_context(|| {
        format!(
            "{} has mode {found:04o} (group or others may access it) and cannot be made private; \
             run `chmod 600 {}`",
            path.display(),
            path.display()
        )
    })?;
    tracing::warn!(
        path = %path.display(),
        mode = %format!("{found:04o}"),
        "a file with keys was accessible to group or others; its mode is now 0600"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_missing_dir_is_created_0700_with_its_parents() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        private_dir(&dir, "data dir").unwrap();
        assert_eq!(mode(&dir).unwrap(), Some(0o700));
        assert_eq!(mode(&root.path().join("a")).unwrap(), Some(0o700));
    }

    #[test]
    fn an_existing_dir_writable_by_others_is_refused_with_the_fix() {
        let root = tempfile::tempdir().unwrap();
        for loose in [0o777, 0o770, 0o1777, 0o702] {
            set_mode(root.path(), loose);
            let error = private_dir(root.path(), "data dir").unwrap_err().to_string();
            assert!(error.contains(&format!("{loose:04o}")), "{error}");
            assert!(
                error.contains(&format!("chmod 700 {}", root.path().display())),
                "{error}"
            );
        }
        // Readable is not writable: the files in it are private themselves.
        for fine in [0o700, 0o750, 0o755] {
            set_mode(root.path(), fine);
            private_dir(root.path(), "data dir").unwrap();
            assert_eq!(mode(root.path()).unwrap(), Some(fine), "left as it was");
        }
    }

    #[test]
    fn a_loose_file_is_tightened_and_a_new_one_is_0600() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("f");
        create_private_file(&path).unwrap();
        assert_eq!(mode(&path).unwrap(), Some(0o600));
        set_mode(&path, 0o644);
        tighten_file(&path).unwrap();
        assert_eq!(mode(&path).unwrap(), Some(0o600));
        tighten_file(&root.path().join("missing")).unwrap();
    }
}
