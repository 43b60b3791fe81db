// Types of purr-sdk/http: outbound HTTP over wasi:http, blocking. Needs
// `"purr": { "http": true }` in the plugin's package.json.

/** A WIT `error-code` of wasi:http (`{ tag: "HTTP-request-denied" }`, `{ tag: "DNS-error", val: {...} }`, ...). */
export interface ErrorCode {
  tag: string;
  val?: unknown;
}

/** A request failed; `code` is the WIT error-code, undefined when the failure was not one (e.g. a bad header). */
export class HttpError extends Error {
  readonly code?: ErrorCode;
}

export class Response {
  readonly status: number;
  /** Lowercase name -> value; repeated headers joined with `, `. */
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
  /** The body decoded as UTF-8 (invalid bytes replaced). */
  text(): string;
  /** The body decoded as JSON. */
  json<T = any>(): T;
}

export type Headers = Record<string, string | Uint8Array> | Iterable<readonly [string, string | Uint8Array]>;

export interface RequestOptions {
  headers?: Headers;
  /** A string is sent as UTF-8 with `content-type: text/plain; charset=utf-8` unless one is given. */
  body?: string | Uint8Array | ArrayBuffer;
  /** Bounds connecting, the first byte and the gap between bytes. */
  timeoutMs?: number;
}

/** Sends a request and waits for the whole response. Throws HttpError. */
export function request(method: string, url: string, options?: RequestOptions): Response;
/** `request("GET", url, options)`. */
export function get(url: string, options?: Omit<RequestOptions, "body">): Response;
/** `request("POST", url, { ...options, body })`. */
export function post(url: string, body?: string | Uint8Array | ArrayBuffer, options?: Omit<RequestOptions, "body">): Response;
/** The WIT name of an error-code in words: `HTTP-request-denied` -> `HTTP request denied`. */
export function errorName(code: ErrorCode): string;
