// Types of purr-sdk, the JavaScript SDK for purr plugins (purr:bot@0.1.1).
//
// `bot.on("message:text", (ctx) => ...)` narrows `ctx` to what that filter
// query guarantees (here `ctx.text: string`); editors complete the queries.
// The WIT values are as the engine gives them: variants `{ tag, val }`,
// enums strings, `list<u8>` Uint8Array; `option<T>` T or undefined on
// StarlingMonkey, T or null on QuickJS; `u64` a bigint on StarlingMonkey, a
// number on QuickJS. (`ctx`'s own fields are the same on both.)

// ---------------------------------------------------------------- WIT types
export type Jid = string;
/** A WIT `u64`: a bigint on StarlingMonkey, a number on QuickJS. */
export type U64 = bigint | number;
export type MessageId = string;

export interface Media {
  /** Opaque token for `ctx.download()` / `messaging.downloadMedia`. */
  handle: string;
  mime: string;
  size: U64;
  caption?: string | null;
  fileName?: string | null;
  seconds?: number | null;
}
export interface ExtendedText {
  text: string;
  previewUrl?: string | null;
  previewTitle?: string | null;
}
export interface Location {
  latitude: number;
  longitude: number;
  name?: string | null;
  address?: string | null;
}
export interface Contact {
  displayName: string;
  vcard: string;
}
export interface Reaction {
  targetId: MessageId;
  /** Empty when the sender removed their reaction. */
  emoji: string;
}

export type MediaKind = "image" | "video" | "audio" | "document" | "sticker";
export type TextContent = { tag: "text"; val: string } | { tag: "extended-text"; val: ExtendedText };
export type MediaContent<K extends MediaKind = MediaKind> = K extends MediaKind ? { tag: K; val: Media } : never;
export type LocationContent = { tag: "location"; val: Location };
export type ContactContent = { tag: "contact"; val: Contact };
export type ReactionContent = { tag: "reaction"; val: Reaction };
export type UnknownContent = { tag: "unknown"; val: string };
export type Content = TextContent | MediaContent | LocationContent | ContactContent | ReactionContent | UnknownContent;

export interface Message<C extends Content = Content> {
  id: MessageId;
  chat: Jid;
  sender: Jid;
  fromMe: boolean;
  timestampMs: U64;
  pushName?: string | null;
  isGroup: boolean;
  quotedId?: MessageId | null;
  content: C;
}

export type ReceiptKind = "delivered" | "read" | "played" | "retry";
export interface Receipt {
  chat: Jid;
  sender: Jid;
  messageIds: MessageId[];
  kind: ReceiptKind;
  timestampMs: U64;
}
export interface Presence {
  sender: Jid;
  available: boolean;
  lastSeenMs?: U64 | null;
}
export type ChatState = "composing" | "recording" | "paused";
export interface ChatStateUpdate {
  chat: Jid;
  sender: Jid;
  state: ChatState;
}
export type GroupChange =
  | { tag: "added" | "removed" | "promoted" | "demoted"; val: Jid[] }
  | { tag: "subject" | "description" | "other"; val: string }
  | { tag: "announce-only" | "locked"; val: boolean };
export interface GroupUpdate {
  group: Jid;
  author?: Jid | null;
  change: GroupChange;
  timestampMs: U64;
}
export interface QrCode {
  code: string;
  expiresInMs: U64;
}
export interface TimerFired {
  id: string;
  payload: string;
}

export type MessageEvent<C extends Content = Content> = { tag: "message"; val: Message<C> };
export type ReceiptEvent = { tag: "receipt"; val: Receipt };
export type PresenceEvent = { tag: "presence"; val: Presence };
export type ChatStateEvent = { tag: "chat-state"; val: ChatStateUpdate };
export type GroupUpdateEvent = { tag: "group-update"; val: GroupUpdate };
export type TimerEvent = { tag: "timer"; val: TimerFired };
export type StartedEvent = { tag: "started" };
export type QrEvent = { tag: "qr"; val: QrCode };
export type PairCodeEvent = { tag: "pair-code"; val: string };
export type ConnectedEvent = { tag: "connected"; val: Jid };
export type DisconnectedEvent = { tag: "disconnected"; val: string };
export type LoggedOutEvent = { tag: "logged-out"; val: string };
export type Event =
  | MessageEvent
  | ReceiptEvent
  | PresenceEvent
  | ChatStateEvent
  | GroupUpdateEvent
  | TimerEvent
  | StartedEvent
  | QrEvent
  | PairCodeEvent
  | ConnectedEvent
  | DisconnectedEvent
  | LoggedOutEvent;

/** The WIT `context` record `handle` receives. */
export interface HostContext {
  session: string;
  eventId: string;
  selfJid?: Jid | null;
}
export type Flow = "next" | "stop";

