"""Routing (purr_sdk.bot): filters, commands, hears, middleware, stop,
own messages, registration errors and exceptions turned into WIT `err`."""

import re
import unittest

import fake_wit
from fake_wit import CTX, HOST, T, Err, image, message
from purr_sdk import Bot

NEXT, STOP = T.Flow.NEXT, T.Flow.STOP


def receipt():
    return T.Event_Receipt(T.Receipt(chat="user@sim", sender="user@sim", message_ids=["m0"],
                                     kind=T.ReceiptKind.READ, timestamp_ms=1))


def every_event():
    """One event of each kind, with the filter query naming exactly it."""
    media = T.Media(handle="h", mime="x/y", size=1, caption=None, file_name=None, seconds=None)
    return {
        "message:text": message("hi"),
        "message:image": message(T.Content_Image(media)),
        "message:video": message(T.Content_Video(media)),
        "message:audio": message(T.Content_Audio(media)),
        "message:document": message(T.Content_Document(media)),
        "message:sticker": message(T.Content_Sticker(media)),
        "message:location": message(T.Content_Location(T.Location(1.0, 2.0, None, None))),
        "message:contact": message(T.Content_Contact(T.Contact("Pat", "BEGIN:VCARD"))),
        "message:reaction": message(T.Content_Reaction(T.Reaction("m0", "👍"))),
        "message:unknown": message(T.Content_Unknown("poll")),
        "receipt": receipt(),
        "presence": T.Event_Presence(T.Presence("user@sim", True, None)),
        "chat-state": T.Event_ChatState(T.ChatStateUpdate("user@sim", "user@sim", T.ChatState.COMPOSING)),
        "group-update": T.Event_GroupUpdate(T.GroupUpdate("group@sim", None, T.GroupChange_Subject("x"), 1)),
        "started": T.Event_Started(),
        "qr": T.Event_Qr(T.QrCode("code", 1000)),
        "pair-code": T.Event_PairCode("ABCD-1234"),
        "connected": T.Event_Connected("me@sim"),
        "disconnected": T.Event_Disconnected("gone"),
        "logged-out": T.Event_LoggedOut("unlinked"),
        "timer": T.Event_Timer(T.TimerFired("t1", "{}")),
    }


class Case(unittest.TestCase):
    def setUp(self):
        HOST.reset()
        self.bot = Bot()
        self.seen = []

    def handle(self, event):
        """The WIT `handle` through the exported class, as componentize-py calls it."""
        return self.bot.handler()().handle(CTX, event)

    def texts(self):
        return [record[-1] for record in HOST.sent]


class Filters(Case):
    def matches(self, query):
        bot = Bot()
        hits = []
        bot.on(query, lambda ctx: hits.append(1))
        return {name for name, event in every_event().items() if (hits.clear(), bot.dispatch(CTX, event), hits)[2]}

    def test_each_kind_matches_itself_only(self):
        for name in every_event():
            self.assertEqual(self.matches(name), {name}, name)

    def test_groups(self):
        messages = {n for n in every_event() if n.startswith("message:")}
        self.assertEqual(self.matches("message"), messages)
        self.assertEqual(self.matches("message:media"),
                         {"message:image", "message:video", "message:audio", "message:document", "message:sticker"})
        self.assertEqual(self.matches("*"), set(every_event()))
        self.assertEqual(self.matches(["receipt", "timer", "message:text"]), {"receipt", "timer", "message:text"})

    def test_extended_text_is_text_and_a_caption_is_not(self):
        extended = message(T.Content_ExtendedText(T.ExtendedText("!echo x", "https://e.org", None)))
        self.bot.on("message:text", lambda ctx: self.seen.append(ctx.text))
        self.bot.command("echo", lambda ctx: self.seen.append(("echo", ctx.match)))
        self.handle(extended)
        self.handle(image(caption="!echo y"))
        self.assertEqual(self.seen, ["!echo x", ("echo", "x")])

    def test_unknown_filter_raises_at_registration_naming_it(self):
        with self.assertRaises(ValueError) as raised:
            self.bot.on("message:txt", lambda ctx: None)
        self.assertIn("'message:txt'", str(raised.exception))
        self.assertIn("message:text", str(raised.exception), "lists the known queries")
        with self.assertRaises(ValueError) as raised:
            self.bot.on(["message", "recipt"], lambda ctx: None)
        self.assertIn("'recipt'", str(raised.exception))
        self.assertEqual(self.bot.routes, [], "nothing registered")


