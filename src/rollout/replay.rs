//! `purr replay`: a session's journaled events run again through its
//! chain with a candidate in place of one plugin, compared with what the
//! live chain actually did.
//!
//! The events are the session's finished journal rows in a window (the
//! last N, or those received since a time), read from the database a
//! page at a time, in order. Each runs once (no retries, no back-off)
//! through the session's chain in a [`Sandbox`]: its sends are captured,
//! its kv writes stay in the sandbox (the first read of a key sees its
//! live value *now*, so a plugin whose answers depend on stored state can
//! differ for that reason alone), its timers never fire, its HTTP is GET
//! and HEAD only. Live data — kv, timers, journal, outbox — is only read.
//!
//! What the live chain did is the record the journal and outbox keep for
//! `[host] journal_keep`: the sends each event made (delivered or not) and
//! whether it ended as a dead letter. Timer and start events are not
//! journaled, so they are not replayed.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use serde::Serialize;

use super::compare::{self, Difference, RunEnd};
use super::sandbox::Sandbox;
use crate::channel::detached::Detached;
use crate::channel::{ChannelEvent, Content, Outbound};
use crate::config::{ChannelKind, Config};
use crate::dispatch::{Chain, Outcome};
use crate::observe::Observer;
use crate::plugin::{EngineSettings, PluginHandle, PluginHost};
use crate::store::{HistoryWindow, PastEvent, Store};

/// Finished events read from the database at a time.
const PAGE: usize = 256;

/// What to replay.
#[derive(Debug, Clone)]
pub struct ReplaySpec {
    pub session: String,
    /// The plugin the candidate stands in for.
    pub plugin: String,
    /// The candidate's component file.
    pub candidate: std::path::PathBuf,
    pub window: HistoryWindow,
}

/// The outcome of a replay.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    pub session: String,
    pub plugin: String,
    pub candidate: std::path::PathBuf,
    /// Events replayed.
    pub events: u64,
    /// Events where the chain with the candidate did exactly what the live chain did.
    pub identical: u64,
    /// Events where it did not.
    pub differing: u64,
    /// Events whose chain failed with the candidate in it (some may have failed live too).
    pub failed: u64,
    pub elapsed_ms: u64,
    /// The differing events, in order.
    pub differences: Vec<EventDifference>,
}

impl ReplayReport {
    /// Whether the candidate did what the live chain did on every event.
    pub fn identical(&self) -> bool {
        self.differing == 0
    }
}

/// One event where the candidate's chain differed.
#[derive(Debug, Clone, Serialize)]
pub struct EventDifference {
    /// The journal sequence number; the event id plugins saw is `j<seq>`.
    pub seq: i64,
    pub received_at_ms: i64,
    /// What the event was, in a few words (`message from alice@sim: "!ping"`).
    pub event: String,
    pub differences: Vec<Difference>,
}

/// Replays `spec` against the database and plugins of `config`; calls
/// `each` with every differing event as it is found.
pub async fn replay(
    config: &Config,
    spec: &ReplaySpec,
    mut each: impl FnMut(&EventDifference),
) -> anyhow::Result<ReplayReport> {
    let started = Instant::now();
    let store = Store::open_for(&config.host).await.context("opening the database")?;
    let (channel, plugins) = session_chain(config, &store, &spec.session).await?;
    if !plugins.contains(&spec.plugin) {
        anyhow::bail!(
            "session {:?} does not run plugin {:?} (its chain: {})",
            spec.session,
            spec.plugin,
            plugins.join(", ")
        );
    }
    let host = PluginHost::new(EngineSettings::for_config(config, true))?;
    let chain = load_chain(&host, config, spec, &plugins).await?;
    let session: Arc<str> = Arc::from(spec.session.as_str());
    let sandbox = Sandbox::new(
        session.clone(),
        store.clone(),
        Arc::new(Detached::new(channel, &spec.session)),
    )
    .await
    .context("reading the session's timers")?;
    let mut chain = Chain::new(sandbox.scope().clone(), chain, host.gauge()).without_backoff();
    let self_jid = store.session_get(&spec.session).await?.and_then(|row| row.jid);
    let mut report = ReplayReport {
        session: spec.session.clone(),
        plugin: spec.plugin.clone(),
        candidate: spec.candidate.clone(),
        events: 0,
        identical: 0,
        differing: 0,
        failed: 0,
        elapsed_ms: 0,
        differences: Vec::new(),
    };
    if let Some((first, last)) = store.history_range(&spec.session, spec.window).await? {
        let mut after = first - 1;
        while after < last {
            let page = store.history_page(&spec.session, after, last, PAGE).await?;
            let Some(end) = page.last().map(|past| past.seq) else {
                break;
            };
            after = end;
            for past in page {
                let Some(found) = run_one(&mut chain, &sandbox, &past, self_jid.clone()).await else {
                    continue;
                };
                report.events += 1;
                report.failed += u64::from(found.failed);
                match found.difference {
                    None => report.identical += 1,
                    Some(difference) => {
                        report.differing += 1;
                        each(&difference);
                        report.differences.push(difference);
                    }
                }
            }
        }
    }
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    store.close().await;
    Ok(report)
}

