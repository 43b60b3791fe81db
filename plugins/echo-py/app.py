"""`echo-py`: the `echo` example bot in Python, on purr_sdk (sdk/python).

Same behaviour as the Rust `plugins/echo` (tests/conformance.rs):
- `!ping` -> `pong`
- `!echo <text>` -> `<text>`
- `!count` -> how many messages this plugin has seen in this chat of this
  session, this one included (JSON number in `ctx.chat_kv`, key `count`)
- `!hello` -> the `greeting` setting (default `hello`)
Other messages get no answer; messages this account sent itself are ignored.
"""

from purr_sdk import Bot

bot = Bot()


@bot.use
def count(ctx, next):
    if ctx.message is not None:
        ctx.chat_kv.set("count", ctx.chat_kv.get("count", 0) + 1)
    next()


bot.command("ping", lambda ctx: ctx.send("pong"))
bot.command("count", lambda ctx: ctx.send(str(ctx.chat_kv.get("count"))))
bot.command("hello", lambda ctx: ctx.send(ctx.config.get("greeting", "hello")))


@bot.command("echo")
def echo(ctx):
    if ctx.match:
        ctx.send(ctx.match)


Handler = bot.handler()