class Commands(Case):
    def setUp(self):
        super().setUp()
        self.bot.command("echo", lambda ctx: self.seen.append((ctx.command, ctx.match, ctx.args)))

    def test_prefixes_and_case(self):
        for text in ("!echo a", "/echo a", "!ECHO a", "/Echo a", "  \u3000!echo a\u0085"):
            self.seen.clear()
            self.handle(message(text))
            self.assertEqual(self.seen, [("echo", "a", ["a"])], repr(text))

    def test_needs_the_whole_name_then_white_space_or_end(self):
        for text in ("!echoes a", "echo a", "!ech", "\x1c!echo a", "\ufeff!echo a", "!echo\x1ca", "#echo a"):
            self.handle(message(text))
        self.assertEqual(self.seen, [])
        self.handle(message("!echo\ta"))
        self.handle(message("!echo"))
        self.assertEqual(self.seen, [("echo", "a", ["a"]), ("echo", "", [])])

    def test_match_is_trimmed_text_after_one_space(self):
        self.handle(message("!echo  two spaces  "))
        self.assertEqual(self.seen, [("echo", " two spaces", ["two", "spaces"])])

    def test_args_with_quotes_and_extra_spaces(self):
        self.handle(message('/echo one "two words"  three'))
        self.handle(message("/echo   'a b'\u3000c  \"unterminated  q"))
        self.assertEqual([s[2] for s in self.seen], [["one", "two words", "three"], ["a b", "c", "unterminated  q"]])

    def test_aliases_and_registered_name_case(self):
        self.bot.command(["Hi", "hello"], lambda ctx: self.seen.append(ctx.command))
        for text in ("!hi", "!HELLO there", "/hI"):
            self.handle(message(text))
        self.assertEqual(self.seen, ["hi", "hello", "hi"])

    def test_bad_names_are_refused(self):
        for name in ("", "/ping", "!ping", "two words", []):
            with self.assertRaises(ValueError, msg=repr(name)):
                self.bot.command(name, lambda ctx: None)

    def test_only_text_messages(self):
        self.handle(image(caption="!echo x"))
        self.handle(receipt())
        self.assertEqual(self.seen, [])


class Hears(Case):
    def test_search_on_untrimmed_text_with_captures(self):
        self.bot.hears(r"(?i)^(?:hi|hello),?\s+(\w+)", lambda ctx: self.seen.append(ctx.match.group(1)))
        for text in ("Hello, World", "hi cat and more", " hi there", "well hi there", "HI\u3000Émile"):
            self.handle(message(text))
        self.assertEqual(self.seen, ["World", "cat", "Émile"])

    def test_compiled_pattern_and_named_groups(self):
        self.bot.hears(re.compile(r"(?P<n>\d+) cats?"), lambda ctx: self.seen.append(ctx.match["n"]))
        self.handle(message("I have 12 cats"))
        self.handle(message("no cats"))
        self.handle(image(caption="3 cats"))
        self.assertEqual(self.seen, ["12"])


class MiddlewareAndStop(Case):
    def test_registration_order_and_next(self):
        def outer(ctx, next):
            self.seen.append("outer before")
            next()
            self.seen.append("outer after")

        self.bot.on("message", lambda ctx: self.seen.append("first"))
        self.bot.use(outer)
        self.bot.command("x", lambda ctx: self.seen.append("command"))
        self.bot.on("*", lambda ctx: self.seen.append("last"))
        self.assertEqual(self.handle(message("!x")), NEXT)
        self.assertEqual(self.seen, ["first", "outer before", "command", "last", "outer after"])

    def test_middleware_without_next_stops(self):
        self.bot.on("*", lambda ctx: self.seen.append("before"))
        self.bot.use(lambda ctx, next: self.seen.append("gate"))
        self.bot.on("*", lambda ctx: self.seen.append("after"))
        self.assertEqual(self.handle(message("x")), STOP)
        self.assertEqual(self.seen, ["before", "gate"])

    def test_next_twice_runs_the_rest_once(self):
        self.bot.use(lambda ctx, next: (next(), next()))
        self.bot.on("*", lambda ctx: self.seen.append("rest"))
        self.assertEqual(self.handle(message("x")), NEXT)
        self.assertEqual(self.seen, ["rest"])

    def test_stop_ends_routing_and_answers_stop(self):
        def stopper(ctx):
            self.seen.append("stopper")
            ctx.stop()

        self.bot.use(lambda ctx, next: (next(), self.seen.append("mw after")))
        self.bot.command("x", stopper)
        self.bot.on("message", lambda ctx: self.seen.append("later"))
        self.assertEqual(self.handle(message("!x")), STOP)
        self.assertEqual(self.seen, ["stopper", "mw after"])
        self.seen.clear()
        self.assertEqual(self.handle(message("y")), NEXT, "no stop: next")
        self.assertEqual(self.seen, ["later", "mw after"])

    def test_a_route_added_after_events_were_handled_runs_in_its_place(self):
        # The routes per kind are worked out once; a later registration redoes that.
        self.bot.on("message", lambda ctx: self.seen.append("first"))
        self.bot.on("receipt", lambda ctx: self.seen.append("receipt"))
        self.handle(message("!x"))
        self.bot.command("x", lambda ctx: self.seen.append("command"))
        self.bot.use(lambda ctx, next: (self.seen.append("mw"), next()))
        self.bot.on("message", lambda ctx: self.seen.append("last"))
        self.seen.clear()
        self.assertEqual(self.handle(message("!x")), NEXT)
        self.assertEqual(self.seen, ["first", "command", "mw", "last"])

    def test_decorators(self):
        @self.bot.use
        def mw(ctx, next):
            self.seen.append("mw")
            next()

        @self.bot.command("x")
        def x(ctx):
            self.seen.append("x")

        @self.bot.on("message", own=True)
        def any_message(ctx):
            self.seen.append("any")

        self.handle(message("!x"))
        self.assertEqual(self.seen, ["mw", "x", "any"])
        self.assertTrue(callable(x) and callable(mw), "decorators return the function")


