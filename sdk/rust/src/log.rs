//! Logging into the host's logs, where each record is tagged with the
//! session, plugin and event: `purr_sdk::log::info(..)` or `ctx.log.info(..)`.

use crate::bindings::purr::bot::log::{Level, log};

pub fn trace(message: impl AsRef<str>) {
    log(Level::Trace, message.as_ref());
}

pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message.as_ref());
}

pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message.as_ref());
}

pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message.as_ref());
}

pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message.as_ref());
}

/// The same functions as methods, for `ctx.log.info(..)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Log;

impl Log {
    pub fn trace(&self, message: impl AsRef<str>) {
        trace(message);
    }

    pub fn debug(&self, message: impl AsRef<str>) {
        debug(message);
    }

    pub fn info(&self, message: impl AsRef<str>) {
        info(message);
    }

    pub fn warn(&self, message: impl AsRef<str>) {
        warn(message);
    }

    pub fn error(&self, message: impl AsRef<str>) {
        error(message);
    }
}
