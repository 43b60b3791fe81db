"""Logging into purr's logs (the `log` import), tagged by the host with the
session, plugin and event: `log.info("...")`, also reachable as `ctx.log`.

Only call it inside handlers: top-level code runs at build time, where
there is no host.
"""

from .host import log as _host

_Level = _host.Level


def trace(message) -> None:
    """Writes `message` at level trace."""
    _host.log(_Level.TRACE, str(message))


def debug(message) -> None:
    """Writes `message` at level debug."""
    _host.log(_Level.DEBUG, str(message))


def info(message) -> None:
    """Writes `message` at level info."""
    _host.log(_Level.INFO, str(message))


def warn(message) -> None:
    """Writes `message` at level warn."""
    _host.log(_Level.WARN, str(message))


warning = warn


def error(message) -> None:
    """Writes `message` at level error."""
    _host.log(_Level.ERROR, str(message))
