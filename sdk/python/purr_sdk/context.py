"""`Context`: one per event, what the event says (`ctx.text`, `ctx.chat`,
...) and what a handler can do about it (`ctx.reply`, `ctx.kv`, `ctx.later`,
...). Every action raises `HostError` when the host refuses it.
"""

import json

from . import log as _log
from .host import call, messaging, timers, types
from .state import Kv, config as _config, encode_json
from .text import command_token, trim

_MEDIA_KINDS = {kind.name.lower(): kind for kind in messaging.MediaKind}


class Context:
    """One event and what a handler can do with it.

    Always set: `event` (the raw WIT event), `session`, `event_id`,
    `self_jid`. For a message: `message` (the raw WIT message), `text` (text
    or extended text; None for anything else, media captions included),
    `chat`, `sender`, `from_me`, `is_group`, `id`, `push_name`. For a
    receipt or chat-state update `chat` and `sender`, for a group update
    `chat` (the group), for a presence `sender`. For a timer `timer_id` and
    `payload` (decoded JSON; the raw string when it is not JSON).

    Set by the matching route: `match` (a command's rest, or the `re.Match`
    of `hears`), `args` (a command's arguments) and `command`.
    """

    __slots__ = (
        "event", "session", "event_id", "self_jid", "message", "text", "chat", "sender",
        "from_me", "is_group", "id", "push_name", "timer_id", "payload", "match", "args",
        "command", "stopped", "_trimmed", "_token", "_kv", "_chat_kv", "_sender_kv",
    )

    config = _config
    log = _log

    def __init__(self, context, event):
        self.event = event
        self.session = context.session
        self.event_id = context.event_id
        self.self_jid = context.self_jid
        self.message = self.text = self.chat = self.sender = None
        self.id = self.push_name = self.timer_id = self.payload = None
        self.from_me = self.is_group = False
        self.match = self.command = None
        self.args = []
        self.stopped = False
        self._trimmed = self._kv = self._chat_kv = self._sender_kv = None
        self._token = False  # not computed yet
        value = getattr(event, "value", None)
        if isinstance(event, types.Event_Message):
            self.message = value
            self.chat = value.chat
            self.sender = value.sender
            self.from_me = value.from_me
            self.is_group = value.is_group
            self.id = value.id
            self.push_name = value.push_name
            content = value.content
            if isinstance(content, types.Content_Text):
                self.text = content.value
            elif isinstance(content, types.Content_ExtendedText):
                self.text = content.value.text
        elif isinstance(event, types.Event_Timer):
            self.timer_id = value.id
            try:
                self.payload = json.loads(value.payload)
            except ValueError:
                self.payload = value.payload
        elif isinstance(event, (types.Event_Receipt, types.Event_ChatState)):
            self.chat = value.chat
            self.sender = value.sender
        elif isinstance(event, types.Event_GroupUpdate):
            self.chat = value.group
        elif isinstance(event, types.Event_Presence):
            self.sender = value.sender

    def trimmed_text(self):
        """`text` without White_Space at either end (None when not text)."""
        if self._trimmed is None and self.text is not None:
            self._trimmed = trim(self.text)
        return self._trimmed

    def command_token(self):
        """`(name, rest)` when the text is a command (`text.command_token`), else None."""
        if self._token is False:
            text = self.trimmed_text()
            self._token = command_token(text) if text and text[0] in "/!" else None
        return self._token

    # ------------------------------------------------------------ routing
    def stop(self) -> None:
        """Ends routing for this event: no later route runs and the plugin
        answers `flow::stop` (later plugins of the chain do not see it)."""
        self.stopped = True

    # ------------------------------------------------------------ actions
    def _need_chat(self, what: str) -> str:
        if self.chat is None:
            raise RuntimeError(f"ctx.{what}: this event has no chat")
        return self.chat

    def _need_message(self, what: str):
        if self.message is None:
            raise RuntimeError(f"ctx.{what}: this event is not a message")
        return self.message

    def reply(self, text: str) -> str:
        """Sends `text` to the chat, quoting the message; returns its id."""
        message = self._need_message("reply")
        return call(messaging.reply, message.chat, message.id, text)

    def send(self, text: str) -> str:
        """Sends `text` to the event's chat; returns the new message's id."""
        return call(messaging.send_text, self._need_chat("send"), text)

    def send_to(self, chat: str, text: str) -> str:
        """Sends `text` to `chat`; returns the new message's id."""
        return call(messaging.send_text, chat, text)

    def react(self, emoji: str) -> None:
        """Reacts to the message with `emoji` (empty: removes the reaction)."""
        message = self._need_message("react")
        call(messaging.react, message.chat, message.id, emoji)

    def send_media(self, kind, data: bytes, mime: str, caption=None, file_name=None) -> str:
        """Uploads `data` and sends it to the chat as `kind` (`"image"`,
        `"video"`, `"audio"`, `"document"`, `"sticker"` or a `MediaKind`)."""
        if isinstance(kind, str):
            try:
                kind = _MEDIA_KINDS[kind.lower()]
            except KeyError:
                raise ValueError(f"unknown media kind {kind!r}; known: {', '.join(_MEDIA_KINDS)}") from None
        return call(messaging.send_media, self._need_chat("send_media"), kind, bytes(data), mime, caption, file_name)

    def download(self) -> bytes:
        """The bytes of the message's media."""
        content = self._need_message("download").content
        media = getattr(content, "value", None)
        if not isinstance(media, types.Media):
            raise RuntimeError("ctx.download: this message has no media")
        return call(messaging.download_media, media.handle)

    def mark_read(self) -> None:
        """Marks the message as read."""
        message = self._need_message("mark_read")
        call(messaging.mark_read, message.chat, message.sender, [message.id])

    # ------------------------------------------------------------ state
    @property
    def kv(self) -> Kv:
        """JSON values of this plugin in this session."""
        if self._kv is None:
            self._kv = Kv("")
        return self._kv

    @property
    def chat_kv(self) -> Kv:
        """JSON values of this chat (keys stored as `chat/<chat>/<key>`)."""
        if self._chat_kv is None:
            self._chat_kv = Kv(f"chat/{self._need_chat('chat_kv')}/")
        return self._chat_kv

    @property
    def sender_kv(self) -> Kv:
        """JSON values of this sender (keys stored as `sender/<sender>/<key>`)."""
        if self._sender_kv is None:
            if self.sender is None:
                raise RuntimeError("ctx.sender_kv: this event has no sender")
            self._sender_kv = Kv(f"sender/{self.sender}/")
        return self._sender_kv

    # ------------------------------------------------------------ timers
    def later(self, ms: int, payload=None) -> str:
        """Schedules a timer event `ms` from now carrying `payload` (encoded
        as JSON); returns the timer's id."""
        return call(timers.schedule, int(ms), encode_json(payload))

    def cancel(self, timer_id: str) -> bool:
        """Cancels a pending timer; returns whether it was pending."""
        return call(timers.cancel, timer_id)

    def __repr__(self) -> str:
        return f"<Context {self.event_id} {type(self.event).__name__}>"
