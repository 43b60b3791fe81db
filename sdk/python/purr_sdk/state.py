"""State and settings: JSON values in the plugin's kv store (`Kv`, scoped to
the session, a chat or a sender) and the plugin's config table (`Config`).
"""

import json

from .host import call, config as _config, kv as _kv

# Compact UTF-8 JSON; one encoder (json.dumps with options builds one per call).
encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_decode_json = json.JSONDecoder().decode


class Kv:
    """JSON values in the host kv under `prefix` (`""`, `chat/<chat>/` or
    `sender/<sender>/`); keys are given and returned without the prefix.

    Values are stored as UTF-8 JSON text. Writes made while handling an
    event are rolled back when the event fails.
    """

    __slots__ = ("prefix",)

    def __init__(self, prefix: str = ""):
        self.prefix = prefix

    def get(self, key: str, default=None):
        """The decoded value of `key`, or `default` when it is not set."""
        raw = call(_kv.get, self.prefix + key)
        if raw is None:
            return default
        if raw.isdigit() and (raw[0] != 48 or len(raw) == 1):
            return int(raw)  # a counter: what JSON makes of it, without the decoder
        try:
            return _decode_json(raw.decode("utf-8"))
        except ValueError as error:
            raise ValueError(f"kv key {self.prefix + key!r} does not hold JSON: {error}") from None

    def set(self, key: str, value) -> None:
        """Stores `value` (anything `json.dumps` takes) under `key`."""
        raw = str(value).encode() if type(value) is int else encode_json(value).encode("utf-8")
        call(_kv.set, self.prefix + key, raw)

    def delete(self, key: str) -> bool:
        """Removes `key`; returns whether it was set."""
        return call(_kv.delete, self.prefix + key)

    def keys(self, prefix: str = "") -> list:
        """The keys that start with `prefix`, in ascending order."""
        skip = len(self.prefix)
        return [key[skip:] for key in call(_kv.list_keys, self.prefix + prefix)]


class Config:
    """The plugin's settings (its `config` table, with the session's
    overrides). A value present but of the wrong type raises `ValueError`
    naming the key; a missing one gives `default`.
    """

    __slots__ = ()

    def get(self, key: str, default=None):
        """The value as a string (numbers and booleans in their TOML
        spelling, arrays and tables as JSON), or `default`."""
        value = _config.get(key)
        return default if value is None else value

    def get_int(self, key: str, default=None):
        """The value as an int, or `default`."""
        value = _config.get(key)
        if value is None:
            return default
        digits = value[1:] if value[:1] in "+-" else value
        if not (digits.isascii() and digits.replace("_", "").isdigit()):
            raise ValueError(f"config key {key!r}: expected an integer, got {value!r}")
        return int(value)

    def get_float(self, key: str, default=None):
        """The value as a float (integers too), or `default`."""
        value = _config.get(key)
        if value is None:
            return default
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"config key {key!r}: expected a number, got {value!r}") from None

    def get_bool(self, key: str, default=None):
        """The value as a bool (`true`/`false`), or `default`."""
        value = _config.get(key)
        if value is None:
            return default
        if value == "true":
            return True
        if value == "false":
            return False
        raise ValueError(f"config key {key!r}: expected true or false, got {value!r}")

    def get_list(self, key: str, default=None):
        """The value as a list of strings (an array of scalars), or `default`."""
        value = _config.get_list(key)
        if value is not None:
            return value
        if _config.get(key) is None:
            return default
        raise ValueError(f"config key {key!r}: expected an array of scalars, got {_config.get(key)!r}")

    def keys(self) -> list:
        """The names of all settings, in ascending order."""
        return _config.keys()

    def json(self) -> dict:
        """The whole table, decoded from JSON."""
        return json.loads(_config.all_json())

    all = json


config = Config()
