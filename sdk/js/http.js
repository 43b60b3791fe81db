// Outbound HTTP over `wasi:http/outgoing-handler`, blocking (no `await`):
//
//   import * as http from "purr-sdk/http";
//   const response = http.get("https://api.example.org/cat");
//   ctx.reply(`${response.status} ${response.text()}`);
//
// A separate entry point (`purr-sdk/http`): only a plugin that imports it
// imports wasi:http, and such a plugin is built with `"purr": { "http": true }`
// in its package.json. The host sends a request only to the plugin's
// `allowed_hosts`; anything else fails with `HttpError("HTTP request
// denied")`. Errors of the request (denied, refused, timeout, too large,
// ...) throw `HttpError` with the name of the WIT `error-code`, as the Rust
// and Python SDKs do. Redirects are returned, not followed. The global
// `fetch` works too in such a plugin, but its errors do not say which.

import { handle } from "wasi:http/outgoing-handler@0.2.12";
import { Fields, IncomingBody, OutgoingBody, OutgoingRequest, RequestOptions, httpErrorCode } from "wasi:http/types@0.2.12";

const CHUNK = 65536n; // bytes per read
const WRITE = 4096; // bytes per blocking write (the most blocking-write-and-flush takes)
const ACRONYMS = { http: "HTTP", dns: "DNS", tls: "TLS", ip: "IP" };
const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];
const DISPOSE = Symbol.dispose ?? Symbol.for("dispose");
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Drops a WIT resource now (children before their parents). */
function drop(resource) {
  resource?.[DISPOSE]?.();
}

/** A request failed; `code` is the WIT `error-code` (`{ tag, val }`), undefined when it was not one (e.g. a bad header). */
export class HttpError extends Error {
  constructor(message, code) {
    super(message);
    this.name = "HttpError";
    this.code = code;
  }
}

/** `status` (a number), `headers` (lowercase name -> value, repeated ones joined with `, `), `body` (a Uint8Array). */
export class Response {
  constructor(status, headers, body) {
    this.status = status;
    this.headers = headers;
    this.body = body;
  }

  /** The body decoded as UTF-8 (invalid bytes replaced). */
  text() {
    return decoder.decode(this.body);
  }

  /** The body decoded as JSON. */
  json() {
    return JSON.parse(this.text());
  }
}

/**
 * The WIT name of an `error-code` in words: `HTTP-request-denied` ->
 * `HTTP request denied`, with its payload when it has one
 * (`DNS error: rcode NXDOMAIN`, `HTTP response body size: 1000`).
 */
export function errorName(code) {
  const text = code.tag
    .split("-")
    .map((word) => ACRONYMS[word.toLowerCase()] ?? word.toLowerCase())
    .join(" ");
  let detail = code.val;
  if (detail !== null && typeof detail === "object") {
    detail = Object.entries(detail)
      .filter(([, value]) => value !== undefined && value !== null)
      .map(([key, value]) => `${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${value}`)
      .join(", ");
  }
  return detail === undefined || detail === null || detail === "" ? text : `${text}: ${detail}`;
}

/** An HttpError for what a wasi:http call threw. */
function failure(error) {
  const value = error?.payload;
  if (value === undefined) return error instanceof HttpError ? error : new HttpError(String(error?.message ?? error));
  if (typeof value === "string") return new HttpError(value);
  if (typeof value?.tag === "string") {
    // header-error cases are few and lowercase words; error-code cases are the rest.
    if (["invalid-syntax", "forbidden", "immutable"].includes(value.tag)) {
      return new HttpError(`invalid header: ${value.tag.replace("-", " ")}`);
    }
    return new HttpError(errorName(value), value);
  }
  return new HttpError(`request failed: ${String(value)}`);
}

/** An HttpError for a failed stream operation (not a close). */
function streamFailure(error) {
  const value = error?.payload;
  if (value?.tag === "last-operation-failed") {
    const code = httpErrorCode(value.val);
    const message = code !== undefined ? errorName(code) : `stream failed: ${value.val.toDebugString()}`;
    drop(value.val);
    return new HttpError(message, code);
  }
  return new HttpError("stream closed");
}

function fields(headers) {
  const entries = [];
  for (const [name, value] of headers) {
    entries.push([String(name), value instanceof Uint8Array ? value : encoder.encode(String(value))]);
  }
  try {
    return Fields.fromList(entries);
  } catch (error) {
    throw failure(error);
  }
}

function write(body, data) {
  const stream = body.write();
  try {
    for (let offset = 0; offset < data.length; offset += WRITE) {
      stream.blockingWriteAndFlush(data.subarray(offset, offset + WRITE));
    }
  } catch (error) {
    drop(stream);
    drop(body);
    throw streamFailure(error);
  }
  drop(stream);
  OutgoingBody.finish(body, undefined);
}

