"""A fake `wit_world` (and `componentize_py_types`) for the SDK's unit tests:
the names componentize-py generates for wit/purr.wit, backed by an
in-memory host (`HOST`: kv dict, config dict, recorded sends, timers, logs).

Import this module before `purr_sdk`; it also puts sdk/python on sys.path.
"""

import enum
import os
import sys
import types as pytypes
from dataclasses import dataclass
from typing import Generic, List, Optional, TypeVar

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def _module(name, **attrs):
    module = pytypes.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


# ---------------------------------------------------------------- componentize_py_types
E = TypeVar("E")


@dataclass(frozen=True)
class Err(Generic[E], Exception):
    value: E


@dataclass
class Ok(Generic[E]):
    value: E


_module("componentize_py_types", Err=Err, Ok=Ok)

# ---------------------------------------------------------------- purr:bot/types
T = _module("wit_world.imports.purr_bot_types")


def _variant(name, *fields):
    cls = dataclass(type(name, (), {"__annotations__": {f: object for f in fields}}))
    setattr(T, name, cls)
    return cls


for _name, _fields in {
    "Media": ("handle", "mime", "size", "caption", "file_name", "seconds"),
    "ExtendedText": ("text", "preview_url", "preview_title"),
    "Location": ("latitude", "longitude", "name", "address"),
    "Contact": ("display_name", "vcard"),
    "Reaction": ("target_id", "emoji"),
    "Message": ("id", "chat", "sender", "from_me", "timestamp_ms", "push_name", "is_group", "quoted_id", "content"),
    "Receipt": ("chat", "sender", "message_ids", "kind", "timestamp_ms"),
    "Presence": ("sender", "available", "last_seen_ms"),
    "ChatStateUpdate": ("chat", "sender", "state"),
    "GroupUpdate": ("group", "author", "change", "timestamp_ms"),
    "QrCode": ("code", "expires_in_ms"),
    "TimerFired": ("id", "payload"),
    "Context": ("session", "event_id", "self_jid"),
}.items():
    _variant(_name, *_fields)
for _case in ("Text", "ExtendedText", "Image", "Video", "Audio", "Document", "Sticker",
              "Location", "Contact", "Reaction", "Unknown"):
    _variant(f"Content_{_case}", "value")
for _case in ("Added", "Removed", "Subject", "Other"):
    _variant(f"GroupChange_{_case}", "value")
_variant("Event_Started")
for _case in ("Qr", "PairCode", "Connected", "Disconnected", "LoggedOut", "Message", "Receipt",
              "Presence", "ChatState", "GroupUpdate", "Timer"):
    _variant(f"Event_{_case}", "value")
T.Flow = enum.Enum("Flow", {"NEXT": 0, "STOP": 1})
T.ReceiptKind = enum.Enum("ReceiptKind", {"DELIVERED": 0, "READ": 1, "PLAYED": 2, "RETRY": 3})
T.ChatState = enum.Enum("ChatState", {"COMPOSING": 0, "RECORDING": 1, "PAUSED": 2})


# ---------------------------------------------------------------- the host
class Host:
    """What the fake imports do: state to set up and effects to check."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.kv = {}  # key -> bytes
        self.config = {}  # key -> str, or list of str
        self.sent = []  # ("text", chat, text) / ("reply", chat, quoted, text) / ...
        self.timers = {}  # id -> (after_ms, payload)
        self.logs = []  # (level name, message)
        self.fail = None  # an error string every messaging call answers

    def _send(self, *record):
        if self.fail is not None:
            raise Err(self.fail)
        self.sent.append(record)
        return f"sent-{len(self.sent)}"


HOST = Host()

MediaKind = enum.Enum("MediaKind", {"IMAGE": 0, "VIDEO": 1, "AUDIO": 2, "DOCUMENT": 3, "STICKER": 4})
messaging = _module(
    "wit_world.imports.messaging",
    MediaKind=MediaKind,
    send_text=lambda chat, text: HOST._send("text", chat, text),
    reply=lambda chat, quoted, text: HOST._send("reply", chat, quoted, text),
    react=lambda chat, target, emoji: HOST._send("react", chat, target, emoji) and None,
    send_media=lambda chat, kind, data, mime, caption, file_name: HOST._send(
        "media", chat, kind, data, mime, caption, file_name),
    mark_read=lambda chat, sender, ids: HOST._send("read", chat, sender, ids) and None,
    download_media=lambda handle: b"bytes of " + handle.encode(),
)


def _kv_set(key, value):
    assert isinstance(value, bytes), value
    HOST.kv[key] = value


def _kv_delete(key):
    return HOST.kv.pop(key, None) is not None


kv = _module(
    "wit_world.imports.kv",
    get=lambda key: HOST.kv.get(key),
    set=_kv_set,
    delete=_kv_delete,
    list_keys=lambda prefix: sorted(k for k in HOST.kv if k.startswith(prefix)),
)


def _config_get(key):
    value = HOST.config.get(key)
    if isinstance(value, list):
        return "[" + ",".join(f'"{v}"' for v in value) + "]"
    return value


def _config_list(key):
    value = HOST.config.get(key)
    return list(value) if isinstance(value, list) else None


def _all_json():
    import json

    return json.dumps(HOST.config)


config = _module(
    "wit_world.imports.config",
    get=_config_get,
    get_list=_config_list,
    keys=lambda: sorted(HOST.config),
    all_json=_all_json,
)


def _schedule(after_ms, payload):
    assert isinstance(payload, str)
    timer_id = f"timer-{len(HOST.timers) + 1}"
    HOST.timers[timer_id] = (after_ms, payload)
    return timer_id


timers = _module(
    "wit_world.imports.timers",
    schedule=_schedule,
    cancel=lambda timer_id: HOST.timers.pop(timer_id, None) is not None,
)

Level = enum.Enum("Level", {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4})
log = _module("wit_world.imports.log", Level=Level, log=lambda level, message: HOST.logs.append((level.name, message)))


class Handler:
    """Stands in for the generated `exports.Handler` protocol."""


exports = _module("wit_world.exports", Handler=Handler)
imports = _module("wit_world.imports", purr_bot_types=T, messaging=messaging, kv=kv, config=config,
                  timers=timers, log=log)
_module("wit_world", exports=exports, imports=imports)


# ---------------------------------------------------------------- events
CTX = T.Context(session="s", event_id="e1", self_jid="me@sim")


def message(content, chat="user@sim", sender=None, from_me=False, id="m1", is_group=None):
    """An `Event_Message`; a str content is a plain text."""
    if isinstance(content, str):
        content = T.Content_Text(content)
    return T.Event_Message(T.Message(
        id=id, chat=chat, sender=sender or chat, from_me=from_me, timestamp_ms=1, push_name="Pat",
        is_group=chat.startswith("group") if is_group is None else is_group, quoted_id=None,
        content=content))


def image(caption=None, chat="user@sim"):
    media = T.Media(handle="h1", mime="image/jpeg", size=3, caption=caption, file_name=None, seconds=None)
    return message(T.Content_Image(media), chat=chat)
