"""Outbound HTTP over `wasi:http/outgoing-handler`, blocking:

    from purr_sdk import http
    response = http.get("https://api.example.org/cat")
    ctx.reply(f"{response.status} {response.text()}")

The host sends a request only to the plugin's `allowed_hosts`; anything
else fails with `HttpError("HTTP request denied")`. Errors of the request
(denied, refused, timeout, too large, ...) raise `HttpError` with the name
of the WIT `error-code`. Redirects are returned, not followed.

It waits with `wasi:io/poll` (the pattern of componentize-py's `poll_loop`,
without asyncio): a handler blocks until the response is in.
"""

import json as _json
from urllib.parse import urlsplit

from componentize_py_types import Err, Ok
from wit_world.imports import outgoing_handler, streams
from wit_world.imports import wasi_http_types as _http

__all__ = ["HttpError", "Response", "get", "post", "request"]

_CHUNK = 64 * 1024  # bytes per read
_WRITE = 4096  # bytes per blocking write (the most blocking-write-and-flush takes)
_ACRONYMS = {"http": "HTTP", "dns": "DNS", "tls": "TLS", "ip": "IP"}
_METHODS = {
    "GET": _http.Method_Get,
    "HEAD": _http.Method_Head,
    "POST": _http.Method_Post,
    "PUT": _http.Method_Put,
    "DELETE": _http.Method_Delete,
    "CONNECT": _http.Method_Connect,
    "OPTIONS": _http.Method_Options,
    "TRACE": _http.Method_Trace,
    "PATCH": _http.Method_Patch,
}


class HttpError(Exception):
    """A request failed; `code` is the WIT `error-code` (None when the
    failure was not one, e.g. a bad header)."""

    def __init__(self, message: str, code=None):
        super().__init__(message)
        self.code = code


