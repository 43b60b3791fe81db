//! Where two runs of one event differ: what the live chain (or plugin) did
//! and what the candidate did, send by send.
//!
//! Sends are paired by position. A pair that is equal is no difference;
//! one of the same kind in the same chat whose text alone differs is
//! [`Difference::Text`]; anything else is [`Difference::Other`]; a send only
//! one side made is [`Difference::Missing`] (the candidate did not make it)
//! or [`Difference::Extra`] (only the candidate made it). A run that failed
//! on one side only, or a middleware verdict that changed, is a difference
//! too.

use serde::Serialize;

use crate::channel::Outbound;

/// How one side's run of an event ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum RunEnd {
    /// Handled; `stopped` when the plugin (or one in the chain) answered `stop`.
    Handled { stopped: bool },
    /// A plugin failed (error, trap, deadline).
    Failed { plugin: String, error: String },
}

/// One way the candidate's run differs from the live one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Difference {
    /// The live side sent this; the candidate sent nothing in its place.
    Missing { index: usize, live: Outbound },
    /// The candidate sent this; the live side sent nothing in its place.
    Extra { index: usize, candidate: Outbound },
    /// Same kind of send in the same chat, other text.
    Text {
        index: usize,
        chat: String,
        live: String,
        candidate: String,
    },
    /// Another send in this place.
    Other {
        index: usize,
        live: Outbound,
        candidate: Outbound,
    },
    /// The runs ended differently (one failed, or the `stop`/`next` verdict changed).
    End { live: RunEnd, candidate: RunEnd },
}

/// The differences between the live run and the candidate's, in order.
pub fn runs(live: (&RunEnd, &[Outbound]), candidate: (&RunEnd, &[Outbound])) -> Vec<Difference> {
    let mut differences = sends(live.1, candidate.1);
    if live.0 != candidate.0 {
        differences.push(Difference::End {
            live: live.0.clone(),
            candidate: candidate.0.clone(),
        });
    }
    differences
}

/// The differences between two lists of sends, paired by position.
pub fn sends(live: &[Outbound], candidate: &[Outbound]) -> Vec<Difference> {
    let mut differences = Vec::new();
    for index in 0..live.len().max(candidate.len()) {
        let difference = match (live.get(index), candidate.get(index)) {
            (Some(live), Some(candidate)) if live == candidate => continue,
            (Some(live), Some(candidate)) => match (text_of(live), text_of(candidate)) {
                (Some(live_text), Some(candidate_text))
                    if live.kind() == candidate.kind()
                        && live.chat() == candidate.chat()
                        && same_but_text(live, candidate) =>
                {
                    Difference::Text {
                        index,
                        chat: live.chat().to_string(),
                        live: live_text.to_string(),
                        candidate: candidate_text.to_string(),
                    }
                }
                _ => Difference::Other {
                    index,
                    live: live.clone(),
                    candidate: candidate.clone(),
                },
            },
            (Some(live), None) => Difference::Missing {
                index,
                live: live.clone(),
            },
            (None, Some(candidate)) => Difference::Extra {
                index,
                candidate: candidate.clone(),
            },
            (None, None) => unreachable!("index below the longer list's length"),
        };
        differences.push(difference);
    }
    differences
}

/// The text a send carries: a message's text, an edit's, a media caption.
fn text_of(action: &Outbound) -> Option<&str> {
    match action {
        Outbound::Edit { text, .. } => Some(text),
        Outbound::Media { caption, .. } => caption.as_deref(),
        other => other.text(),
    }
}

/// Whether two sends of one kind are equal once their texts are set aside.
fn same_but_text(a: &Outbound, b: &Outbound) -> bool {
    match (a, b) {
        (Outbound::Reply { quoted: x, .. }, Outbound::Reply { quoted: y, .. })
        | (Outbound::Edit { target: x, .. }, Outbound::Edit { target: y, .. }) => x == y,
        (Outbound::Media { data: x, mime: m, .. }, Outbound::Media { data: y, mime: n, .. }) => x == y && m == n,
        _ => true,
    }
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Missing { index, live } => write!(f, "send {index}: missing: live sent {}", brief(live)),
            Difference::Extra { index, candidate } => {
                write!(f, "send {index}: extra: candidate sent {}", brief(candidate))
            }
            Difference::Text {
                index,
                chat,
                live,
                candidate,
            } => write!(f, "send {index} to {chat}: text {live:?} became {candidate:?}"),
            Difference::Other { index, live, candidate } => {
                write!(
                    f,
                    "send {index}: live sent {}, candidate sent {}",
                    brief(live),
                    brief(candidate)
                )
            }
            Difference::End { live, candidate } => {
                write!(f, "ended {} (live) vs {} (candidate)", end(live), end(candidate))
            }
        }
    }
}

/// A one-line description of a send.
fn brief(action: &Outbound) -> String {
    match text_of(action) {
        Some(text) => format!("{} to {}: {text:?}", action.kind(), action.chat()),
        None => format!("{} to {}", action.kind(), action.chat()),
    }
}

fn end(end: &RunEnd) -> String {
    match end {
        RunEnd::Handled { stopped: false } => "handled".into(),
        RunEnd::Handled { stopped: true } => "handled (stop)".into(),
        RunEnd::Failed { plugin, error } => format!("failed in {plugin}: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(chat: &str, text: &str) -> Outbound {
        Outbound::Text {
            chat: chat.into(),
            text: text.into(),
        }
    }

    #[test]
    fn equal_sends_are_no_difference() {
        let live = [text("a", "hi"), text("a", "there")];
        assert!(sends(&live, &live.clone()).is_empty());
    }

    #[test]
    fn each_kind_of_difference_is_named_at_its_place() {
        let live = [text("a", "pong"), text("a", "x"), text("a", "only live")];
        let candidate = [
            text("a", "PONG"),
            Outbound::React {
                chat: "a".into(),
                target: "m1".into(),
                emoji: "👍".into(),
            },
        ];
        let found = sends(&live, &candidate);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            matches!(&found[0], Difference::Text { index: 0, live, candidate, .. } if live == "pong" && candidate == "PONG")
        );
        assert!(matches!(&found[1], Difference::Other { index: 1, .. }));
        assert!(matches!(&found[2], Difference::Missing { index: 2, .. }));
        let found = sends(&candidate[..1], &live);
        assert!(matches!(found.last(), Some(Difference::Extra { index: 2, .. })));
    }

    #[test]
    fn the_same_text_to_another_chat_is_not_a_text_difference() {
        let found = sends(&[text("a", "hi")], &[text("b", "hi")]);
        assert!(matches!(found[..], [Difference::Other { .. }]), "{found:?}");
    }

    #[test]
    fn a_changed_end_is_a_difference_even_with_equal_sends() {
        let handled = RunEnd::Handled { stopped: false };
        let failed = RunEnd::Failed {
            plugin: "p".into(),
            error: "trap".into(),
        };
        assert!(runs((&handled, &[]), (&handled, &[])).is_empty());
        let found = runs((&handled, &[]), (&failed, &[]));
        assert!(matches!(found[..], [Difference::End { .. }]));
        assert!(found[0].to_string().contains("failed in p: trap"), "{}", found[0]);
    }
}