class OwnMessages(Case):
    def test_skipped_unless_the_route_opts_in(self):
        self.bot.use(lambda ctx, next: (self.seen.append("mw"), next()))
        self.bot.command("ping", lambda ctx: self.seen.append("ping"))
        self.bot.hears("ping", lambda ctx: self.seen.append("hears"))
        self.bot.on("*", lambda ctx: self.seen.append("any"))
        self.bot.on("message", lambda ctx: self.seen.append("own"), own=True)
        self.bot.command("ping", lambda ctx: self.seen.append("own ping"), own=True)
        self.bot.use(lambda ctx, next: self.seen.append("own mw"), own=True)
        self.assertEqual(self.handle(message("!ping", from_me=True)), STOP)
        self.assertEqual(self.seen, ["own", "own ping", "own mw"])

    def test_only_own_messages_are_skipped(self):
        self.bot.on("*", lambda ctx: self.seen.append(type(ctx.event).__name__))
        self.handle(message("x", from_me=True))
        self.handle(receipt())
        self.assertEqual(self.seen, ["Event_Receipt"])


class Errors(Case):
    def test_an_exception_becomes_err_with_type_and_message(self):
        def broken(ctx):
            ctx.send("partial")
            raise KeyError("missing")

        self.bot.command("x", broken)
        self.bot.on("message", lambda ctx: self.seen.append("never"))
        with self.assertRaises(Err) as raised:
            self.handle(message("!x"))
        self.assertEqual(raised.exception.value, "KeyError: 'missing'")
        self.assertEqual(self.seen, [])

    def test_various_exceptions(self):
        cases = [
            (lambda ctx: 1 / 0, "ZeroDivisionError: division by zero"),
            (lambda ctx: int("x"), "ValueError: invalid literal for int() with base 10: 'x'"),
            (lambda ctx: ctx.nope, "AttributeError: 'Context' object has no attribute 'nope'"),
        ]
        for handler, expected in cases:
            bot = Bot()
            bot.on("*", handler)
            with self.assertRaises(Err) as raised:
                bot.dispatch(CTX, message("x"))
            self.assertEqual(raised.exception.value, expected)

    def test_no_message_gives_the_type(self):
        class Nope(Exception):
            pass

        def raise_nope(ctx):
            raise Nope()

        self.bot.use(lambda ctx, next: next())
        self.bot.on("*", raise_nope)
        with self.assertRaises(Err) as raised:
            self.handle(receipt())
        self.assertEqual(raised.exception.value, "Nope")

    def test_host_errors_are_host_error(self):
        HOST.fail = "sends_per_minute exceeded"
        self.bot.on("message", lambda ctx: ctx.send("x"))
        with self.assertRaises(Err) as raised:
            self.handle(message("x"))
        self.assertEqual(raised.exception.value, "HostError: sends_per_minute exceeded")

    def test_an_err_raised_on_purpose_passes_as_is(self):
        def refuse(ctx):
            raise Err("refused by policy")

        self.bot.on("*", refuse)
        with self.assertRaises(Err) as raised:
            self.handle(message("x"))
        self.assertEqual(raised.exception.value, "refused by policy")

    def test_catch_handles_instead(self):
        caught = []
        self.bot.catch(lambda error, ctx: caught.append((type(error).__name__, ctx.text)))
        self.bot.on("*", lambda ctx: 1 / 0)
        self.bot.on("*", lambda ctx: self.seen.append("after"))
        self.assertEqual(self.handle(message("boom")), NEXT)
        self.assertEqual(caught, [("ZeroDivisionError", "boom")])
        self.assertEqual(self.seen, [], "routing ended at the error")

    def test_catch_that_raises_fails_the_event(self):
        def rethrow(error, ctx):
            raise RuntimeError(f"wrapped {error}")

        self.bot.catch(rethrow)
        self.bot.on("*", lambda ctx: 1 / 0)
        with self.assertRaises(Err) as raised:
            self.handle(message("x"))
        self.assertEqual(raised.exception.value, "RuntimeError: wrapped division by zero")

    def test_a_non_callable_handler_is_refused(self):
        with self.assertRaises(TypeError):
            self.bot.on("message", "not a function")


class Export(Case):
    def test_handler_is_a_class_of_the_bindings(self):
        handler = self.bot.handler()
        self.assertTrue(issubclass(handler, fake_wit.Handler))
        instance = handler()
        self.assertIsNone(instance.init())
        self.assertEqual(instance.handle(CTX, message("x")), NEXT)


if __name__ == "__main__":
    unittest.main()
