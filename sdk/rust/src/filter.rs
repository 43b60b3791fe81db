//! Filter queries (`message:text`, `timer`, `*`, ...): parsed once when a
//! route is added, matched against each event's kind.

use crate::{Content, Error, Event};

/// What an event is, as the most specific filter query names it. The
/// discriminant is the kind's bit in a [`Filter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Image,
    Video,
    Audio,
    Document,
    Sticker,
    Location,
    Contact,
    Reaction,
    Unknown,
    Receipt,
    Presence,
    ChatState,
    GroupUpdate,
    Started,
    Qr,
    PairCode,
    Connected,
    Disconnected,
    LoggedOut,
    Timer,
}

impl Kind {
    pub(crate) fn of(event: &Event) -> Kind {
        match event {
            Event::Message(message) => match &message.content {
                Content::Text(_) | Content::ExtendedText(_) => Kind::Text,
                Content::Image(_) => Kind::Image,
                Content::Video(_) => Kind::Video,
                Content::Audio(_) => Kind::Audio,
                Content::Document(_) => Kind::Document,
                Content::Sticker(_) => Kind::Sticker,
                Content::Location(_) => Kind::Location,
                Content::Contact(_) => Kind::Contact,
                Content::Reaction(_) => Kind::Reaction,
                Content::Unknown(_) => Kind::Unknown,
            },
            Event::Receipt(_) => Kind::Receipt,
            Event::Presence(_) => Kind::Presence,
            Event::ChatState(_) => Kind::ChatState,
            Event::GroupUpdate(_) => Kind::GroupUpdate,
            Event::Started => Kind::Started,
            Event::Qr(_) => Kind::Qr,
            Event::PairCode(_) => Kind::PairCode,
            Event::Connected(_) => Kind::Connected,
            Event::Disconnected(_) => Kind::Disconnected,
            Event::LoggedOut(_) => Kind::LoggedOut,
            Event::Timer(_) => Kind::Timer,
        }
    }
}

use Kind::*;

const MEDIA: &[Kind] = &[Image, Video, Audio, Document, Sticker];

/// Every filter query and the kinds it matches (`*` is every kind).
const QUERIES: &[(&str, &[Kind])] = &[
    (
        "message",
        &[
            Text, Image, Video, Audio, Document, Sticker, Location, Contact, Reaction, Unknown,
        ],
    ),
    ("message:text", &[Text]),
    ("message:image", &[Image]),
    ("message:video", &[Video]),
    ("message:audio", &[Audio]),
    ("message:document", &[Document]),
    ("message:sticker", &[Sticker]),
    ("message:media", MEDIA),
    ("message:location", &[Location]),
    ("message:contact", &[Contact]),
    ("message:reaction", &[Reaction]),
    ("message:unknown", &[Unknown]),
    ("receipt", &[Receipt]),
    ("presence", &[Presence]),
    ("chat-state", &[ChatState]),
    ("group-update", &[GroupUpdate]),
    ("started", &[Started]),
    ("qr", &[Qr]),
    ("pair-code", &[PairCode]),
    ("connected", &[Connected]),
    ("disconnected", &[Disconnected]),
    ("logged-out", &[LoggedOut]),
    ("timer", &[Timer]),
];

/// A set of event kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Filter(u32);

impl Filter {
    /// Every event.
    pub(crate) const ALL: Filter = Filter(u32::MAX);
    /// No event (the filter of a route whose registration failed).
    pub(crate) const NONE: Filter = Filter(0);

    pub(crate) fn of(kinds: &[Kind]) -> Filter {
        Filter(kinds.iter().fold(0, |bits, kind| bits | 1 << *kind as u32))
    }

    /// The union of `queries`; an unknown query is an error naming it and
    /// listing the known ones.
    pub(crate) fn parse(queries: &[&str]) -> Result<Filter, Error> {
        if queries.is_empty() {
            return Err(Error::new("bot.on: no filter query given"));
        }
        queries.iter().try_fold(Filter::NONE, |filter, query| {
            if *query == "*" {
                return Ok(Filter::ALL);
            }
            match QUERIES.iter().find(|(name, _)| name == query) {
                Some((_, kinds)) => Ok(Filter(filter.0 | Filter::of(kinds).0)),
                None => {
                    let known: Vec<&str> = QUERIES.iter().map(|(name, _)| *name).chain(["*"]).collect();
                    Err(Error::new(format!(
                        "bot.on: unknown filter query \"{query}\"; known: {}",
                        known.join(", ")
                    )))
                }
            }
        })
    }

    pub(crate) fn matches(self, kind: Kind) -> bool {
        self.0 & 1 << kind as u32 != 0
    }
}
