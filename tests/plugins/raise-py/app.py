"""`raise-py`: a Python plugin that raises, for the conformance test.

`!raise` -> raises a RuntimeError out of `handle` (the event must fail and
the session go on); `!ping` -> `pong`; anything else: nothing.
"""

from wit_world import exports
from wit_world.imports import messaging
# `purr_bot_types`: componentize-py renames purr:bot/types once the world also
# imports wasi:http (whose interface is also called `types`).
from wit_world.imports.purr_bot_types import Content_Text, Event_Message, Flow


class Handler(exports.Handler):
    def init(self) -> None:
        pass

    def handle(self, ctx, event) -> Flow:
        if isinstance(event, Event_Message) and not event.value.from_me and isinstance(event.value.content, Content_Text):
            if event.value.content.value == "!raise":
                raise RuntimeError("raised on purpose")
            if event.value.content.value == "!ping":
                messaging.send_text(event.value.chat, "pong")
        return Flow.NEXT
