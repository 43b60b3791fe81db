"""The generated bindings (`wit_world`, made by componentize-py at build
time) in one place, and `HostError` for the errors purr's imports return.

componentize-py names the purr types module `purr_bot_types` when the world
also imports WASI's `types` (purr:bot@0.1.1 and later), `types` before.
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import config, kv, log, messaging, timers

try:
    from wit_world.imports import purr_bot_types as types
except ImportError:  # a world without wasi:http (purr:bot@0.1.0)
    from wit_world.imports import types

__all__ = ["Err", "HostError", "call", "config", "exports", "kv", "log", "messaging", "timers", "types"]


class HostError(Exception):
    """An import of purr answered `err` (a quota, a refused send, ...)."""


def call(function, *args):
    """`function(*args)`, an import; its `err` is raised as `HostError`."""
    try:
        return function(*args)
    except Err as error:
        raise HostError(str(error.value)) from None
