//! What one batch of writer requests comes to, whatever the backend: the
//! rows of each kind, merged the way the transaction writes them (one done
//! mark per session, the last kv write per key, one delivered mark per
//! session, one dead letter per event).

use std::collections::BTreeMap;

use super::{Completion, Job, SimSent};
use crate::store::journal::{DeadLetter, JournalEntry, OutboxRow};

/// A kv slot: (session, plugin, key).
pub(super) type KvSlot<'a> = (&'a str, &'a str, &'a str);

/// The rows a batch of requests writes, in one transaction.
#[derive(Default)]
pub(super) struct Batch<'a> {
    /// Journal entries to append (a duplicate `(session, seq)` or
    /// `dedupe_key` is skipped by the database).
    pub appends: Vec<&'a JournalEntry>,
    /// Per session, the newest event now done (a session completes its
    /// events in order, so its newest completion moves its done mark).
    pub done: BTreeMap<&'a str, i64>,
    /// Fired timers to delete.
    pub timers: Vec<&'a str>,
    /// Sends recorded by the completed events.
    pub outbox: Vec<&'a OutboxRow>,
    /// Per session, the newest outbox row delivered (a session's sends
    /// are delivered in order, so it moves the session's sent mark).
    pub delivered: BTreeMap<&'a str, i64>,
    /// Sim inbox messages journaled (by their seq).
    pub acks: Vec<i64>,
    /// Dead letters, one per (session, seq), the last winning.
    pub dead: Vec<&'a DeadLetter>,
    /// The kv writes, the last per key winning (in queue order): a value,
    /// or `None` for a delete.
    pub kv: BTreeMap<KvSlot<'a>, Option<&'a [u8]>>,
    /// Sim sends to record.
    pub sim_sent: Vec<&'a SimSent>,
}

impl<'a> Batch<'a> {
    pub fn of(jobs: impl IntoIterator<Item = &'a Job>) -> Batch<'a> {
        let mut batch = Batch::default();
        let mut dead: BTreeMap<(&str, i64), &DeadLetter> = BTreeMap::new();
        for job in jobs {
            match job {
                Job::Append(entries, _) => batch.appends.extend(entries),
                Job::Complete(completion, _) => batch.complete(completion, &mut dead),
                Job::Delivered { session, through } => {
                    let mark = batch.delivered.entry(session.as_str()).or_insert(*through);
                    *mark = (*mark).max(*through);
                }
                Job::SimAck(seqs, _) => batch.acks.extend(seqs.iter().copied()),
                Job::SimSent(sent, _) => batch.sim_sent.push(sent),
                Job::Barrier(_) | Job::Close(_) => {}
            }
        }
        batch.dead = dead.into_values().collect();
        batch
    }

    fn complete(&mut self, completion: &'a Completion, dead: &mut BTreeMap<(&'a str, i64), &'a DeadLetter>) {
        let session = completion.session.as_str();
        if let Some(seq) = completion.journal_seq {
            let through = self.done.entry(session).or_default();
            *through = (*through).max(seq);
        }
        if let Some(letter) = &completion.dead_letter {
            dead.insert((letter.session.as_str(), letter.seq), letter);
        }
        self.timers.extend(completion.timer_id.as_deref());
        self.outbox.extend(&completion.outbox);
        for write in &completion.kv {
            self.kv.insert(
                (session, write.plugin.as_str(), write.key.as_str()),
                write.value.as_deref(),
            );
        }
    }

    /// The kv values set, by slot.
    pub fn kv_sets(&self) -> impl Iterator<Item = (KvSlot<'a>, &'a [u8])> + '_ {
        self.kv
            .iter()
            .filter_map(|(slot, value)| value.map(|value| (*slot, value)))
    }

    /// The kv slots deleted.
    pub fn kv_deletes(&self) -> impl Iterator<Item = KvSlot<'a>> + '_ {
        self.kv
            .iter()
            .filter(|(_, value)| value.is_none())
            .map(|(slot, _)| *slot)
    }
}
