//! `Bot::hears`: regex routes on the text of text messages, with the
//! `regex-lite` engine (its `\w`, `\d`, `\s` and `(?i)` are ASCII-only).

use regex_lite::Regex;

use crate::ctx::Matched;
use crate::filter::{Filter, Kind};
use crate::router::{Outcome, Route, Test};
use crate::{Bot, Ctx, Error};

impl Bot {
    /// Runs `handler` for a text message whose text (untrimmed) contains a
    /// match of the regex `pattern` (a search, not a full match). Sets
    /// [`Ctx::capture`], [`Ctx::named`] and [`Ctx::matched`] (the whole
    /// match). A pattern that does not compile fails the plugin's `init`.
    pub fn hears<R: Outcome>(&mut self, pattern: &str, handler: impl Fn(&mut Ctx) -> R + 'static) -> &mut Route {
        match Regex::new(pattern) {
            Ok(regex) => self.add(Filter::of(&[Kind::Text]), Some(test(regex)), Self::handler(handler)),
            Err(error) => self.refuse(Error::new(format!("bot.hears: bad regex \"{pattern}\": {error}"))),
        }
    }
}

fn test(regex: Regex) -> Test {
    Box::new(move |ctx| {
        let captures = regex.captures(ctx.text()?)?;
        let groups: Vec<Option<String>> = captures
            .iter()
            .map(|group| group.map(|m| m.as_str().to_string()))
            .collect();
        let names = regex
            .capture_names()
            .enumerate()
            .filter_map(|(index, name)| Some((name?.to_string(), index)))
            .collect();
        Some(Matched {
            text: groups[0].clone().unwrap_or_default(),
            groups,
            names,
            ..Matched::default()
        })
    })
}
