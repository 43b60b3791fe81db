"""`Bot`: routes tried in registration order for every event, and the
export class componentize-py needs (`Handler = bot.handler()`).

A route handler takes `ctx`; a middleware (`use`) takes `(ctx, next)`.
Messages this account sent itself are skipped by every route registered
without `own=True`. Any exception out of a handler makes `handle` answer
WIT `err` with `<ExceptionType>: <message>` (unless `bot.catch` handles it).
"""

import re

from .context import Context
from .host import Err, exports, types
from .text import is_space, split_args

# Filter query -> the event kinds it matches (see `_kind`).
_MEDIA = ("image", "video", "audio", "document", "sticker")
_CONTENTS = ("text",) + _MEDIA + ("location", "contact", "reaction", "unknown")
_STATUS = ("started", "qr", "pair-code", "connected", "disconnected", "logged-out")
_OTHERS = ("receipt", "presence", "chat-state", "group-update", "timer")
FILTERS = {"message": frozenset(f"message:{c}" for c in _CONTENTS)}
FILTERS.update({f"message:{c}": frozenset([f"message:{c}"]) for c in _CONTENTS})
FILTERS["message:media"] = frozenset(f"message:{m}" for m in _MEDIA)
FILTERS.update({name: frozenset([name]) for name in _STATUS + _OTHERS})
FILTERS["*"] = None  # every event

_EVENT_KINDS = {
    types.Event_Started: "started",
    types.Event_Qr: "qr",
    types.Event_PairCode: "pair-code",
    types.Event_Connected: "connected",
    types.Event_Disconnected: "disconnected",
    types.Event_LoggedOut: "logged-out",
    types.Event_Receipt: "receipt",
    types.Event_Presence: "presence",
    types.Event_ChatState: "chat-state",
    types.Event_GroupUpdate: "group-update",
    types.Event_Timer: "timer",
}
_CONTENT_KINDS = {
    types.Content_Text: "message:text",
    types.Content_ExtendedText: "message:text",
    types.Content_Image: "message:image",
    types.Content_Video: "message:video",
    types.Content_Audio: "message:audio",
    types.Content_Document: "message:document",
    types.Content_Sticker: "message:sticker",
    types.Content_Location: "message:location",
    types.Content_Contact: "message:contact",
    types.Content_Reaction: "message:reaction",
    types.Content_Unknown: "message:unknown",
}


def describe(error: BaseException) -> str:
    """`<ExceptionType>: <message>` (just the type when there is no message)."""
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _kind(event) -> str:
    """The event's kind: a filter query naming exactly it."""
    if isinstance(event, types.Event_Message):
        return _CONTENT_KINDS.get(type(event.value.content), "message:unknown")
    return _EVENT_KINDS.get(type(event), "")


def _kinds(query):
    """The kinds a filter query (or list of queries) matches; None = all."""
    queries = [query] if isinstance(query, str) else list(query)
    if not queries:
        raise ValueError("bot.on: empty filter list")
    kinds = set()
    for q in queries:
        if not isinstance(q, str) or q not in FILTERS:
            raise ValueError(f"bot.on: unknown filter query {q!r}; known: {', '.join(FILTERS)}")
        if FILTERS[q] is None:
            return None
        kinds |= FILTERS[q]
    return frozenset(kinds)


class _Route:
    __slots__ = ("kinds", "test", "names", "handler", "middleware", "own")

    def __init__(self, kinds, test, names, handler, middleware, own):
        self.kinds = kinds  # None: every event
        self.test = test  # None, or test(ctx) -> bool (and sets ctx.match etc.)
        self.names = names  # a command's names (tested in `_run`), or None
        self.handler = handler
        self.middleware = middleware
        self.own = own


def _names(name) -> tuple:
    names = (name,) if isinstance(name, str) else tuple(name)
    if not names:
        raise ValueError("bot.command: no command name")
    for n in names:
        if not isinstance(n, str) or not n or n[0] in "/!" or any(is_space(c) for c in n):
            raise ValueError(f"bot.command: invalid command name {n!r} (give it without / or !, no spaces)")
    return tuple(n.lower() for n in names)


