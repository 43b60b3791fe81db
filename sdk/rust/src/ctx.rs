//! `Ctx`: one event, what the route matched in it, and where it comes from.
//! Its actions (reply, send, state, timers) are in `actions.rs`.

use crate::{Config, Content, Context, Event, Kv, Log, Message, timers};

/// What the route that runs matched: the command and its rest and
/// arguments, or the regex captures of `hears`.
#[derive(Debug, Default)]
pub(crate) struct Matched {
    pub(crate) command: Option<String>,
    pub(crate) text: String,
    pub(crate) args: Vec<String>,
    /// Capture groups, 0 the whole match.
    pub(crate) groups: Vec<Option<String>>,
    /// Named groups: (name, index).
    pub(crate) names: Vec<(String, usize)>,
}

impl Matched {
    pub(crate) fn command(name: &str, rest: &str) -> Matched {
        Matched {
            command: Some(name.to_string()),
            text: rest.to_string(),
            args: crate::command::split_args(rest),
            ..Matched::default()
        }
    }
}

/// One event and everything a handler needs to act on it.
pub struct Ctx {
    /// The event as the host sent it.
    pub event: Event,
    /// The session (account) name from the host config.
    pub session: String,
    /// The host's id for this event, as it appears in host logs.
    pub event_id: String,
    /// This account's own address, once connected.
    pub self_jid: Option<String>,
    /// Plugin-wide state in this session (see [`Ctx::chat_kv`], [`Ctx::sender_kv`]).
    pub kv: Kv,
    /// This plugin's settings.
    pub config: Config,
    /// Logging into the host's logs.
    pub log: Log,
    pub(crate) matched: Matched,
    stopped: bool,
}

impl Ctx {
    /// The context of `event` (no route matched yet).
    pub fn new(context: Context, event: Event) -> Ctx {
        Ctx {
            event,
            session: context.session,
            event_id: context.event_id,
            self_jid: context.self_jid,
            kv: Kv::plugin(),
            config: Config,
            log: Log,
            matched: Matched::default(),
            stopped: false,
        }
    }

    /// Ends routing for this event: no later route runs, and the plugin
    /// answers `flow::stop` (later plugins of the chain do not see it).
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Whether [`stop`](Ctx::stop) was called.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// The message, for message events.
    pub fn message(&self) -> Option<&Message> {
        match &self.event {
            Event::Message(message) => Some(message),
            _ => None,
        }
    }

    /// The text of a text or extended-text message (a media caption is not
    /// text), untrimmed.
    pub fn text(&self) -> Option<&str> {
        match &self.message()?.content {
            Content::Text(text) => Some(text),
            Content::ExtendedText(extended) => Some(&extended.text),
            _ => None,
        }
    }

    /// The chat of a message, receipt or chat-state event, the group of a
    /// group update.
    pub fn chat(&self) -> Option<&str> {
        match &self.event {
            Event::Message(message) => Some(&message.chat),
            Event::Receipt(receipt) => Some(&receipt.chat),
            Event::ChatState(update) => Some(&update.chat),
            Event::GroupUpdate(update) => Some(&update.group),
            _ => None,
        }
    }

    /// Who wrote the message, produced the receipt, is present or typing;
    /// the author of a group update (if known).
    pub fn sender(&self) -> Option<&str> {
        match &self.event {
            Event::Message(message) => Some(&message.sender),
            Event::Receipt(receipt) => Some(&receipt.sender),
            Event::Presence(presence) => Some(&presence.sender),
            Event::ChatState(update) => Some(&update.sender),
            Event::GroupUpdate(update) => update.author.as_deref(),
            _ => None,
        }
    }

    /// Whether this account sent the message itself (from another device).
    pub fn from_me(&self) -> bool {
        self.message().is_some_and(|message| message.from_me)
    }

    /// Whether the message is in a group chat.
    pub fn is_group(&self) -> bool {
        self.message().is_some_and(|message| message.is_group)
    }

    /// The message's id.
    pub fn id(&self) -> Option<&str> {
        self.message().map(|message| message.id.as_str())
    }

    /// The sender's display name, if the network shares it.
    pub fn push_name(&self) -> Option<&str> {
        self.message()?.push_name.as_deref()
    }

    /// The command that matched (as registered, lowercase), in a `command` route.
    pub fn command(&self) -> Option<&str> {
        self.matched.command.as_deref()
    }

    /// What the route matched: a command's rest (the trimmed text after the
    /// command and one space, `""` if none), the whole regex match of
    /// `hears`; `""` for other routes.
    pub fn matched(&self) -> &str {
        &self.matched.text
    }

    /// A command's arguments: [`matched`](Ctx::matched) split on spaces,
    /// with `"double"` or `'single'` quotes grouping words.
    pub fn args(&self) -> &[String] {
        &self.matched.args
    }

    /// Capture group `index` of the `hears` regex (0: the whole match), if
    /// it took part in the match.
    pub fn capture(&self, index: usize) -> Option<&str> {
        self.matched.groups.get(index)?.as_deref()
    }

    /// The named capture group `name` of the `hears` regex.
    pub fn named(&self, name: &str) -> Option<&str> {
        let (_, index) = self.matched.names.iter().find(|(n, _)| n == name)?;
        self.capture(*index)
    }

    /// The id of the timer that fired, in a `timer` event.
    pub fn timer_id(&self) -> Option<&str> {
        match &self.event {
            Event::Timer(timer) => Some(&timer.id),
            _ => None,
        }
    }

    /// The payload of the timer that fired, as given to the host.
    pub fn payload_raw(&self) -> Option<&str> {
        match &self.event {
            Event::Timer(timer) => Some(&timer.payload),
            _ => None,
        }
    }

    /// The payload of the timer that fired, decoded from JSON (as
    /// [`later`](Ctx::later) encoded it); a payload that is not JSON decodes
    /// as the JSON string of its raw text. An error for other events.
    pub fn payload<T: serde::de::DeserializeOwned>(&self) -> crate::Result<T> {
        let raw = self.payload_raw().ok_or("payload: this event is not a timer")?;
        timers::decode(raw)
    }
}
