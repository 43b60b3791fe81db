"""`ctx` (purr_sdk.context / purr_sdk.state): event fields, actions, kv
scopes as JSON, config getters, timers and logging."""

import json
import unittest

from fake_wit import CTX, HOST, T, Err, image, message
from purr_sdk import Bot, HostError, config, log
from purr_sdk.context import Context


def ctx_for(event):
    return Context(CTX, event)


class Fields(unittest.TestCase):
    def test_message(self):
        ctx = ctx_for(message("  hi  ", chat="group1@sim", sender="alice@sim", id="m7"))
        self.assertEqual((ctx.session, ctx.event_id, ctx.self_jid), ("s", "e1", "me@sim"))
        self.assertEqual((ctx.chat, ctx.sender, ctx.id, ctx.push_name), ("group1@sim", "alice@sim", "m7", "Pat"))
        self.assertEqual((ctx.text, ctx.is_group, ctx.from_me), ("  hi  ", True, False))
        self.assertIs(ctx.message, ctx.event.value)

    def test_text_is_none_for_media_even_with_a_caption(self):
        ctx = ctx_for(image(caption="hello"))
        self.assertIsNone(ctx.text)
        self.assertEqual(ctx.chat, "user@sim")

    def test_other_events(self):
        receipt = ctx_for(T.Event_Receipt(T.Receipt("c@sim", "r@sim", ["m"], T.ReceiptKind.READ, 1)))
        self.assertEqual((receipt.chat, receipt.sender, receipt.message), ("c@sim", "r@sim", None))
        group = ctx_for(T.Event_GroupUpdate(T.GroupUpdate("g@sim", "a@sim", T.GroupChange_Added(["b@sim"]), 1)))
        self.assertEqual(group.chat, "g@sim")
        presence = ctx_for(T.Event_Presence(T.Presence("p@sim", True, None)))
        self.assertEqual((presence.chat, presence.sender), (None, "p@sim"))
        started = ctx_for(T.Event_Started())
        self.assertEqual((started.chat, started.text, started.args, started.match), (None, None, [], None))

    def test_timer_payload_json_or_raw(self):
        ctx = ctx_for(T.Event_Timer(T.TimerFired("t9", '{"chat": "c@sim", "n": [1, 2]}')))
        self.assertEqual((ctx.timer_id, ctx.payload), ("t9", {"chat": "c@sim", "n": [1, 2]}))
        self.assertEqual(ctx_for(T.Event_Timer(T.TimerFired("t", "hourly"))).payload, "hourly")
        self.assertEqual(ctx_for(T.Event_Timer(T.TimerFired("t", ""))).payload, "")


class Actions(unittest.TestCase):
    def setUp(self):
        HOST.reset()
        self.ctx = ctx_for(message("x", chat="c@sim", sender="s@sim", id="m1"))

    def test_sends(self):
        self.assertEqual(self.ctx.reply("quoted"), "sent-1")
        self.ctx.send("plain")
        self.ctx.send_to("other@sim", "elsewhere")
        self.ctx.react("👍")
        self.ctx.mark_read()
        self.assertEqual(HOST.sent, [
            ("reply", "c@sim", "m1", "quoted"),
            ("text", "c@sim", "plain"),
            ("text", "other@sim", "elsewhere"),
            ("react", "c@sim", "m1", "👍"),
            ("read", "c@sim", "s@sim", ["m1"]),
        ])

    def test_media(self):
        import fake_wit

        self.ctx.send_media("image", b"\x89PNG", "image/png", caption="look")
        self.ctx.send_media(fake_wit.MediaKind.DOCUMENT, bytearray(b"%PDF"), "application/pdf", file_name="a.pdf")
        self.assertEqual(HOST.sent, [
            ("media", "c@sim", fake_wit.MediaKind.IMAGE, b"\x89PNG", "image/png", "look", None),
            ("media", "c@sim", fake_wit.MediaKind.DOCUMENT, b"%PDF", "application/pdf", None, "a.pdf"),
        ])
        with self.assertRaises(ValueError):
            self.ctx.send_media("gif", b"", "image/gif")

    def test_download(self):
        self.assertEqual(ctx_for(image()).download(), b"bytes of h1")
        with self.assertRaisesRegex(RuntimeError, "no media"):
            self.ctx.download()

    def test_host_error(self):
        HOST.fail = "unsupported by channel: react"
        with self.assertRaises(HostError) as raised:
            self.ctx.react("x")
        self.assertEqual(str(raised.exception), "unsupported by channel: react")

    def test_actions_without_a_message_or_chat(self):
        ctx = ctx_for(T.Event_Started())
        for action in (lambda: ctx.reply("x"), lambda: ctx.send("x"), lambda: ctx.react("x"), lambda: ctx.mark_read()):
            with self.assertRaises(RuntimeError):
                action()
        ctx.send_to("a@sim", "from a status event")
        self.assertEqual(HOST.sent, [("text", "a@sim", "from a status event")])


