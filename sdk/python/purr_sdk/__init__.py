"""purr_sdk: write purr plugins in Python.

    from purr_sdk import Bot

    bot = Bot()
    bot.command("ping", lambda ctx: ctx.reply("pong"))
    Handler = bot.handler()

Build with componentize-py, the SDK's directory on its path:
`componentize-py -d wit -w plugin componentize -p . -p <sdk> app -o bot.wasm`.
Outbound HTTP is in `purr_sdk.http`. Reference: sdk/python/README.md.
"""

from . import log
from .bot import FILTERS, Bot
from .context import Context
from .host import HostError
from .state import Config, Kv, config

__all__ = ["Bot", "Config", "Context", "FILTERS", "HostError", "Kv", "config", "log"]
