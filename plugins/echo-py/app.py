"""`echo-py`: the `echo` example bot in Python, built with componentize-py.

Same behaviour as the Rust `plugins/echo`:
- `!ping` -> `pong`
- `!echo <text>` -> `<text>`
- `!count` -> how many messages this plugin has seen in this chat of this
  session, this one included (kept in kv under `count/<chat>`)
- `!hello` -> the `greeting` setting (default `hello`)
Other messages get no answer; messages this account sent itself are ignored.

WIT mapping (componentize-py): the bindings module is `wit_world`; an import
returning `result<T, string>` returns T or raises `Err(string)`; an export
returns its `ok` value and raises `Err(...)` for `err` (any other exception
traps the instance). Variants are one dataclass per case (`Content_Text`).
"""

from wit_world import exports
from wit_world.imports import config, kv, messaging
from wit_world.imports.types import Content_ExtendedText, Content_Text, Event_Message, Flow


# Unicode White_Space, as Rust's `str::trim` uses it (Python's own `strip()`
# also strips U+001C..U+001F).
WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000"


def count_message(chat: str) -> int:
    """Counts one more message in `chat`; returns the new count."""
    key = f"count/{chat}"
    stored = kv.get(key)
    seen = 0
    if stored is not None:
        text = stored.decode("utf-8", errors="replace")
        digits = text[1:] if text.startswith("+") else text
        if digits.isascii() and digits.isdigit():
            seen = int(digits)
    seen += 1
    kv.set(key, str(seen).encode())
    return seen


def text_of(content) -> str | None:
    if isinstance(content, Content_Text):
        return content.value
    if isinstance(content, Content_ExtendedText):
        return content.value.text
    return None


def answer(message) -> None:
    seen = count_message(message.chat)
    raw = text_of(message.content)
    if raw is None:
        return
    text = raw.strip(WHITESPACE)
    if text == "!ping":
        reply = "pong"
    elif text.startswith("!echo "):
        reply = text[len("!echo "):]
    elif text == "!count":
        reply = str(seen)
    elif text == "!hello":
        greeting = config.get("greeting")
        reply = "hello" if greeting is None else greeting
    else:
        return
    messaging.send_text(message.chat, reply)


class Handler(exports.Handler):
    def init(self) -> None:
        pass

    def handle(self, ctx, event) -> Flow:
        if isinstance(event, Event_Message) and not event.value.from_me:
            answer(event.value)
        return Flow.NEXT
