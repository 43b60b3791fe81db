//! `Bot`: the routes of a plugin, tried in registration order for every
//! event, and what a route does with it.

use crate::command;
use crate::ctx::Matched;
use crate::filter::{Filter, Kind};
use crate::{Ctx, Error, Flow, Result};

/// What a route handler may return: nothing, or a `Result` whose `Err`
/// fails the event (`|ctx| ctx.reply("pong")` returns the id of the reply).
pub trait Outcome {
    fn into_result(self) -> Result;
}

impl Outcome for () {
    fn into_result(self) -> Result {
        Ok(())
    }
}

impl<T> Outcome for Result<T> {
    fn into_result(self) -> Result {
        self.map(drop)
    }
}

/// One name or several: `"ping"`, `["ping", "p"]`, `&names[..]`, `vec![...]`.
pub trait Names {
    fn names(&self) -> Vec<&str>;
}

impl Names for &str {
    fn names(&self) -> Vec<&str> {
        vec![self]
    }
}

impl<const N: usize> Names for [&str; N] {
    fn names(&self) -> Vec<&str> {
        self.to_vec()
    }
}

impl Names for &[&str] {
    fn names(&self) -> Vec<&str> {
        self.to_vec()
    }
}

impl Names for Vec<&str> {
    fn names(&self) -> Vec<&str> {
        self.clone()
    }
}

/// Tells whether a route matches an event (already of a kind its filter
/// accepts), and what it matched.
pub(crate) type Test = Box<dyn Fn(&Ctx) -> Option<Matched>>;

type HandlerFn = Box<dyn Fn(&mut Ctx) -> Result>;
type MiddlewareFn = Box<dyn Fn(&mut Ctx) -> Result<Flow>>;

/// What a route runs.
pub(crate) enum Run {
    Handler(HandlerFn),
    Middleware(MiddlewareFn),
}

/// A registered route; [`own`](Route::own) opts it in to messages this
/// account sent itself.
pub struct Route {
    filter: Filter,
    test: Option<Test>,
    run: Run,
    own: bool,
}

impl Route {
    /// Also run for messages this account sent itself (`from-me`), which
    /// every route skips by default so that a bot never answers itself.
    pub fn own(&mut self) -> &mut Self {
        self.own = true;
        self
    }
}

type Catch = Box<dyn Fn(&mut Ctx, Error) -> Result>;

/// The routes of a plugin, tried in registration order for every event.
/// A route handler that returns passes the event on to the next matching
/// route; [`Ctx::stop`] ends routing (and the plugin answers `flow::stop`).
#[derive(Default)]
pub struct Bot {
    routes: Vec<Route>,
    catch: Option<Catch>,
    /// What went wrong while adding routes (unknown filter, bad regex, ...).
    errors: Vec<String>,
}

impl Bot {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn add(&mut self, filter: Filter, test: Option<Test>, run: Run) -> &mut Route {
        self.routes.push(Route {
            filter,
            test,
            run,
            own: false,
        });
        self.routes.last_mut().expect("just pushed")
    }

    /// Records a registration error (the plugin's `init` fails with it) and
    /// returns a route that never runs, so that chained calls still work.
    pub(crate) fn refuse(&mut self, error: Error) -> &mut Route {
        self.errors.push(error.to_string());
        self.add(Filter::NONE, None, Run::Handler(Box::new(|_| Ok(()))))
    }

    pub(crate) fn handler<R: Outcome>(handler: impl Fn(&mut Ctx) -> R + 'static) -> Run {
        Run::Handler(Box::new(move |ctx| handler(ctx).into_result()))
    }

    /// Runs `handler` for events matching `filter`: a filter query
    /// (`"message:text"`, `"timer"`, `"*"`, ...) or several (any of them).
    /// An unknown query fails the plugin's `init` with a message naming it.
    pub fn on<R: Outcome>(&mut self, filter: impl Names, handler: impl Fn(&mut Ctx) -> R + 'static) -> &mut Route {
        match Filter::parse(&filter.names()) {
            Ok(filter) => self.add(filter, None, Self::handler(handler)),
            Err(error) => self.refuse(error),
        }
    }

    /// Runs `handler` for a text message that, trimmed, starts with `/name`
    /// or `!name` (any case; `name` may be several aliases) followed by the
    /// end or a space. Sets [`Ctx::command`], [`Ctx::matched`] (the rest)
    /// and [`Ctx::args`].
    pub fn command<R: Outcome>(&mut self, name: impl Names, handler: impl Fn(&mut Ctx) -> R + 'static) -> &mut Route {
        let names: Vec<String> = name.names().iter().map(|n| n.to_lowercase()).collect();
        if let Some(bad) = names.iter().find(|n| !command::valid_name(n)) {
            return self.refuse(Error::new(format!(
                "bot.command: invalid command name \"{bad}\" (give it without / or !, no spaces)"
            )));
        }
        if names.is_empty() {
            return self.refuse(Error::new("bot.command: no command name given"));
        }
        let test: Test = Box::new(move |ctx| {
            let (typed, rest) = command::token(ctx.text()?)?;
            let name = names.iter().find(|name| command::same_name(typed, name))?;
            Some(Matched::command(name, rest))
        });
        self.add(Filter::of(&[Kind::Text]), Some(test), Self::handler(handler))
    }

    /// Runs `middleware` for every event at its place in the route order:
    /// `Ok(Flow::Next)` goes on with the later routes, `Ok(Flow::Stop)` ends
    /// routing for this event (the plugin answers `flow::stop`).
    pub fn middleware(&mut self, middleware: impl Fn(&mut Ctx) -> Result<Flow> + 'static) -> &mut Route {
        self.add(Filter::ALL, None, Run::Middleware(Box::new(middleware)))
    }

    /// Handles an error out of any route instead of failing the event:
    /// routing of the event ends there, and the plugin answers `flow::stop`
    /// if the catcher called [`Ctx::stop`], else `flow::next`. An error the
    /// catcher returns fails the event.
    pub fn catch<R: Outcome>(&mut self, catcher: impl Fn(&mut Ctx, Error) -> R + 'static) {
        self.catch = Some(Box::new(move |ctx, error| catcher(ctx, error).into_result()));
    }

    /// The errors of adding routes, if any, as one error.
    pub fn check(&self) -> Result {
        match self.errors.as_slice() {
            [] => Ok(()),
            errors => Err(Error::new(errors.join("; "))),
        }
    }

    /// Runs the routes for the event of `ctx`; what the plugin answers.
    pub fn dispatch(&self, ctx: &mut Ctx) -> Result<Flow> {
        if let Err(error) = self.run(ctx) {
            match &self.catch {
                Some(catch) => catch(ctx, error)?,
                None => return Err(error),
            }
        }
        Ok(if ctx.stopped() { Flow::Stop } else { Flow::Next })
    }

    fn run(&self, ctx: &mut Ctx) -> Result {
        let kind = Kind::of(&ctx.event);
        let from_me = ctx.from_me();
        for route in &self.routes {
            if !route.filter.matches(kind) || (from_me && !route.own) {
                continue;
            }
            let matched = match &route.test {
                Some(test) => match test(ctx) {
                    Some(matched) => matched,
                    None => continue,
                },
                None => Matched::default(),
            };
            ctx.matched = matched;
            match &route.run {
                Run::Handler(handler) => handler(ctx)?,
                Run::Middleware(middleware) => {
                    if middleware(ctx)? == Flow::Stop {
                        ctx.stop();
                    }
                }
            }
            if ctx.stopped() {
                break;
            }
        }
        Ok(())
    }
}