function read(response) {
  const body = response.consume();
  const stream = body.stream();
  const chunks = [];
  let length = 0;
  try {
    for (;;) {
      let chunk;
      try {
        chunk = stream.blockingRead(CHUNK);
      } catch (error) {
        if (error?.payload?.tag === "closed") break;
        throw streamFailure(error);
      }
      chunks.push(chunk);
      length += chunk.length;
    }
  } catch (error) {
    drop(stream);
    drop(body);
    throw error;
  }
  drop(stream);
  drop(IncomingBody.finish(body));
  const data = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    data.set(chunk, offset);
    offset += chunk.length;
  }
  return data;
}

/** The response of `future`, polling until it is ready. */
function wait(future) {
  let result;
  for (;;) {
    result = future.get();
    if (result !== undefined) break;
    const pollable = future.subscribe();
    try {
      pollable.block();
    } finally {
      drop(pollable);
    }
  }
  if (result.tag === "err") throw new HttpError("response already taken"); // cannot happen here
  const inner = result.val;
  if (inner.tag === "err") throw new HttpError(errorName(inner.val), inner.val);
  return inner.val;
}

function headerList(headers) {
  if (headers === undefined || headers === null) return [];
  if (typeof headers[Symbol.iterator] === "function") return [...headers];
  return Object.entries(headers);
}

/**
 * Sends a request and waits for the whole response.
 *
 * `options.headers`: an object, or an iterable of `[name, value]` pairs.
 * `options.body`: a Uint8Array (or ArrayBuffer), or a string (sent as UTF-8,
 * with `content-type: text/plain; charset=utf-8` unless one is given); a
 * body is sent with its `content-length`.
 * `options.timeoutMs` bounds connecting, the first byte and the gap between
 * bytes.
 */
export function request(method, url, options = {}) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  const scheme = parsed?.protocol.slice(0, -1).toLowerCase();
  if ((scheme !== "http" && scheme !== "https") || !parsed.host) {
    throw new HttpError(`invalid URL ${JSON.stringify(String(url))}: expected http:// or https:// and a host`);
  }
  const headers = headerList(options.headers);
  let body = options.body;
  const has = (wanted) => headers.some(([name]) => String(name).toLowerCase() === wanted);
  if (typeof body === "string") {
    body = encoder.encode(body);
    if (!has("content-type")) headers.push(["content-type", "text/plain; charset=utf-8"]);
  } else if (body instanceof ArrayBuffer) {
    body = new Uint8Array(body);
  } else if (body !== undefined && body !== null && !(body instanceof Uint8Array)) {
    throw new TypeError("http.request: body must be a string, Uint8Array or ArrayBuffer");
  }
  // A known length (servers that do not take chunked bodies still read it).
  if (body && !has("content-length")) headers.push(["content-length", String(body.length)]);

  const outgoing = new OutgoingRequest(fields(headers));
  method = String(method).toUpperCase();
  const settings = [
    ["method", (v) => outgoing.setMethod(v), METHODS.includes(method) ? { tag: method.toLowerCase() } : { tag: "other", val: method }],
    ["scheme", (v) => outgoing.setScheme(v), { tag: scheme === "https" ? "HTTPS" : "HTTP" }],
    ["authority", (v) => outgoing.setAuthority(v), parsed.host],
    ["path", (v) => outgoing.setPathWithQuery(v), (parsed.pathname || "/") + parsed.search],
  ];
  for (const [what, set, value] of settings) {
    try {
      set(value);
    } catch {
      drop(outgoing);
      throw new HttpError(`invalid ${what} in ${method} ${url}`);
    }
  }
  const outgoingBody = outgoing.body();

  let requestOptions;
  if (options.timeoutMs !== undefined) {
    requestOptions = new RequestOptions();
    const nanos = BigInt(Math.round(Number(options.timeoutMs) * 1e6));
    for (const set of ["setConnectTimeout", "setFirstByteTimeout", "setBetweenBytesTimeout"]) {
      try {
        requestOptions[set](nanos);
      } catch {
        // the host does not support this one
      }
    }
  }

  let future;
  try {
    future = handle(outgoing, requestOptions);
  } catch (error) {
    drop(outgoingBody);
    throw failure(error);
  }
  let response;
  try {
    if (body && body.length > 0) write(outgoingBody, body);
    else OutgoingBody.finish(outgoingBody, undefined);
    response = wait(future);
  } catch (error) {
    throw failure(error);
  } finally {
    drop(future);
  }
  try {
    const status = response.status();
    const responseHeaders = response.headers();
    let entries;
    try {
      entries = responseHeaders.entries();
    } finally {
      drop(responseHeaders);
    }
    const data = read(response);
    const merged = {};
    for (const [name, value] of entries) {
      const key = name.toLowerCase();
      const text = decoder.decode(value);
      merged[key] = Object.hasOwn(merged, key) ? `${merged[key]}, ${text}` : text;
    }
    return new Response(status, merged, data);
  } finally {
    drop(response);
  }
}

/** `request("GET", url, { headers, timeoutMs })`. */
export function get(url, options = {}) {
  return request("GET", url, { ...options, body: undefined });
}

/** `request("POST", url, { body, headers, timeoutMs })`. */
export function post(url, body, options = {}) {
  return request("POST", url, { ...options, body });
}
