// `Context`: one per event, what the event says (`ctx.text`, `ctx.chat`,
// ...) and what a handler can do about it (`ctx.reply`, `ctx.kv`,
// `ctx.later`, ...). Every action throws an Error carrying the host's
// message when the host refuses it.

import { u64 } from "./engine.js"; // also TextEncoder under QuickJS
import { messaging, timers } from "./host.js";
import { log } from "./log.js";
import { Kv, config } from "./state.js";
import { commandToken } from "./text.js";

const MEDIA_KINDS = ["image", "video", "audio", "document", "sticker"];
const encoder = new TextEncoder();

/**
 * One event and what a handler can do with it.
 *
 * Always set: `event` (the raw WIT event), `session`, `eventId`, `selfJid`.
 * For a message: `message` (the raw WIT message), `text` (text or extended
 * text; undefined for anything else, media captions included), `chat`,
 * `sender`, `fromMe`, `isGroup`, `id`, `pushName`. For a receipt or
 * chat-state update `chat` and `sender`, for a group update `chat` (the
 * group), for a presence `sender`. For a timer `timerId` and `payload`
 * (decoded JSON; the raw string when it is not JSON).
 *
 * Set by the matching route: `match` (a command's rest, or the
 * RegExpMatchArray of `hears`), `args` (a command's arguments) and `command`.
 */
export class Context {
  // Only what the event carries is set here; every other field reads its
  // default from the prototype (see the end of this file). Each property a
  // constructor sets costs ~0.25 µs in StarlingMonkey's interpreter, and
  // this runs for every event.
  constructor(context, event) {
    this.event = event;
    this.session = context.session;
    this.eventId = context.eventId;
    this.selfJid = context.selfJid ?? undefined; // none is null under QuickJS
    const value = event.val;
    switch (event.tag) {
      case "message": {
        this.message = value;
        this.chat = value.chat;
        this.sender = value.sender;
        this.fromMe = value.fromMe;
        this.isGroup = value.isGroup;
        this.id = value.id;
        this.pushName = value.pushName ?? undefined;
        const content = value.content;
        if (content.tag === "text") this.text = content.val;
        else if (content.tag === "extended-text") this.text = content.val.text;
        break;
      }
      case "timer":
        this.timerId = value.id;
        try {
          this.payload = JSON.parse(value.payload);
        } catch {
          this.payload = value.payload;
        }
        break;
      case "receipt":
      case "chat-state":
        this.chat = value.chat;
        this.sender = value.sender;
        break;
      case "group-update":
        this.chat = value.group;
        break;
      case "presence":
        this.sender = value.sender;
        break;
    }
  }

  /** A command's arguments (`[]` until a `command` route matched). */
  get args() {
    return (this._args ??= []);
  }

  set args(value) {
    this._args = value;
  }

  /** The plugin's settings (`ctx.config.get("key")`, `getInt`, ...). */
  get config() {
    return config;
  }

  /** The host log: `ctx.log.info("...")`. */
  get log() {
    return log;
  }

  /** `[name, rest]` when the text is a command (see `commandToken`), else undefined. */
  _commandToken() {
    if (this._token === null) this._token = this.text === undefined ? undefined : commandToken(this.text);
    return this._token;
  }

  // ------------------------------------------------------------ routing
  /** Ends routing for this event: no later route runs and the plugin answers `flow::stop`. */
  stop() {
    this.stopped = true;
  }

  // ------------------------------------------------------------ actions
  _needChat(what) {
    if (this.chat === undefined) throw new Error(`ctx.${what}: this event has no chat`);
    return this.chat;
  }

  _needMessage(what) {
    if (this.message === undefined) throw new Error(`ctx.${what}: this event is not a message`);
    return this.message;
  }

  /** Sends `text` to the chat, quoting the message; returns the new message's id. */
  reply(text) {
    const message = this._needMessage("reply");
    return messaging.reply(message.chat, message.id, String(text));
  }

  /** Sends `text` to the event's chat; returns the new message's id. */
  send(text) {
    return messaging.sendText(this._needChat("send"), String(text));
  }