// ---------------------------------------------------------------- state, config, log
/** JSON values in the plugin's kv store under a scope; keys without the scope's prefix. */
export class Kv {
  constructor(prefix?: string);
  readonly prefix: string;
  /** The decoded value of `key`, or undefined when it is not set. */
  get<T = any>(key: string): T | undefined;
  /** The decoded value of `key`, or `fallback` when it is not set. */
  get<T = any>(key: string, fallback: T): T;
  /** Stores `value` (anything `JSON.stringify` encodes) under `key`. */
  set(key: string, value: unknown): void;
  /** Removes `key`; returns whether it was set. */
  delete(key: string): boolean;
  /** The keys that start with `prefix`, in ascending order. */
  keys(prefix?: string): string[];
}

/** The plugin's settings. An ill-typed value throws an Error naming the key. */
export class Config {
  get(key: string): string | undefined;
  get<T>(key: string, fallback: T): string | T;
  getInt(key: string): number | undefined;
  getInt<T>(key: string, fallback: T): number | T;
  getFloat(key: string): number | undefined;
  getFloat<T>(key: string, fallback: T): number | T;
  getBool(key: string): boolean | undefined;
  getBool<T>(key: string, fallback: T): boolean | T;
  getList(key: string): string[] | undefined;
  getList<T>(key: string, fallback: T): string[] | T;
  /** The names of all settings, in ascending order. */
  keys(): string[];
  /** The whole table, decoded from JSON. */
  json(): Record<string, any>;
  /** The whole table (same as `json()`). */
  all(): Record<string, any>;
}
export const config: Config;

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";
export type Log = Readonly<Record<LogLevel, (message: unknown) => void>>;
/** The host log: `log.info("...")`. Only inside handlers. */
export const log: Log;

// ---------------------------------------------------------------- ctx
/** One event and what a handler can do with it. */
export class Context<E extends Event = Event> {
  constructor(context: HostContext, event: E);
  /** The raw WIT event. */
  readonly event: E;
  readonly session: string;
  readonly eventId: string;
  readonly selfJid?: Jid;
  /** The raw WIT message (message events). */
  readonly message?: Message;
  /** Text or extended text; undefined for anything else (a media caption is not text). */
  readonly text?: string;
  /** The message's chat; a receipt's, chat-state's chat; a group update's group. */
  readonly chat?: Jid;
  readonly sender?: Jid;
  readonly fromMe: boolean;
  readonly isGroup: boolean;
  /** The message's id. */
  readonly id?: MessageId;
  readonly pushName?: string;
  /** Timer events: the id `ctx.later` returned. */
  readonly timerId?: string;
  /** Timer events: the payload given to `ctx.later`, decoded (the raw string when not JSON). */
  readonly payload?: any;
  /** A command's rest (string), or the RegExpMatchArray of `hears`. */
  match?: string | RegExpMatchArray;
  /** A command's arguments. */
  args: string[];
  /** The command's name as registered (lowercase). */
  command?: string;
  /** Whether `stop()` was called. */
  readonly stopped: boolean;
  readonly config: Config;
  readonly log: Log;
  /** JSON values of this plugin in this session. */
  readonly kv: Kv;
  /** JSON values of this chat (`chat/<chat>/<key>`). Throws when the event has no chat. */
  readonly chatKv: Kv;
  /** JSON values of this sender (`sender/<sender>/<key>`). Throws when the event has no sender. */
  readonly senderKv: Kv;

  /** Ends routing: no later route runs and the plugin answers `flow::stop`. */
  stop(): void;
  /** Sends `text` to the chat quoting the message; returns the new message's id. */
  reply(text: unknown): MessageId;
  /** Sends `text` to the event's chat. */
  send(text: unknown): MessageId;
  /** Sends `text` to `chat`. */
  sendTo(chat: Jid, text: unknown): MessageId;
  /** Reacts to the message (an empty emoji removes the reaction). */
  react(emoji: string): void;
  /** Uploads `data` (bytes, or a string sent as UTF-8) and sends it to the chat. */
  sendMedia(
    kind: MediaKind,
    data: Uint8Array | ArrayBuffer | ArrayBufferView | number[] | string,
    mime: string,
    caption?: string,
    fileName?: string,
  ): MessageId;
  /** The bytes of the message's media. */
  download(): Uint8Array;
  /** Marks the message as read. */
  markRead(): void;
  /** Schedules a `timer` event `ms` from now carrying `payload` (as JSON); returns its id. */
  later(ms: number | bigint, payload?: unknown): string;
  /** Cancels a pending timer; returns whether it was pending. */
  cancel(timerId: string): boolean;
}