class KvScopes(unittest.TestCase):
    def setUp(self):
        HOST.reset()
        self.ctx = ctx_for(message("x", chat="group1@sim", sender="alice@sim"))

    def test_json_values_in_three_scopes(self):
        self.ctx.kv.set("count", 3)
        self.ctx.chat_kv.set("count", {"n": 1, "who": ["ü"]})
        self.ctx.sender_kv.set("count", "text")
        self.assertEqual(HOST.kv, {
            "count": b"3",
            "chat/group1@sim/count": '{"n":1,"who":["ü"]}'.encode(),
            "sender/alice@sim/count": b'"text"',
        })
        self.assertEqual(self.ctx.kv.get("count"), 3)
        self.assertEqual(self.ctx.chat_kv.get("count"), {"n": 1, "who": ["ü"]})
        self.assertEqual(self.ctx.sender_kv.get("count"), "text")

    def test_default_delete_and_keys(self):
        self.assertIsNone(self.ctx.chat_kv.get("missing"))
        self.assertEqual(self.ctx.chat_kv.get("missing", 0), 0)
        for key in ("b", "a/1", "a/2"):
            self.ctx.chat_kv.set(key, True)
        self.ctx.kv.set("a/0", None)
        self.assertIsNone(self.ctx.kv.get("a/0", "default"), "a stored null is not missing")
        self.assertEqual(self.ctx.chat_kv.keys(), ["a/1", "a/2", "b"])
        self.assertEqual(self.ctx.chat_kv.keys("a/"), ["a/1", "a/2"])
        self.assertEqual(self.ctx.kv.keys("a/"), ["a/0"])
        self.assertTrue(self.ctx.chat_kv.delete("b"))
        self.assertFalse(self.ctx.chat_kv.delete("b"))
        self.assertNotIn("chat/group1@sim/b", HOST.kv)

    def test_scopes_follow_the_event(self):
        other = ctx_for(message("x", chat="user@sim"))
        self.ctx.chat_kv.set("count", 5)
        self.assertIsNone(other.chat_kv.get("count"))
        self.assertIsNone(self.ctx.kv.get("count"))

    def test_whole_numbers_read_and_written_as_json_would(self):
        # Counters skip the JSON codec; what is stored and read back must not change.
        for value in (0, 7, 10**30, -3, True, False, 2.0):
            self.ctx.kv.set("n", value)
            self.assertEqual(HOST.kv["n"], json.dumps(value).encode(), value)
            got = self.ctx.kv.get("n")
            self.assertEqual((got, type(got)), (value, type(value)))
        for raw, value in ((b"0", 0), (b"42", 42), (b"-5", -5), (b"1e3", 1000.0), (b"12.5", 12.5)):
            HOST.kv["n"] = raw
            got = self.ctx.kv.get("n")
            self.assertEqual((got, type(got)), (value, type(value)), raw)
        HOST.kv["n"] = b"007"  # not JSON (a leading zero): an error, as it always was
        with self.assertRaisesRegex(ValueError, "'n'"):
            self.ctx.kv.get("n")

    def test_not_json(self):
        HOST.kv["raw"] = b"not json"
        with self.assertRaisesRegex(ValueError, "'raw'"):
            self.ctx.kv.get("raw")

    def test_no_chat(self):
        with self.assertRaisesRegex(RuntimeError, "no chat"):
            ctx_for(T.Event_Started()).chat_kv.get("x")


class Config(unittest.TestCase):
    def setUp(self):
        HOST.reset()
        HOST.config.update({"name": "cat", "n": "42", "neg": "-7", "f": "2.5", "yes": "true",
                            "no": "false", "list": ["a", "b"], "table": '{"a":1}'})

    def test_getters(self):
        ctx = ctx_for(message("x"))
        self.assertIs(ctx.config, config)
        self.assertEqual(config.get("name"), "cat")
        self.assertEqual(config.get("missing", "dflt"), "dflt")
        self.assertIsNone(config.get("missing"))
        self.assertEqual((config.get_int("n"), config.get_int("neg"), config.get_int("missing", 1)), (42, -7, 1))
        self.assertEqual((config.get_float("f"), config.get_float("n")), (2.5, 42.0))
        self.assertEqual((config.get_bool("yes"), config.get_bool("no"), config.get_bool("x", True)), (True, False, True))
        self.assertEqual(config.get_list("list"), ["a", "b"])
        self.assertEqual(config.get_list("missing", []), [])
        self.assertEqual(config.keys(), sorted(HOST.config))
        self.assertEqual(config.json()["list"], ["a", "b"])
        self.assertEqual(config.all(), config.json())

    def test_ill_typed_values_name_the_key(self):
        for getter, key in ((config.get_int, "name"), (config.get_int, "f"), (config.get_float, "yes"),
                            (config.get_bool, "n"), (config.get_list, "name")):
            with self.assertRaises(ValueError) as raised:
                getter(key)
            self.assertIn(repr(key), str(raised.exception), getter.__name__)


class TimersAndLog(unittest.TestCase):
    def setUp(self):
        HOST.reset()

    def test_later_encodes_json_and_cancel(self):
        ctx = ctx_for(message("x"))
        first = ctx.later(1500, {"chat": "c@sim", "text": "tea ☕"})
        second = ctx.later(10, "plain")
        self.assertEqual(HOST.timers[first], (1500, '{"chat":"c@sim","text":"tea ☕"}'))
        self.assertEqual(HOST.timers[second], (10, '"plain"'))
        self.assertTrue(ctx.cancel(first))
        self.assertFalse(ctx.cancel(first))

    def test_a_timer_round_trip_through_the_bot(self):
        bot = Bot()
        bot.command("later", lambda ctx: ctx.later(5, {"chat": ctx.chat, "text": ctx.match}))
        bot.on("timer", lambda ctx: ctx.send_to(ctx.payload["chat"], "⏰ " + ctx.payload["text"]))
        bot.dispatch(CTX, message("!later tea", chat="c@sim"))
        (timer_id, (_, payload)), = HOST.timers.items()
        bot.dispatch(CTX, T.Event_Timer(T.TimerFired(timer_id, payload)))
        self.assertEqual(HOST.sent, [("text", "c@sim", "⏰ tea")])

    def test_log(self):
        log.info("one")
        ctx_for(message("x")).log.warn(2)
        log.error("three")
        self.assertEqual(HOST.logs, [("INFO", "one"), ("WARN", "2"), ("ERROR", "three")])


if __name__ == "__main__":
    unittest.main()
