// An in-memory `wasi:http` (types + outgoing-handler) for the SDK's http
// tests: records each request, answers with what `http.respond` returns, and
// checks resources the way wasmtime does (a parent dropped or finished
// while a child lives is an error; `http.live` lists what is not dropped).

import { ComponentError } from "./fake-host.mjs";

const DISPOSE = Symbol.dispose ?? Symbol.for("dispose");

export const http = {
  requests: [], // { method, scheme, authority, path, headers: [[name, text]], body: string, options, writes: [sizes] }
  respond: () => ({ status: 200, headers: [], body: "" }), // request -> response | { deny: code } | { error: code } | { readError: code, body } | { writeError: code }
  live: new Set(),
  problems: [], // resource rule violations
};

export function resetHttp() {
  http.requests.length = 0;
  http.respond = () => ({ status: 200, headers: [], body: "" });
  http.live.clear();
  http.problems.length = 0;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

class Resource {
  constructor(parent) {
    this.parent = parent;
    this.children = new Set();
    parent?.children.add(this);
    http.live.add(this);
  }
  [DISPOSE]() {
    if (!http.live.has(this)) http.problems.push(`${this.constructor.name} dropped twice`);
    if (this.children.size) http.problems.push(`${this.constructor.name} dropped with live children`);
    http.live.delete(this);
    this.parent?.children.delete(this);
  }
  consumed() {
    // Passed by ownership to the host: gone from the guest.
    if (this.children.size) http.problems.push(`${this.constructor.name} consumed with live children`);
    http.live.delete(this);
    this.parent?.children.delete(this);
  }
}

export class Fields extends Resource {
  constructor(entries = [], parent) {
    super(parent);
    this.list = entries;
  }
  static fromList(entries) {
    for (const [name, value] of entries) {
      if (!(value instanceof Uint8Array)) throw new TypeError("field values are Uint8Arrays");
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new ComponentError({ tag: "invalid-syntax" });
      if (name.toLowerCase() === "host") throw new ComponentError({ tag: "forbidden" });
    }
    return new Fields(entries.map(([n, v]) => [n, v]));
  }
  entries() {
    return this.list.map(([n, v]) => [n, v]);
  }
}

export class OutputStream extends Resource {
  constructor(body) {
    super(body);
    this.body = body;
  }
  blockingWriteAndFlush(bytes) {
    if (bytes.length > 4096) throw new Error("blocking-write-and-flush takes at most 4096 bytes");
    const { writeError } = this.body.request.answer;
    if (writeError && this.body.chunks.length > 0) {
      throw new ComponentError({ tag: "last-operation-failed", val: new IoError(writeError) });
    }
    this.body.chunks.push(bytes.slice());
  }
}

export class OutgoingBody extends Resource {
  constructor() {
    super();
    this.chunks = [];
  }
  write() {
    return new OutputStream(this);
  }
  static finish(body, trailers) {
    if (trailers !== undefined) http.problems.push("trailers given");
    body.consumed();
    body.finished = true;
    body.request?.finishBody(body);
  }
}

export class OutgoingRequest extends Resource {
  constructor(headers) {
    super();
    headers.consumed();
    this.headers = headers;
    this.method = { tag: "get" };
    this.scheme = undefined;
    this.authority = undefined;
    this.path = undefined;
  }
  setMethod(method) {
    if (method.tag === "other" && !/^[A-Z]+$/.test(method.val)) throw new ComponentError(undefined);
    this.method = method;
  }
  setScheme(scheme) {
    this.scheme = scheme;
  }
  setAuthority(authority) {
    this.authority = authority;
  }
  setPathWithQuery(path) {
    this.path = path;
  }
  body() {
    if (this.outgoingBody) throw new ComponentError(undefined);
    this.outgoingBody = new OutgoingBody();
    this.outgoingBody.request = this;
    return this.outgoingBody;
  }
  finishBody(body) {
    const size = body.chunks.reduce((n, c) => n + c.length, 0);
    const all = new Uint8Array(size);
    let at = 0;
    for (const c of body.chunks) {
      all.set(c, at);
      at += c.length;
    }
    this.record.body = decoder.decode(all);
    this.record.writes = body.chunks.map((c) => c.length);
  }
}

export class RequestOptions extends Resource {
  setConnectTimeout(ns) {
    this.connect = ns;
  }
  setFirstByteTimeout(ns) {
    this.firstByte = ns;
  }
  setBetweenBytesTimeout(ns) {
    this.betweenBytes = ns;
  }
}

export class Pollable extends Resource {
  constructor(future) {
    super(future);
    this.future = future;
  }
  block() {
    this.future.ready = true;
  }
}

class IoError extends Resource {
  constructor(code) {
    super();
    this.code = code;
  }
  toDebugString() {
    return "io error";
  }
}

export class InputStream extends Resource {
  constructor(body) {
    super(body);
    this.body = body;
  }
  blockingRead(length) {
    if (typeof length !== "bigint") throw new TypeError("length is a u64: a BigInt");
    const { data, readError } = this.body;
    if (this.body.offset >= data.length) {
      if (readError) throw new ComponentError({ tag: "last-operation-failed", val: new IoError(readError) });
      throw new ComponentError({ tag: "closed" });
    }
    const chunk = data.slice(this.body.offset, this.body.offset + Math.min(Number(length), 1000));
    this.body.offset += chunk.length;
    return chunk;
  }
}

export class FutureTrailers extends Resource {}

export class IncomingBody extends Resource {
  constructor(data, readError) {
    super();
    this.data = data;
    this.readError = readError;
    this.offset = 0;
  }
  stream() {
    return new InputStream(this);
  }
  static finish(body) {
    body.consumed();
    return new FutureTrailers();
  }
}

export class IncomingResponse extends Resource {
  constructor(answer) {
    super();
    this.answer = answer;
  }
  status() {
    return this.answer.status;
  }
  headers() {
    return new Fields(
      (this.answer.headers ?? []).map(([n, v]) => [n, encoder.encode(v)]),
      this,
    );
  }
  consume() {
    const body = this.answer.body ?? "";
    return new IncomingBody(typeof body === "string" ? encoder.encode(body) : body, this.answer.readError);
  }
}

export class FutureIncomingResponse extends Resource {
  constructor(answer) {
    super();
    this.answer = answer;
    this.ready = false;
    this.taken = false;
  }
  subscribe() {
    return new Pollable(this);
  }
  get() {
    if (!this.ready) return undefined;
    if (this.taken) return { tag: "err", val: undefined };
    this.taken = true;
    if (this.answer.error) return { tag: "ok", val: { tag: "err", val: this.answer.error } };
    return { tag: "ok", val: { tag: "ok", val: new IncomingResponse(this.answer) } };
  }
}

export function httpErrorCode(error) {
  return error.code;
}

export function handle(request, options) {
  const record = {
    method: request.method,
    scheme: request.scheme,
    authority: request.authority,
    path: request.path,
    headers: request.headers.list.map(([n, v]) => [n, decoder.decode(v)]),
    body: undefined,
    options: options && { connect: options.connect, firstByte: options.firstByte, betweenBytes: options.betweenBytes },
  };
  http.requests.push(record);
  request.record = record;
  request.consumed();
  options?.consumed();
  const answer = http.respond(record);
  request.answer = answer;
  if (answer.deny) throw new ComponentError(answer.deny);
  return new FutureIncomingResponse(answer);
}

export const imports = {
  "wasi:http/types": {
    Fields, OutgoingRequest, OutgoingBody, RequestOptions, IncomingBody, IncomingResponse,
    FutureIncomingResponse, FutureTrailers, InputStream, OutputStream, Pollable, httpErrorCode,
  },
  "wasi:http/outgoing-handler": { handle },
};