  /** Sends `text` to `chat` (e.g. from a timer); returns the new message's id. */
  sendTo(chat, text) {
    return messaging.sendText(chat, String(text));
  }

  /** Reacts to the message with `emoji` (an empty one removes the reaction). */
  react(emoji) {
    const message = this._needMessage("react");
    messaging.react(message.chat, message.id, emoji);
  }

  /**
   * Uploads `data` (a Uint8Array, ArrayBuffer, array of bytes or a string,
   * sent as UTF-8) and sends it to the chat as `kind` (`"image"`, `"video"`,
   * `"audio"`, `"document"` or `"sticker"`); returns the new message's id.
   */
  sendMedia(kind, data, mime, caption, fileName) {
    if (!MEDIA_KINDS.includes(kind)) {
      throw new Error(`unknown media kind ${JSON.stringify(kind)}; known: ${MEDIA_KINDS.join(", ")}`);
    }
    let bytes;
    if (data instanceof Uint8Array) bytes = data;
    else if (typeof data === "string") bytes = encoder.encode(data);
    else if (data instanceof ArrayBuffer || Array.isArray(data)) bytes = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else throw new TypeError("ctx.sendMedia: data must be a Uint8Array, ArrayBuffer, array of bytes or string");
    return messaging.sendMedia(this._needChat("sendMedia"), kind, bytes, mime, caption ?? undefined, fileName ?? undefined);
  }

  /** The bytes of the message's media (a Uint8Array). */
  download() {
    const content = this._needMessage("download").content;
    if (!MEDIA_KINDS.includes(content.tag)) throw new Error("ctx.download: this message has no media");
    return messaging.downloadMedia(content.val.handle);
  }

  /** Marks the message as read. */
  markRead() {
    const message = this._needMessage("markRead");
    messaging.markRead(message.chat, message.sender, [message.id]);
  }

  // ------------------------------------------------------------ state
  /** JSON values of this plugin in this session. */
  get kv() {
    return (this._kv ??= new Kv(""));
  }

  /** JSON values of this chat (keys stored as `chat/<chat>/<key>`). */
  get chatKv() {
    return (this._chatKv ??= new Kv(`chat/${this._needChat("chatKv")}/`));
  }

  /** JSON values of this sender (keys stored as `sender/<sender>/<key>`). */
  get senderKv() {
    if (this._senderKv === undefined) {
      if (this.sender === undefined) throw new Error("ctx.senderKv: this event has no sender");
      this._senderKv = new Kv(`sender/${this.sender}/`);
    }
    return this._senderKv;
  }

  // ------------------------------------------------------------ timers
  /**
   * Schedules a `timer` event `ms` milliseconds from now carrying `payload`
   * (encoded as JSON); returns the timer's id.
   */
  later(ms, payload = null) {
    const after = typeof ms === "bigint" ? ms : Number.isFinite(ms) && ms >= 0 ? BigInt(Math.floor(ms)) : -1n;
    if (after < 0n) throw new RangeError(`ctx.later: ms must be a number >= 0, got ${String(ms)}`);
    const text = JSON.stringify(payload);
    if (text === undefined) throw new TypeError(`ctx.later: ${typeof payload} cannot be encoded as JSON`);
    return timers.schedule(u64(after), text);
  }

  /** Cancels a pending timer; returns whether it was pending. */
  cancel(timerId) {
    return timers.cancel(timerId);
  }
}

// The defaults of the fields a constructor leaves unset (see `Context`).
Object.assign(Context.prototype, {
  message: undefined,
  text: undefined,
  chat: undefined,
  sender: undefined,
  fromMe: false,
  isGroup: false,
  id: undefined,
  pushName: undefined,
  timerId: undefined,
  payload: undefined,
  match: undefined,
  command: undefined,
  stopped: false,
  _args: undefined,
  _token: null, // commandToken(text), computed once
  _kv: undefined,
  _chatKv: undefined,
  _senderKv: undefined,
});