/// What running one past event again found.
struct Found {
    /// The chain failed with the candidate in it.
    failed: bool,
    difference: Option<EventDifference>,
}

/// Runs one past event through the chain; `None` if its journal row is unreadable.
async fn run_one(chain: &mut Chain, sandbox: &Sandbox, past: &PastEvent, self_jid: Option<String>) -> Option<Found> {
    let event: ChannelEvent = match serde_json::from_str(&past.event) {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(seq = past.seq, %error, "unreadable journal row skipped");
            return None;
        }
    };
    let id = format!("j{}", past.seq);
    sandbox.begin(&id);
    let outcome = chain.dispatch(&id, &event, self_jid).await;
    let sends = sandbox.finish(outcome == Outcome::Handled);
    let live_sends: Vec<Outbound> = past
        .sends
        .iter()
        .filter_map(|action| serde_json::from_str(action).ok())
        .collect();
    let live = match &past.failed {
        Some((plugin, error)) => RunEnd::Failed {
            plugin: plugin.clone(),
            error: error.clone(),
        },
        None => RunEnd::Handled { stopped: false },
    };
    let candidate = match outcome {
        // The live record keeps no stop verdict: a chain that handled the event is compared as handled.
        Outcome::Handled => RunEnd::Handled { stopped: false },
        // Failing in the same plugin is the same end, whatever the message says.
        Outcome::Failed { plugin, .. } if matches!(&live, RunEnd::Failed { plugin: p, .. } if *p == plugin) => {
            live.clone()
        }
        Outcome::Failed { plugin, error } => RunEnd::Failed { plugin, error },
    };
    let failed = matches!(candidate, RunEnd::Failed { .. });
    let differences = compare::runs((&live, &live_sends), (&candidate, &sends));
    let difference = (!differences.is_empty()).then(|| EventDifference {
        seq: past.seq,
        received_at_ms: past.received_at_ms,
        event: describe(&event),
        differences,
    });
    Some(Found { failed, difference })
}

/// The session's channel kind and plugin chain: from the config, or, for
/// a session created through the API, from the database.
async fn session_chain(config: &Config, store: &Store, session: &str) -> anyhow::Result<(ChannelKind, Vec<String>)> {
    if let Some(entry) = config.sessions.get(session) {
        return Ok((entry.channel, entry.plugins.clone()));
    }
    let row = store
        .session_get(session)
        .await?
        .with_context(|| format!("no session {session:?} in the config or the database"))?;
    let channel = ChannelKind::from_name(&row.channel)
        .with_context(|| format!("session {session:?} has an unknown channel {:?}", row.channel))?;
    let plugins =
        serde_json::from_str(&row.plugins).with_context(|| format!("session {session:?}: unreadable chain"))?;
    Ok((channel, plugins))
}

/// Loads the session's chain with the candidate in place of `spec.plugin`
/// (loaded with that plugin's entry: limits, settings, allowed hosts).
async fn load_chain(
    host: &PluginHost,
    config: &Config,
    spec: &ReplaySpec,
    plugins: &[String],
) -> anyhow::Result<Vec<(Arc<PluginHandle>, Option<toml::Table>)>> {
    let observer = Observer::default();
    let overrides = config
        .sessions
        .get(&spec.session)
        .map(|s| s.overrides.clone())
        .unwrap_or_default();
    let mut chain = Vec::new();
    for name in plugins {
        let entry = config
            .plugins
            .get(name)
            .with_context(|| format!("plugin {name:?} of the chain is not in the config"))?;
        let entry = match name == &spec.plugin {
            true => entry.candidate(spec.candidate.clone()),
            false => entry.clone(),
        };
        let loaded = host.load_async(name, &entry).await?;
        chain.push((
            Arc::new(PluginHandle::new(loaded, observer.plugin(name))),
            overrides.get(name).cloned(),
        ));
    }
    Ok(chain)
}

/// An event in a few words, for the report.
fn describe(event: &ChannelEvent) -> String {
    match event {
        ChannelEvent::Message(message) => {
            let text = match &message.content {
                Content::Text(text) | Content::ExtendedText { text, .. } => {
                    let short: String = text.chars().take(60).collect();
                    format!(": {short:?}")
                }
                _ => String::new(),
            };
            format!("message from {}{text}", message.sender)
        }
        other => other.kind().to_string(),
    }
}
