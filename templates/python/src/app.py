"""`{{name}}`: a purr plugin in Python (see wit/purr.wit for everything it can do).

- `!ping` -> `pong`
- `!hello` -> the `greeting` setting (default `hello`)

Imports returning `result<T, string>` return T or raise `Err`; `handle`
returns its `ok` value (raise `componentize_py_types.Err("...")` for `err`;
any other exception traps the instance: the event fails, the next one gets
a fresh instance).
"""

from wit_world import exports
from wit_world.imports import config, messaging
from wit_world.imports.types import Content_Text, Event_Message, Flow


class Handler(exports.Handler):
    def init(self) -> None:
        pass

    def handle(self, ctx, event) -> Flow:
        if not isinstance(event, Event_Message) or event.value.from_me:
            return Flow.NEXT
        if not isinstance(event.value.content, Content_Text):
            return Flow.NEXT
        text = event.value.content.value.strip()
        if text == "!ping":
            reply = "pong"
        elif text == "!hello":
            greeting = config.get("greeting")
            reply = "hello" if greeting is None else greeting
        else:
            return Flow.NEXT
        messaging.send_text(event.value.chat, reply)
        return Flow.NEXT