class Response:
    """`status` (int), `headers` (dict: lowercase name -> value, repeated
    headers joined with `, `), `body` (bytes)."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        """The body decoded as JSON."""
        return _json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.body)} bytes>"


def error_name(code) -> str:
    """The WIT name of an `error-code` in words: `ErrorCode_HttpRequestDenied`
    -> `HTTP request denied`, with its payload when it has one."""
    name = type(code).__name__.split("_", 1)[-1]
    words, word = [], ""
    for char in name:
        if char.isupper() and word:
            words.append(word)
            word = ""
        word += char
    words.append(word)
    text = " ".join(_ACRONYMS.get(w.lower(), w.lower()) for w in words)
    detail = getattr(code, "value", None)
    if detail is not None and not isinstance(detail, (str, int)):
        detail = ", ".join(f"{k.replace('_', '-')} {v}" for k, v in vars(detail).items() if v is not None)
    return f"{text}: {detail}" if detail not in (None, "") else text


def _failure(error) -> HttpError:
    value = error.value if isinstance(error, Err) else error
    if isinstance(value, str):
        return HttpError(value)
    if type(value).__name__.startswith("ErrorCode_"):
        return HttpError(error_name(value), value)
    if type(value).__name__.startswith("HeaderError_"):
        return HttpError("invalid header: " + type(value).__name__.split("_", 1)[1].lower())
    return HttpError(f"request failed: {value!r}")


def _stream_error(error: Err) -> HttpError:
    """An `HttpError` for a failed stream operation (not a close)."""
    value = error.value
    if isinstance(value, streams.StreamError_LastOperationFailed):
        code = _http.http_error_code(value.value)
        if code is not None:
            return HttpError(error_name(code), code)
        return HttpError("stream failed: " + value.value.to_debug_string())
    return HttpError("stream closed")


def _fields(headers) -> "_http.Fields":
    items = headers.items() if hasattr(headers, "items") else headers
    entries = []
    for name, value in items:
        entries.append((str(name), value if isinstance(value, bytes) else str(value).encode("utf-8")))
    try:
        return _http.Fields.from_list(entries)
    except Err as error:
        raise _failure(error) from None


def _write(body, data: bytes) -> None:
    with body.write() as stream:
        for offset in range(0, len(data), _WRITE):
            try:
                stream.blocking_write_and_flush(data[offset:offset + _WRITE])
            except Err as error:
                raise _stream_error(error) from None
    _http.OutgoingBody.finish(body, None)


def _read(response) -> bytes:
    body = response.consume()
    chunks = []
    with body.stream() as stream:
        while True:
            try:
                chunks.append(stream.blocking_read(_CHUNK))
            except Err as error:
                if isinstance(error.value, streams.StreamError_Closed):
                    break
                raise _stream_error(error) from None
    _http.IncomingBody.finish(body).__exit__(None, None, None)
    return b"".join(chunks)


def _wait(future):
    """The response of `future`, polling until it is ready."""
    while True:
        result = future.get()
        if result is not None:
            break
        with future.subscribe() as pollable:
            pollable.block()
    if isinstance(result, Err):  # the response was already taken: cannot happen here
        raise HttpError("response already taken")
    inner = result.value if isinstance(result, Ok) else result
    if isinstance(inner, Err):
        raise _failure(inner)
    return inner.value if isinstance(inner, Ok) else inner


def request(method: str, url: str, headers=None, body=None, timeout_ms=None) -> Response:
    """Sends a request and waits for the whole response.

    `headers`: a dict or a list of (name, value) pairs. `body`: bytes, or a
    str (sent as UTF-8, with `content-type: text/plain; charset=utf-8` unless
    one is given); sent with its `content-length`. `timeout_ms` bounds
    connecting, the first byte and the gap between bytes.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        raise HttpError(f"invalid URL {url!r}: expected http:// or https:// and a host")
    headers = list(headers.items() if hasattr(headers, "items") else headers or [])
    names = {str(name).lower() for name, _ in headers}
    if isinstance(body, str):
        body = body.encode("utf-8")
        if "content-type" not in names:
            headers.append(("content-type", "text/plain; charset=utf-8"))
    elif body is not None:
        body = bytes(body)
    if body is not None and "content-length" not in names:
        # Known length: not chunked (which many small servers do not read).
        headers.append(("content-length", str(len(body))))

    outgoing = _http.OutgoingRequest(_fields(headers))
    method = method.upper()
    path = parts.path or "/"
    for what, setter, value in (
        ("method", outgoing.set_method, _METHODS[method]() if method in _METHODS else _http.Method_Other(method)),
        ("scheme", outgoing.set_scheme, _http.Scheme_Https() if scheme == "https" else _http.Scheme_Http()),
        ("authority", outgoing.set_authority, parts.netloc),
        ("path", outgoing.set_path_with_query, f"{path}?{parts.query}" if parts.query else path),
    ):
        try:
            setter(value)
        except Err:
            raise HttpError(f"invalid {what} in {method} {url}") from None
    outgoing_body = outgoing.body()

    options = None
    if timeout_ms is not None:
        options = _http.RequestOptions()
        nanos = int(timeout_ms * 1_000_000)
        for setter in (options.set_connect_timeout, options.set_first_byte_timeout,
                       options.set_between_bytes_timeout):
            try:
                setter(nanos)
            except Err:
                pass  # the host does not support this one

    try:
        future = outgoing_handler.handle(outgoing, options)
    except Err as error:
        outgoing_body.__exit__(None, None, None)
        raise _failure(error) from None
    if body:
        _write(outgoing_body, body)
    else:
        _http.OutgoingBody.finish(outgoing_body, None)
    with future:
        response = _wait(future)
    with response:
        status = response.status()
        with response.headers() as fields:
            entries = fields.entries()
        data = _read(response)
    merged = {}
    for name, value in entries:
        name = name.lower()
        value = value.decode("utf-8", errors="replace")
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return Response(status, merged, data)


def get(url: str, headers=None, timeout_ms=None) -> Response:
    """`request("GET", url, headers)`."""
    return request("GET", url, headers, None, timeout_ms)


def post(url: str, body=None, headers=None, timeout_ms=None) -> Response:
    """`request("POST", url, headers, body)`."""
    return request("POST", url, headers, body, timeout_ms)
