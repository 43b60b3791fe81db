"""`{{name}}`: a purr plugin in Python, on purr_sdk (`purr-sdk/`, its
reference in `purr-sdk/README.md`).

- `!ping` (or `/ping`) -> `pong`
- `!hello` -> the `greeting` setting (default `hello`)

A handler that raises fails the event (logged with the exception); the
session goes on with the next one.
"""

from purr_sdk import Bot

bot = Bot()

bot.command("ping", lambda ctx: ctx.reply("pong"))
bot.command("hello", lambda ctx: ctx.reply(ctx.config.get("greeting", "hello")))

Handler = bot.handler()
