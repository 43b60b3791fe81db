// Outbound HTTP (sdk/js/http.js) against the fake wasi:http of
// fake-http.mjs: the request's parts, the body in 4096-byte writes, the
// response, WIT error codes as messages, and every resource dropped.

import { test, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import "../testing/harness.mjs";
import { http as fake, resetHttp } from "../testing/fake-http.mjs";

const http = await import("../http.js");

beforeEach(resetHttp);
afterEach(() => {
  assert.deepEqual(fake.problems, [], "resource rules kept");
  assert.deepEqual([...fake.live].map((r) => r.constructor.name), [], "every resource dropped");
});

test("GET: method, scheme, authority, path and query; the response", () => {
  fake.respond = () => ({
    status: 200,
    headers: [["Content-Type", "application/json"], ["X-Multi", "a"], ["x-multi", "b"]],
    body: '{"cat": "🐱", "n": 3}',
  });
  const response = http.get("http://127.0.0.1:8080/cats/1?size=big#frag", { headers: { accept: "application/json" } });
  assert.deepEqual(fake.requests, [
    {
      method: { tag: "get" },
      scheme: { tag: "HTTP" },
      authority: "127.0.0.1:8080",
      path: "/cats/1?size=big",
      headers: [["accept", "application/json"]],
      body: "",
      writes: [],
      options: undefined,
    },
  ]);
  assert.equal(response.status, 200);
  assert.deepEqual(response.headers, { "content-type": "application/json", "x-multi": "a, b" });
  assert.ok(response.body instanceof Uint8Array);
  assert.deepEqual(response.json(), { cat: "🐱", n: 3 });
  assert.equal(response.text(), '{"cat": "🐱", "n": 3}');
});

test("a long body is read in chunks until the stream closes", () => {
  const big = "x".repeat(2500) + "ü".repeat(1000);
  fake.respond = () => ({ status: 404, body: big });
  const response = http.get("https://example.org");
  assert.equal(response.status, 404);
  assert.equal(response.text(), big);
  assert.deepEqual(fake.requests[0].scheme, { tag: "HTTPS" });
  assert.equal(fake.requests[0].authority, "example.org");
  assert.equal(fake.requests[0].path, "/");
});

test("POST: a string body as UTF-8 with content-type and content-length, in writes of at most 4096 bytes", () => {
  const body = "ä".repeat(5000); // 10000 bytes
  http.post("http://h/echo", body);
  const [request] = fake.requests;
  assert.deepEqual(request.method, { tag: "post" });
  assert.equal(request.body, body);
  assert.deepEqual(request.writes, [4096, 4096, 1808]);
  assert.deepEqual(request.headers, [["content-type", "text/plain; charset=utf-8"], ["content-length", "10000"]]);

  http.post("http://h/echo", "plain", { headers: [["Content-Type", "text/plain"]] });
  assert.deepEqual(fake.requests[1].headers, [["Content-Type", "text/plain"], ["content-length", "5"]]);
  http.request("put", "http://h/bytes", { body: new Uint8Array([104, 105]) });
  assert.deepEqual(fake.requests[2].method, { tag: "put" });
  assert.deepEqual(fake.requests[2].headers, [["content-length", "2"]]);
  assert.equal(fake.requests[2].body, "hi");
});

test("other methods and timeouts", () => {
  http.request("PURGE", "http://h/cache", { timeoutMs: 1500 });
  assert.deepEqual(fake.requests[0].method, { tag: "other", val: "PURGE" });
  assert.deepEqual(fake.requests[0].options, { connect: 1500000000n, firstByte: 1500000000n, betweenBytes: 1500000000n });
});

/** The HttpError `fn` throws. */
function failure(fn) {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof http.HttpError, `${error}`);
    return error;
  }
  assert.fail("no error");
}

test("a request the host refuses: HttpError named after the WIT error-code", () => {
  fake.respond = () => ({ deny: { tag: "HTTP-request-denied" } });
  const error = failure(() => http.post("http://elsewhere/x", "body"));
  assert.equal(error.message, "HTTP request denied");
  assert.deepEqual(error.code, { tag: "HTTP-request-denied" });
});

test("error codes of the response, with their payloads", () => {
  const cases = [
    [{ tag: "connection-refused" }, "connection refused"],
    [{ tag: "connection-timeout" }, "connection timeout"],
    [{ tag: "DNS-error", val: { rcode: "NXDOMAIN", infoCode: 3 } }, "DNS error: rcode NXDOMAIN, info-code 3"],
    [{ tag: "DNS-error", val: { rcode: undefined, infoCode: undefined } }, "DNS error"],
    [{ tag: "HTTP-response-body-size", val: 1000n }, "HTTP response body size: 1000"],
    [{ tag: "destination-IP-prohibited" }, "destination IP prohibited"],
    [{ tag: "HTTP-request-URI-invalid" }, "HTTP request uri invalid"],
    [{ tag: "internal-error", val: "boom" }, "internal error: boom"],
  ];
  for (const [code, message] of cases) {
    fake.respond = () => ({ error: code });
    const error = failure(() => http.get("http://h/"));
    assert.equal(error.message, message);
    assert.deepEqual(error.code, code);
  }
});

test("a body that fails midway: the stream's error code", () => {
  fake.respond = () => ({ status: 200, body: "x".repeat(1500), readError: { tag: "HTTP-response-body-size", val: 1000n } });
  assert.equal(failure(() => http.get("http://h/big")).message, "HTTP response body size: 1000");
});

test("a request body that fails midway: the stream's error code", () => {
  fake.respond = () => ({ writeError: { tag: "HTTP-request-body-size", val: 4096n } });
  const error = failure(() => http.post("http://h/", "y".repeat(9000)));
  assert.equal(error.message, "HTTP request body size: 4096");
  assert.deepEqual(fake.requests[0].writes, undefined, "the body never finished");
});

test("a bad URL or header fails before anything is sent", () => {
  assert.equal(failure(() => http.get("not a url")).message, 'invalid URL "not a url": expected http:// or https:// and a host');
  assert.equal(failure(() => http.get("ftp://h/x")).message, 'invalid URL "ftp://h/x": expected http:// or https:// and a host');
  assert.equal(failure(() => http.get("http://h/", { headers: { "bad name": "x" } })).message, "invalid header: invalid syntax");
  assert.equal(failure(() => http.get("http://h/", { headers: { host: "x" } })).message, "invalid header: forbidden");
  assert.equal(failure(() => http.request("bad method", "http://h/")).message, "invalid method in BAD METHOD http://h/");
  assert.throws(() => http.post("http://h/", 42), TypeError);
  assert.equal(fake.requests.length, 0);
});
