"""purr_sdk.http against a fake `wasi:http` (the names componentize-py
generates): what the request carries, how the response is read, how
errors are named, and that every resource is released."""

import sys
import types as pytypes
import unittest
from dataclasses import dataclass

import fake_wit
from fake_wit import Err

LIVE = set()  # resources not yet released


class Resource:
    def __init__(self):
        LIVE.add(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        LIVE.discard(self)


def _cases(module, prefix, names, with_value=()):
    for name in names:
        fields = {"value": object} if name in with_value else {}
        setattr(module, f"{prefix}_{name}", dataclass(type(f"{prefix}_{name}", (), {"__annotations__": fields})))


h = pytypes.ModuleType("wit_world.imports.wasi_http_types")
_cases(h, "Method", ["Get", "Head", "Post", "Put", "Delete", "Connect", "Options", "Trace", "Patch", "Other"], {"Other"})
_cases(h, "Scheme", ["Http", "Https", "Other"], {"Other"})
_cases(h, "ErrorCode", ["HttpRequestDenied", "ConnectionRefused", "HttpResponseTimeout", "DnsError",
                        "InternalError", "HttpResponseBodySize"], {"DnsError", "InternalError", "HttpResponseBodySize"})
_cases(h, "HeaderError", ["InvalidSyntax", "Forbidden"])


@dataclass
class DnsErrorPayload:
    rcode: object
    info_code: object


h.DnsErrorPayload = DnsErrorPayload
s = pytypes.ModuleType("wit_world.imports.streams")
_cases(s, "StreamError", ["Closed", "LastOperationFailed"], {"LastOperationFailed"})


class Server:
    """What the fake `outgoing-handler` does with a request."""

    def __init__(self):
        self.requests = []
        self.status, self.headers, self.chunks = 200, [], [b"ok"]
        self.refuse = None  # an ErrorCode `handle` raises
        self.fail = None  # an ErrorCode the future resolves to
        self.polls = 2  # how many times `get` answers None first


SERVER = Server()


class Fields(Resource):
    def __init__(self, entries=()):
        super().__init__()
        self.list = list(entries)

    @classmethod
    def from_list(cls, entries):
        for name, value in entries:
            if not name or " " in name:
                raise Err(h.HeaderError_InvalidSyntax())
            assert isinstance(value, bytes)
        return cls(entries)

    def entries(self):
        return list(self.list)


class OutputStream(Resource):
    def __init__(self, sink):
        super().__init__()
        self.sink = sink

    def blocking_write_and_flush(self, data):
        assert len(data) <= 4096, "at most 4096 bytes per blocking write"
        self.sink.append(bytes(data))


class OutgoingBody(Resource):
    def __init__(self, request):
        super().__init__()
        self.request = request

    def write(self):
        return OutputStream(self.request["body"])

    @staticmethod
    def finish(body, trailers):
        assert not any(isinstance(r, OutputStream) for r in LIVE), "stream dropped before finish"
        body.request["finished"] = True
        LIVE.discard(body)


class OutgoingRequest(Resource):
    def __init__(self, headers):
        super().__init__()
        LIVE.discard(headers)  # the constructor takes ownership of the fields
        self.data = {"headers": headers.list, "body": [], "finished": False}

    def set_method(self, m):
        self.data["method"] = m

    def set_scheme(self, s):
        self.data["scheme"] = s

    def set_authority(self, a):
        if not a or "/" in a:
            raise Err(None)
        self.data["authority"] = a

    def set_path_with_query(self, p):
        self.data["path"] = p

    def body(self):
        return OutgoingBody(self.data)


class RequestOptions(Resource):
    def set_connect_timeout(self, ns):
        self.connect = ns

    def set_first_byte_timeout(self, ns):
        self.first = ns

    def set_between_bytes_timeout(self, ns):
        raise Err(None)  # not supported: ignored


class InputStream(Resource):
    def __init__(self, chunks):
        super().__init__()
        self.chunks = list(chunks)

    def blocking_read(self, n):
        if not self.chunks:
            raise Err(s.StreamError_Closed())
        chunk = self.chunks.pop(0)
        if isinstance(chunk, Exception):
            raise chunk
        return chunk


class IncomingBody(Resource):
    def stream(self):
        return InputStream(SERVER.chunks)

    @staticmethod
    def finish(body):
        assert not any(isinstance(r, InputStream) for r in LIVE), "stream dropped before finish"
        LIVE.discard(body)
        return Resource()  # future-trailers


class IncomingResponse(Resource):
    def status(self):
        return SERVER.status

    def headers(self):
        return Fields(SERVER.headers)

    def consume(self):
        return IncomingBody()


class Pollable(Resource):
    def block(self):
        pass


class FutureIncomingResponse(Resource):
    def __init__(self):
        super().__init__()
        self.polls = SERVER.polls

    def subscribe(self):
        return Pollable()

    def get(self):
        if self.polls:
            self.polls -= 1
            return None
        if SERVER.fail is not None:
            return fake_wit.Ok(Err(SERVER.fail))
        return fake_wit.Ok(fake_wit.Ok(IncomingResponse()))


def _handle(request, options):
    if SERVER.refuse is not None:
        raise Err(SERVER.refuse)
    SERVER.requests.append((request.data, options))
    LIVE.discard(request)
    return FutureIncomingResponse()


h.Fields, h.OutgoingRequest, h.OutgoingBody, h.RequestOptions = Fields, OutgoingRequest, OutgoingBody, RequestOptions
h.IncomingBody = IncomingBody
h.http_error_code = lambda error: error
sys.modules["wit_world.imports.wasi_http_types"] = h
sys.modules["wit_world.imports.streams"] = s
sys.modules["wit_world.imports.outgoing_handler"] = pytypes.ModuleType("wit_world.imports.outgoing_handler")
sys.modules["wit_world.imports.outgoing_handler"].handle = _handle
for _name in ("wasi_http_types", "streams", "outgoing_handler"):
    setattr(sys.modules["wit_world.imports"], _name, sys.modules[f"wit_world.imports.{_name}"])

from purr_sdk import http  # noqa: E402


class Requests(unittest.TestCase):
    def setUp(self):
        SERVER.__init__()
        LIVE.clear()

    def tearDown(self):
        self.assertEqual(LIVE, set(), "every resource released")

    def test_get(self):
        SERVER.headers = [("Content-Type", b"text/plain"), ("Set-Cookie", b"a=1"), ("set-cookie", b"b=2")]
        SERVER.chunks = [b"hel", b"", b"lo \xc3\xa9"]
        response = http.get("http://127.0.0.1:8080/path/x?q=1&r=2", headers={"Accept": "text/plain"})
        (request, options), = SERVER.requests
        self.assertIsInstance(request["method"], h.Method_Get)
        self.assertIsInstance(request["scheme"], h.Scheme_Http)
        self.assertEqual((request["authority"], request["path"]), ("127.0.0.1:8080", "/path/x?q=1&r=2"))
        self.assertEqual(request["headers"], [("Accept", b"text/plain")])
        self.assertEqual((request["body"], request["finished"], options), ([], True, None))
        self.assertEqual((response.status, response.body, response.text()), (200, b"hello \xc3\xa9", "hello é"))
        self.assertEqual(response.headers, {"content-type": "text/plain", "set-cookie": "a=1, b=2"})

    def test_post_str_body_and_root_path(self):
        body = "é" * 5000  # 10000 bytes: written in several chunks
        http.post("https://example.org", body)
        (request, _), = SERVER.requests
        self.assertIsInstance(request["method"], h.Method_Post)
        self.assertIsInstance(request["scheme"], h.Scheme_Https)
        self.assertEqual(request["path"], "/")
        self.assertEqual(b"".join(request["body"]), body.encode())
        self.assertEqual(len(request["body"]), 3)
        self.assertEqual(request["headers"], [("content-type", b"text/plain; charset=utf-8"),
                                              ("content-length", b"10000")])
        self.assertTrue(request["finished"])

    def test_own_content_type_bytes_and_other_methods(self):
        http.request("purge", "http://h/x", headers=[("Content-Type", "application/json")], body=b"{}")
        http.request("PATCH", "http://h/x", body=bytearray(b"z"))
        (first, _), (second, _) = SERVER.requests
        self.assertEqual(first["method"], h.Method_Other("PURGE"))
        self.assertEqual(first["headers"], [("Content-Type", b"application/json"), ("content-length", b"2")])
        self.assertIsInstance(second["method"], h.Method_Patch)
        self.assertEqual(second["headers"], [("content-length", b"1")], "bytes get no content-type")
        http.request("PUT", "http://h/x", headers={"Content-Length": "0"}, body=b"")
        self.assertEqual(SERVER.requests[2][0]["headers"], [("Content-Length", b"0")], "a given length is kept")

    def test_json_and_timeout(self):
        SERVER.chunks = [b'{"n": [1, 2]}']
        self.assertEqual(http.get("http://h/", timeout_ms=1500).json(), {"n": [1, 2]})
        (_, options), = SERVER.requests
        self.assertEqual((options.connect, options.first), (1_500_000_000, 1_500_000_000))
        LIVE.discard(options)


class Errors(unittest.TestCase):
    def setUp(self):
        SERVER.__init__()

    def error(self, *args, **kwargs):
        with self.assertRaises(http.HttpError) as raised:
            http.request(*args, **kwargs)
        return raised.exception

    def test_denied_when_sending_or_in_the_future(self):
        SERVER.refuse = h.ErrorCode_HttpRequestDenied()
        error = self.error("GET", "http://evil.example/")
        self.assertEqual(str(error), "HTTP request denied")
        self.assertIsInstance(error.code, h.ErrorCode_HttpRequestDenied)
        SERVER.refuse = None
        SERVER.fail = h.ErrorCode_ConnectionRefused()
        self.assertEqual(str(self.error("GET", "http://127.0.0.1:1/")), "connection refused")
        SERVER.fail = h.ErrorCode_HttpResponseTimeout()
        self.assertEqual(str(self.error("GET", "http://h/")), "HTTP response timeout")

    def test_payloads(self):
        SERVER.fail = h.ErrorCode_InternalError("boom")
        self.assertEqual(str(self.error("GET", "http://h/")), "internal error: boom")
        SERVER.fail = h.ErrorCode_DnsError(h.DnsErrorPayload("NXDOMAIN", None))
        self.assertEqual(str(self.error("GET", "http://h/")), "DNS error: rcode NXDOMAIN")
        SERVER.fail = h.ErrorCode_HttpResponseBodySize(None)
        self.assertEqual(str(self.error("GET", "http://h/")), "HTTP response body size")

    def test_body_stream_failure(self):
        SERVER.chunks = [b"part", Err(s.StreamError_LastOperationFailed(h.ErrorCode_HttpResponseBodySize(1000)))]
        self.assertEqual(str(self.error("GET", "http://h/")), "HTTP response body size: 1000")

    def test_bad_urls_and_headers(self):
        for url in ("ftp://h/x", "example.org/x", "http:///x", ""):
            self.assertIn("invalid URL", str(self.error("GET", url)), url)
        self.assertIn("invalid header", str(self.error("GET", "http://h/", headers={"bad name": "x"})))
        self.assertEqual(SERVER.requests, [], "nothing sent")

    def test_in_a_handler_the_error_fails_the_event_or_is_caught(self):
        from fake_wit import CTX, HOST, message
        from purr_sdk import Bot

        HOST.reset()
        SERVER.refuse = h.ErrorCode_HttpRequestDenied()
        bot = Bot()
        bot.command("get", lambda ctx: http.get(ctx.match))
        with self.assertRaises(Err) as raised:
            bot.dispatch(CTX, message("!get http://evil.example/"))
        self.assertEqual(raised.exception.value, "HttpError: HTTP request denied")


if __name__ == "__main__":
    unittest.main()