class Bot:
    """The routes of a plugin. Register them at module level, then export
    the bot with `Handler = bot.handler()`.

    Every registration takes the handler as its last positional argument or
    works as a decorator: `@bot.command("ping")`.
    """

    def __init__(self):
        self.routes = []
        self._catch = None
        self._by_kind = {}  # kind -> the routes that may match it, in order

    def _add(self, kinds, test, handler, middleware, own, names=None):
        def register(function):
            if not callable(function):
                raise TypeError(f"a handler must be callable, got {function!r}")
            self.routes.append(_Route(kinds, test, names, function, middleware, own))
            self._by_kind.clear()
            return function

        return register if handler is None else register(handler)

    def on(self, filter, handler=None, *, own=False):
        """Runs `handler(ctx)` for events matching `filter`: a filter query
        (`"message:text"`, `"timer"`, `"*"`, ...) or a list of them (any).
        An unknown query raises `ValueError` here, at build time."""
        return self._add(_kinds(filter), None, handler, False, own)

    def command(self, name, handler=None, *, own=False):
        """Runs `handler(ctx)` for a text message that starts with `/name` or
        `!name` (case-insensitive; `name` may be a list of aliases), with
        `ctx.command`, `ctx.match` (the rest) and `ctx.args` set."""
        return self._add(FILTERS["message:text"], None, handler, False, own, names=_names(name))

    def hears(self, pattern, handler=None, *, own=False):
        """Runs `handler(ctx)` when the regex `pattern` (a string or a
        compiled pattern) is found in a text message (`re.search` on the
        untrimmed text); `ctx.match` is the `re.Match`."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern

        def test(ctx):
            found = regex.search(ctx.text)
            if found is None:
                return False
            ctx.match = found
            return True

        return self._add(FILTERS["message:text"], test, handler, False, own)

    def use(self, middleware=None, *, own=False):
        """Runs `middleware(ctx, next)` for every event at its place in the
        route order: `next()` runs the later routes; not calling it stops
        routing for this event (the plugin answers `flow::stop`)."""
        return self._add(None, None, middleware, True, own)

    def catch(self, handler):
        """Calls `handler(error, ctx)` for an exception out of any route
        instead of failing the event; what it raises fails the event."""
        self._catch = handler
        return handler

    # ------------------------------------------------------------ dispatch
    def _routes_for(self, kind):
        """The routes whose filter matches `kind`, in order (worked out once per kind)."""
        routes = self._by_kind.get(kind)
        if routes is None:
            routes = [r for r in self.routes if r.kinds is None or kind in r.kinds]
            self._by_kind[kind] = routes
        return routes

    def _run(self, ctx, kind, start):
        routes = self._routes_for(kind)
        for index in range(start, len(routes)):
            if ctx.stopped:
                return
            route = routes[index]
            if ctx.from_me and not route.own:
                continue
            names = route.names
            if names is not None:  # a command: tested here, without a call per route
                token = ctx.command_token()
                if token is None or token[0] not in names:
                    continue
                ctx.command, ctx.match = token
                ctx.args = split_args(ctx.match)
            elif route.test is not None and not route.test(ctx):
                continue
            if route.middleware:
                called = False

                def next_(index=index):
                    nonlocal called
                    if not called:
                        called = True
                        self._run(ctx, kind, index + 1)

                route.handler(ctx, next_)
                if not called:
                    ctx.stopped = True
                return
            route.handler(ctx)

    def dispatch(self, context, event):
        """Handles one event: the WIT `handle`, returning a `Flow`. An
        exception becomes `Err("<ExceptionType>: <message>")`."""
        ctx = Context(context, event)
        try:
            try:
                self._run(ctx, _kind(event), 0)
            except Exception as error:
                if self._catch is None:
                    raise
                self._catch(error, ctx)
        except Err as error:
            if isinstance(error.value, str):
                raise  # the plugin chose its `err` text
            raise Err(f"Err: {error.value}") from None
        except BaseException as error:
            raise Err(describe(error)) from None
        return types.Flow.STOP if ctx.stopped else types.Flow.NEXT

    def handler(self):
        """The class to export as the plugin's handler: `Handler = bot.handler()`."""
        bot = self

        class Handler(exports.Handler):
            def init(self) -> None:
                pass

            def handle(self, context, event):
                return bot.dispatch(context, event)

        return Handler