/** ctx of a message route. */
export interface MessageContext<C extends Content = Content> extends Context<MessageEvent<C>> {
  readonly message: Message<C>;
  readonly chat: Jid;
  readonly sender: Jid;
  readonly id: MessageId;
}
/** ctx of a text message route. */
export interface TextContext extends MessageContext<TextContent> {
  readonly text: string;
}
/** ctx of a `command` route. */
export interface CommandContext extends TextContext {
  /** The text after the command and one White_Space char. */
  match: string;
  args: string[];
  command: string;
}
/** ctx of a `hears` route. */
export interface HearsContext extends TextContext {
  match: RegExpMatchArray;
}
export interface TimerContext extends Context<TimerEvent> {
  readonly timerId: string;
  readonly payload: any;
}
export interface ReceiptContext extends Context<ReceiptEvent> {
  readonly chat: Jid;
  readonly sender: Jid;
}
export interface ChatStateContext extends Context<ChatStateEvent> {
  readonly chat: Jid;
  readonly sender: Jid;
}
export interface GroupUpdateContext extends Context<GroupUpdateEvent> {
  /** The group. */
  readonly chat: Jid;
}
export interface PresenceContext extends Context<PresenceEvent> {
  readonly sender: Jid;
}

// ---------------------------------------------------------------- routing
/** What each filter query guarantees about `ctx`. */
export interface FilterContexts {
  "*": Context;
  message: MessageContext;
  "message:text": TextContext;
  "message:image": MessageContext<MediaContent<"image">>;
  "message:video": MessageContext<MediaContent<"video">>;
  "message:audio": MessageContext<MediaContent<"audio">>;
  "message:document": MessageContext<MediaContent<"document">>;
  "message:sticker": MessageContext<MediaContent<"sticker">>;
  "message:media": MessageContext<MediaContent>;
  "message:location": MessageContext<LocationContent>;
  "message:contact": MessageContext<ContactContent>;
  "message:reaction": MessageContext<ReactionContent>;
  "message:unknown": MessageContext<UnknownContent>;
  receipt: ReceiptContext;
  presence: PresenceContext;
  "chat-state": ChatStateContext;
  "group-update": GroupUpdateContext;
  started: Context<StartedEvent>;
  qr: Context<QrEvent>;
  "pair-code": Context<PairCodeEvent>;
  connected: Context<ConnectedEvent>;
  disconnected: Context<DisconnectedEvent>;
  "logged-out": Context<LoggedOutEvent>;
  timer: TimerContext;
}
/** A filter query for `bot.on`. */
export type FilterQuery = keyof FilterContexts;
/** Filter query -> the event kinds it matches (null: every event). */
export const FILTERS: Readonly<Record<FilterQuery, readonly string[] | null>>;

/** Options of a route. */
export interface RouteOptions {
  /** Also run for messages this account sent itself (skipped by default). */
  own?: boolean;
}

type Awaitable<T> = T | PromiseLike<T>;
export type Handler<C> = (ctx: C) => Awaitable<unknown>;
/** Runs the later routes; resolves when they are done. */
export type Next = () => PromiseLike<void>;
export type Middleware = (ctx: Context, next: Next) => Awaitable<unknown>;

/** The WIT handler export componentize-js needs. */
export interface PluginHandler {
  init(): void;
  handle(context: HostContext, event: Event): Flow | { tag: "err"; val: string } | Promise<Flow | { tag: "err"; val: string }>;
}

/** The routes of a plugin, tried in registration order for every event. */
export class Bot {
  constructor();
  /** Runs `handler` for events matching `filter` (a query, or an array: any of them). An unknown query throws. */
  on<Q extends FilterQuery>(filter: Q | readonly Q[], handler: Handler<FilterContexts[Q]>, options?: RouteOptions): this;
  /** Runs `handler` for a text starting with `/name` or `!name` (case-insensitive; `name` may be aliases). */
  command(name: string | readonly string[], handler: Handler<CommandContext>, options?: RouteOptions): this;
  /** Runs `handler` when `pattern` is found in the text of a text message. */
  hears(pattern: RegExp | string, handler: Handler<HearsContext>, options?: RouteOptions): this;
  /** Runs `middleware(ctx, next)` for every event; not calling `next` stops routing (`flow::stop`). */
  use(middleware: Middleware, options?: RouteOptions): this;
  /** Handles errors out of any route instead of failing the event; what it throws fails the event. */
  catch(handler: (error: unknown, ctx: Context) => Awaitable<unknown>): this;
  /** Handles one event (the WIT `handle`). */
  dispatch(context: HostContext, event: Event): ReturnType<PluginHandler["handle"]>;
  /** The object to export: `export const handler = bot.handler()`. */
  handler(): PluginHandler;
}

/** The message of anything thrown (`Error.message`, else `String(error)`). */
export function errorMessage(error: unknown): string;

// ---------------------------------------------------------------- text rules
/** The 25 Unicode White_Space characters. */
export const WHITESPACE: string;
/** Whether `char` is Unicode White_Space. */
export function isSpace(char: string): boolean;
/** `text` without Unicode White_Space at either end (Rust's `str::trim`). */
export function trim(text: string): string;
/** `[name (lowercase), rest]` when `text` is a `/name` or `!name` command, else undefined. */
export function commandToken(text: string): [string, string] | undefined;
/** Splits on runs of White_Space; `"double"` / `'single'` quotes group words. */
export function splitArgs(text: string): string[];
