// An in-memory purr host for the SDK's unit tests: what the `purr:bot/*`
// imports do, with the same JS shapes componentize-js gives (results
// returned or thrown, `option` as undefined, `list<u8>` as Uint8Array, `u64`
// as BigInt) -- or, when a test sets `globalThis.__cqjs` before loading it,
// the shapes componentize-qjs gives (`option` as null, `u64` as a Number).

/** Whether the test plays QuickJS (see above). */
export const QUICKJS = globalThis.__cqjs !== undefined;
/** A WIT `none` as the engine gives it. */
export const NONE = QUICKJS ? null : undefined;

/** What the bindings throw for an import's `err`: an Error whose message is the host's. */
export class ComponentError extends Error {
  constructor(value) {
    super(value);
    Object.defineProperty(this, "payload", { value, enumerable: false });
  }
}

export const host = {
  kv: new Map(), // key -> Uint8Array
  config: {}, // key -> string, or array of strings (get-list)
  sent: [], // { op, ...args }
  timers: [], // { id, afterMs, payload }
  logs: [], // [level, message]
  failing: {}, // import name -> error message it answers
  nextId: 1,
};

/** Empties the fake host between tests. */
export function reset() {
  host.kv.clear();
  host.config = {};
  host.sent.length = 0;
  host.timers.length = 0;
  host.logs.length = 0;
  host.failing = {};
  host.nextId = 1;
}

function check(name) {
  if (Object.hasOwn(host.failing, name)) throw new ComponentError(host.failing[name]);
}

function record(op, fields) {
  check(op);
  host.sent.push({ op, ...fields });
  return `m${host.nextId++}`;
}

function configValue(value) {
  return Array.isArray(value) ? JSON.stringify(value) : value;
}

export const imports = {
  messaging: {
    sendText: (chat, text) => record("sendText", { chat, text }),
    reply: (chat, quoted, text) => record("reply", { chat, quoted, text }),
    react: (chat, target, emoji) => void record("react", { chat, target, emoji }),
    sendMedia: (chat, kind, data, mime, caption, fileName) =>
      record("sendMedia", { chat, kind, data, mime, caption, fileName }),
    edit: (chat, target, text) => void record("edit", { chat, target, text }),
    delete: (chat, target) => void record("delete", { chat, target }),
    markRead: (chat, sender, ids) => void record("markRead", { chat, sender, ids }),
    setChatState: (chat, state) => void record("setChatState", { chat, state }),
    downloadMedia: (handle) => {
      check("downloadMedia");
      return new TextEncoder().encode(`bytes of ${handle}`);
    },
  },
  kv: {
    get: (key) => {
      check("kvGet");
      return host.kv.get(key) ?? NONE;
    },
    set: (key, value) => {
      check("kvSet");
      if (!(value instanceof Uint8Array)) throw new TypeError("kv.set: value must be a Uint8Array");
      host.kv.set(key, value);
    },
    delete: (key) => host.kv.delete(key),
    listKeys: (prefix) => [...host.kv.keys()].filter((k) => k.startsWith(prefix)).sort(),
  },
  config: {
    get: (key) => (Object.hasOwn(host.config, key) ? configValue(host.config[key]) : NONE),
    getList: (key) => (Array.isArray(host.config[key]) ? [...host.config[key]] : NONE),
    keys: () => Object.keys(host.config).sort(),
    allJson: () => JSON.stringify(host.config),
  },
  timers: {
    schedule: (afterMs, payload) => {
      check("schedule");
      if (typeof afterMs !== (QUICKJS ? "number" : "bigint")) {
        throw new TypeError(`timers.schedule: after-ms must be a ${QUICKJS ? "Number (QuickJS)" : "BigInt"}`);
      }
      const id = `t${host.nextId++}`;
      host.timers.push({ id, afterMs, payload });
      return id;
    },
    cancel: (id) => {
      const at = host.timers.findIndex((t) => t.id === id);
      if (at < 0) return false;
      host.timers.splice(at, 1);
      return true;
    },
  },
  log: {
    log: (level, message) => void host.logs.push([level, message]),
  },
};
