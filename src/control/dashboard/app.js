// purr dashboard: sessions with live status and QR, plugins (and their
// shadows, see "shadows" below), a test-message box.
// Talks to the control API (docs/api.md) with the bearer token kept in
// localStorage. Live events come from GET /v1/events read with fetch() (which,
// unlike EventSource, sends the Authorization header; tokens never go in URLs).

const TOKEN_KEY = "purr.token";
const MAX_EVENTS = 100;
const RETRY_MS = 1000;
const SHADOW_POLL_MS = 2000;

const $ = (id) => document.getElementById(id);

const state = {
  token: localStorage.getItem(TOKEN_KEY),
  sessions: new Map(), // name -> Session (docs/api.md)
  qr: new Map(), // name -> { code, url } of the QR image shown
  plugins: new Map(), // name -> PluginStatus (docs/api.md)
  pluginRenders: 0, // plugin statuses rendered so far (a poll older than one is dropped)
  stream: null, // AbortController of the event stream
  poll: { timer: null, busy: false, onScreen: false }, // shadow counters, see pollShadows
};

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

// One request to the API; throws ApiError with the API's message. A 401
// asks for a token again.
async function api(method, path, body, signal) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(`the host does not answer (${error.message})`, 0);
  }
  if (response.ok) return response;
  let message = `${response.status} ${response.statusText}`;
  try {
    message = (await response.json()).error.message;
  } catch {
    // not the API's error body: keep the status line
  }
  if (response.status === 401) askToken(`The host refused the token: ${message}`);
  throw new ApiError(message, response.status);
}

const json = async (method, path, body) => (await api(method, path, body)).json();
const enc = encodeURIComponent;

function notice(message) {
  const el = $("notice");
  el.textContent = message;
  el.hidden = !message;
}

function setConn(stateName) {
  const el = $("conn");
  el.dataset.state = stateName;
  el.textContent = stateName;
}

// ---- token ----

function askToken(message) {
  state.stream?.abort();
  state.stream = null;
  schedulePoll();
  setConn("offline");
  $("token-error").textContent = message ?? "";
  $("token-input").value = "";
  const dialog = $("login");
  if (!dialog.open) dialog.showModal();
  $("token-input").focus();
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token-input").value.trim();
  if (!token) return;
  state.token = token;
  localStorage.setItem(TOKEN_KEY, token);
  $("login").close();
  connect();
});

// The dialog must not be dismissed without a token.
$("login").addEventListener("cancel", (event) => {
  if (!state.token) event.preventDefault();
});

$("forget-token").addEventListener("click", () => {
  localStorage.removeItem(TOKEN_KEY);
  state.token = null;
  askToken();
});

// ---- sessions ----

const STARTABLE = new Set(["stopped", "disconnected", "logged-out", "failed"]);
const STOPPED = new Set(["stopped", "logged-out"]);

function sessionRow(name) {
  let row = document.querySelector(`#sessions tr[data-session="${CSS.escape(name)}"]`);
  if (row) return row;
  row = document.createElement("tr");
  row.dataset.session = name;
  const head = document.createElement("th");
  head.scope = "row";
  head.textContent = name;
  row.append(head);
  for (const field of ["channel", "status", "jid", "plugins"]) {
    const cell = document.createElement("td");
    cell.dataset.field = field;
    row.append(cell);
  }
  const actions = document.createElement("td");
  actions.className = "actions";
  for (const [action, label] of [["start", "Start"], ["disconnect", "Disconnect"], ["destroy", "Destroy"]]) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.action = action;
    button.textContent = label;
    button.setAttribute("aria-label", `${label} ${name}`);
    if (action === "destroy") button.className = "danger";
    button.addEventListener("click", () => lifecycle(name, action, row));
    actions.append(button);
  }
  row.append(actions);
  const body = document.querySelector("#sessions tbody");
  const after = [...body.rows].find((r) => r.dataset.session > name);
  body.insertBefore(row, after ?? null);
  return row;
}

function renderSession(session) {
  state.sessions.set(session.name, session);
  const row = sessionRow(session.name);
  row.dataset.status = session.status;
  const cell = (field) => row.querySelector(`[data-field="${field}"]`);
  cell("channel").textContent = session.channel ?? "";
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.dataset.status = session.status;
  badge.textContent = session.status;
  const status = cell("status");
  status.replaceChildren(badge);
  if (session.last_error) {
    const error = document.createElement("div");
    error.className = "error small";
    error.textContent = session.last_error;
    status.append(error);
  }
  cell("jid").textContent = session.jid ?? "—";
  cell("plugins").textContent = (session.plugins ?? []).join(" → ") || "—";
  if (!row.dataset.busy) updateButtons(row, session.status);
  $("sessions-empty").hidden = state.sessions.size > 0;
  updateQr(session);
  updateSendSessions();
}

function updateButtons(row, status) {
  for (const button of row.querySelectorAll("button[data-action]")) {
    const action = button.dataset.action;
    button.disabled =
      (action === "start" && !STARTABLE.has(status)) ||
      (action === "disconnect" && STOPPED.has(status)) ||
      (action === "destroy" && status === "logged-out");
  }
}

async function lifecycle(name, action, row) {
  if (action === "destroy" && !confirm(`Log session ${name} out for good? It will need a new QR.`)) return;
  row.dataset.busy = "1";
  for (const button of row.querySelectorAll("button")) button.disabled = true;
  try {
    renderSession(await json("POST", `/v1/sessions/${enc(name)}/${action}`));
    notice("");
  } catch (error) {
    if (error.status !== 401) notice(`${action} ${name}: ${error.message}`);
  } finally {
    delete row.dataset.busy;
    updateButtons(row, state.sessions.get(name)?.status ?? "stopped");
  }
}

// ---- QR ----

function updateQr(session) {
  const shown = state.qr.get(session.name);
  if (session.status === "scan-qr" && session.qr?.code) {
    if (shown?.code !== session.qr.code) showQr(session.name, session.qr.code);
  } else if (shown) {
    hideQr(session.name);
  }
}

function qrFigure(name) {
  let figure = document.querySelector(`#qrs figure[data-qr="${CSS.escape(name)}"]`);
  if (figure) return figure;
  figure = document.createElement("figure");
  figure.className = "qr";
  figure.dataset.qr = name;
  const img = document.createElement("img");
  img.alt = `QR code to link session ${name}`;
  img.width = 240;
  img.height = 240;
  const caption = document.createElement("figcaption");
  caption.textContent = `Scan with the phone to link ${name}`;
  figure.append(img, caption);
  $("qrs").append(figure);
  return figure;
}

async function showQr(name, code) {
  const entry = { code, url: null };
  const previous = state.qr.get(name);
  state.qr.set(name, entry);
  try {
    const blob = await (await api("GET", `/v1/sessions/${enc(name)}/qr`)).blob();
    if (state.qr.get(name) !== entry) return; // a newer code or the QR is gone
    entry.url = URL.createObjectURL(blob);
    const img = qrFigure(name).querySelector("img");
    img.dataset.code = code;
    img.src = entry.url;
  } catch (error) {
    if (state.qr.get(name) === entry) state.qr.delete(name);
    if (error.status !== 409 && error.status !== 401) notice(`QR of ${name}: ${error.message}`);
  } finally {
    if (previous?.url) URL.revokeObjectURL(previous.url);
  }
}

function hideQr(name) {
  const shown = state.qr.get(name);
  state.qr.delete(name);
  document.querySelector(`#qrs figure[data-qr="${CSS.escape(name)}"]`)?.remove();
  if (shown?.url) URL.revokeObjectURL(shown.url);
}

// ---- plugins ----

function renderPlugin(plugin) {
  state.plugins.set(plugin.name, plugin);
  state.pluginRenders += 1;
  let row = document.querySelector(`#plugins tr[data-plugin="${CSS.escape(plugin.name)}"]`);
  if (!row) {
    row = document.createElement("tr");
    row.dataset.plugin = plugin.name;
    const head = document.createElement("th");
    head.scope = "row";
    head.textContent = plugin.name;
    row.append(head);
    for (const field of ["health", "generation", "source", "traps", "last_error", "reload_error"]) {
      const cell = document.createElement("td");
      cell.dataset.field = field;
      row.append(cell);
    }
    const actions = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.action = "reload";
    button.textContent = "Reload";
    button.setAttribute("aria-label", `Reload ${plugin.name}`);
    button.addEventListener("click", () => reload(plugin.name, button));
    actions.append(button);
    row.append(actions);
    const body = document.querySelector("#plugins tbody");
    const after = [...body.rows].find((r) => r.dataset.plugin > plugin.name);
    body.insertBefore(row, after ?? null);
  }
  row.dataset.health = plugin.health;
  row.dataset.generation = plugin.generation;
  for (const field of ["health", "generation", "source", "traps", "last_error", "reload_error"]) {
    const cell = row.querySelector(`[data-field="${field}"]`);
    cell.textContent = plugin[field] ?? "—";
    cell.classList.toggle("error", field.endsWith("error") && !!plugin[field]);
  }
  if (plugin.shadow) row.dataset.shadow = "1";
  else delete row.dataset.shadow;
  renderShadow(row, plugin.name, plugin.shadow);
  updateShadowPlugins();
  schedulePoll();
}

async function reload(name, button) {
  button.disabled = true;
  try {
    renderPlugin(await json("POST", `/v1/plugins/${enc(name)}/reload`));
    notice("");
  } catch (error) {
    if (error.status !== 401) notice(`reload ${name}: ${error.message}`);
    await loadPlugins().catch(() => {});
  } finally {
    button.disabled = false;
  }
}

async function loadPlugins() {
  for (const plugin of await json("GET", "/v1/plugins")) renderPlugin(plugin);
}

// ---- shadows ----
// A plugin's shadow (a candidate version run beside it on every live event
// and compared, docs/api.md) shows in a row under the plugin's: its file, the
// counters, the latest differences (newest first), Promote and Drop shadow.

const COUNTERS = [
  ["compared", "compared"],
  ["identical", "identical"],
  ["differing", "differing"],
  ["candidate_errors", "candidate errors"],
  ["dropped", "dropped"],
];

// Outbound variants (`{"Text": {...}}`) by the names the API's errors and
// the CLI use for them.
const SENDS = {
  Text: "send-text",
  Reply: "reply",
  React: "react",
  Media: "send-media",
  Edit: "edit",
  Delete: "delete",
  MarkRead: "mark-read",
  SetChatState: "set-chat-state",
};

// One send in words: `send-text to alice@sim: "pong"`.
function sendText(outbound) {
  const [variant, fields] = Object.entries(outbound ?? {})[0] ?? ["?", {}];
  const words = `${SENDS[variant] ?? variant} to ${fields?.chat ?? "?"}`;
  const text = fields?.text ?? fields?.caption ?? fields?.emoji;
  return text == null ? words : `${words}: ${JSON.stringify(text)}`;
}

// How one side's run ended, in words.
function endText(end) {
  if (end?.result === "handled") return end.stopped ? "handled (stop)" : "handled";
  if (end?.result === "failed") return `failed in ${end.plugin}: ${end.error}`;
  return JSON.stringify(end);
}

// One difference between the live run and the candidate's, in words.
function differenceText(difference) {
  const { kind, index } = difference;
  switch (kind) {
    case "text":
      return `send ${index} to ${difference.chat}: ${JSON.stringify(difference.live)} → ${JSON.stringify(difference.candidate)}`;
    case "missing":
      return `missing: send ${index}, live sent ${sendText(difference.live)}`;
    case "extra":
      return `extra: send ${index}, candidate sent ${sendText(difference.candidate)}`;
    case "other":
      return `send ${index} differs: live sent ${sendText(difference.live)}, candidate sent ${sendText(difference.candidate)}`;
    case "end":
      return `ended differently: live ${endText(difference.live)}, candidate ${endText(difference.candidate)}`;
    default:
      return JSON.stringify(difference);
  }
}

// One differing event: when, which session and event, and each difference.
function differenceItem(entry) {
  const item = document.createElement("li");
  item.dataset.session = entry.session;
  item.dataset.event = entry.event_id;
  const head = document.createElement("div");
  const at = new Date(entry.at_ms);
  const time = document.createElement("time");
  time.dateTime = at.toISOString();
  time.textContent = at.toLocaleTimeString();
  const session = document.createElement("b");
  session.textContent = entry.session;
  const id = document.createElement("code");
  id.textContent = entry.event_id;
  head.append(time, " ", session, " ", entry.kind, " ", id);
  const list = document.createElement("ul");
  for (const difference of entry.differences ?? []) {
    const line = document.createElement("li");
    line.dataset.kind = difference.kind;
    line.textContent = differenceText(difference);
    list.append(line);
  }
  item.append(head, list);
  return item;
}

// The shadow row under plugin `name`'s row, made if missing.
function shadowRow(row, name) {
  const next = row.nextElementSibling;
  if (next?.dataset.shadowOf === name) return next;
  const detail = document.createElement("tr");
  detail.className = "shadow";
  detail.dataset.shadowOf = name;
  const cell = document.createElement("td");
  cell.colSpan = row.cells.length;
  const head = document.createElement("div");
  head.className = "shadow-head";
  const title = document.createElement("b");
  title.textContent = "Shadow";
  const path = document.createElement("code");
  path.dataset.field = "path";
  const since = document.createElement("span");
  since.className = "muted small";
  since.dataset.field = "since";
  const actions = document.createElement("span");
  actions.className = "actions";
  for (const [action, label] of [["promote", "Promote"], ["unshadow", "Drop shadow"]]) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.action = action;
    button.textContent = label;
    button.setAttribute("aria-label", `${label} (${name})`);
    button.addEventListener("click", () => shadowAction(name, action, detail));
    actions.append(button);
  }
  head.append(title, " ", path, " ", since, actions);
  const counters = document.createElement("p");
  counters.className = "counters";
  for (const [key, label] of COUNTERS) {
    const counter = document.createElement("span");
    counter.dataset.counter = key;
    counter.append(document.createElement("b"), ` ${label}`);
    counters.append(counter);
  }
  const differences = document.createElement("ol");
  differences.className = "differences";
  const none = document.createElement("p");
  none.className = "muted small";
  none.dataset.field = "no-differences";
  none.textContent = "No differences yet.";
  cell.append(head, counters, differences, none);
  detail.append(cell);
  row.after(detail);
  return detail;
}

function renderShadow(row, name, shadow) {
  if (!shadow) {
    const next = row.nextElementSibling;
    if (next?.dataset.shadowOf === name) next.remove();
    return;
  }
  const detail = shadowRow(row, name);
  detail.querySelector('[data-field="path"]').textContent = shadow.path;
  const since = detail.querySelector('[data-field="since"]');
  since.textContent = `sha256 ${shadow.digest.slice(0, 12)}…, since ${new Date(shadow.since_ms).toLocaleString()}`;
  since.title = shadow.digest;
  for (const [key] of COUNTERS) {
    const counter = detail.querySelector(`[data-counter="${key}"]`);
    counter.firstChild.textContent = String(shadow[key] ?? 0);
    counter.classList.toggle("nonzero", key !== "compared" && key !== "identical" && shadow[key] > 0);
  }
  // `recent` changes only when `differing` grows (or the shadow is replaced).
  const key = `${shadow.since_ms}/${shadow.digest}/${shadow.differing}`;
  const list = detail.querySelector("ol.differences");
  if (list.dataset.key !== key) {
    list.dataset.key = key;
    list.replaceChildren(...(shadow.recent ?? []).slice().reverse().map(differenceItem));
  }
  detail.querySelector('[data-field="no-differences"]').hidden = list.children.length > 0;
}

async function shadowAction(name, action, detail) {
  const shadow = state.plugins.get(name)?.shadow;
  const promote = action === "promote";
  const question = promote
    ? `Promote the shadow of ${name}? ${shadow?.path ?? "Its candidate"} will serve every session from its next event on.`
    : `Drop the shadow of ${name}? Its counts and differences are lost.`;
  if (!confirm(question)) return;
  const buttons = [...detail.querySelectorAll("button")];
  for (const button of buttons) button.disabled = true;
  try {
    const path = `/v1/plugins/${enc(name)}/${promote ? "promote" : "shadow"}`;
    renderPlugin(await json(promote ? "POST" : "DELETE", path));
    notice("");
  } catch (error) {
    if (error.status !== 401) notice(`${promote ? "promote" : "drop shadow of"} ${name}: ${error.message}`);
    await loadPlugins().catch(() => {});
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

// The plugins a shadow can be attached to (native handlers have no file).
function updateShadowPlugins() {
  const select = $("shadow-plugin");
  const current = select.value;
  const names = [...state.plugins.values()]
    .filter((plugin) => plugin.source !== "native")
    .map((plugin) => plugin.name)
    .sort();
  if (names.join("\n") !== [...select.options].map((o) => o.value).join("\n")) {
    select.replaceChildren(...names.map((name) => new Option(name, name)));
    if (names.includes(current)) select.value = current;
  }
}

$("shadow-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("shadow-plugin").value;
  const path = $("shadow-path").value.trim();
  const result = $("shadow-result");
  if (state.plugins.get(name)?.shadow && !confirm(`Replace the shadow of ${name}? Its counts and differences start over.`)) {
    return;
  }
  result.className = "";
  try {
    const shadow = await json("POST", `/v1/plugins/${enc(name)}/shadow`, { path });
    const known = state.plugins.get(name);
    if (known) renderPlugin({ ...known, shadow });
    result.textContent = `${shadow.path} shadows ${name}.`;
    $("shadow-path").value = "";
  } catch (error) {
    result.className = "error";
    result.textContent = error.message;
  }
});

// Attaching, replacing, dropping or promoting a shadow publishes a `plugin`
// event (rendered by handleEvent), but the counters and differences change
// with every compared event, which publishes nothing. So the plugin list is
// polled every SHADOW_POLL_MS while it is worth it: connected, some plugin
// has a shadow, the tab is visible and the plugins section is on screen
// (at once when it comes back on screen). Nothing is polled otherwise.
function schedulePoll(now = false) {
  const poll = state.poll;
  const wanted =
    state.stream !== null &&
    poll.onScreen &&
    document.visibilityState === "visible" &&
    [...state.plugins.values()].some((plugin) => plugin.shadow);
  if (wanted && poll.timer === null) {
    poll.timer = setInterval(pollShadows, SHADOW_POLL_MS);
    if (now) pollShadows();
  } else if (!wanted && poll.timer !== null) {
    clearInterval(poll.timer);
    poll.timer = null;
  }
}

async function pollShadows() {
  const poll = state.poll;
  if (poll.busy) return;
  poll.busy = true;
  const renders = state.pluginRenders;
  try {
    const plugins = await json("GET", "/v1/plugins");
    // A plugin event or an action's answer rendered meanwhile is newer.
    if (state.pluginRenders === renders) for (const plugin of plugins) renderPlugin(plugin);
  } catch {
    // The live event stream says when the host is unreachable; a 401 asks for the token.
  } finally {
    poll.busy = false;
  }
}

new IntersectionObserver(([entry]) => {
  state.poll.onScreen = entry.isIntersecting;
  schedulePoll(true);
}).observe($("plugins-section"));
document.addEventListener("visibilitychange", () => schedulePoll(true));

// ---- test message ----

function updateSendSessions() {
  const select = $("send-session");
  const current = select.value;
  const names = [...state.sessions.keys()].sort();
  if (names.join("\n") !== [...select.options].map((o) => o.value).join("\n")) {
    select.replaceChildren(...names.map((name) => new Option(name, name)));
    if (names.includes(current)) select.value = current;
  }
  updateDirection();
}

function updateDirection() {
  const session = state.sessions.get($("send-session").value);
  const inbound = $("send-direction").querySelector('option[value="in"]');
  inbound.disabled = session?.channel !== "sim";
  if (inbound.disabled && $("send-direction").value === "in") $("send-direction").value = "out";
}

$("send-session").addEventListener("change", updateDirection);

$("send-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const session = $("send-session").value;
  const peer = $("send-peer").value.trim();
  const text = $("send-text").value;
  const inbound = $("send-direction").value === "in";
  const result = $("send-result");
  result.className = "";
  try {
    const { id } = inbound
      ? await json("POST", `/v1/sessions/${enc(session)}/sim/inbound`, { from: peer, text })
      : await json("POST", `/v1/sessions/${enc(session)}/messages`, { to: peer, text });
    result.textContent = inbound ? `Delivered to ${session} as ${id}.` : `Queued for sending as ${id}.`;
    $("send-text").value = "";
  } catch (error) {
    result.className = "error";
    result.textContent = error.message;
  }
});

// ---- live events ----

// Splits text/event-stream into events: `field: value` lines, a blank line
// ends an event, `:` starts a comment.
class SseParser {
  constructor() {
    this.buffer = "";
    this.reset();
  }
  reset() {
    this.event = "message";
    this.data = null;
    this.id = null;
  }
  push(text) {
    this.buffer += text;
    const events = [];
    let end;
    while ((end = this.buffer.indexOf("\n")) >= 0) {
      let line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 1);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line === "") {
        if (this.data !== null) events.push({ id: this.id, event: this.event, data: this.data });
        this.reset();
        continue;
      }
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") this.event = value;
      else if (field === "id") this.id = value;
      else if (field === "data") this.data = this.data === null ? value : `${this.data}\n${value}`;
    }
    return events;
  }
}

function logEvent(kind, text) {
  const list = $("events");
  const item = document.createElement("li");
  item.dataset.event = kind;
  const time = document.createElement("time");
  time.textContent = new Date().toLocaleTimeString();
  const name = document.createElement("b");
  name.textContent = kind;
  item.append(time, " ", name, " ", text);
  list.prepend(item);
  while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
}

function actionText(action) {
  if (!action || typeof action !== "object") return String(action ?? "");
  const [kind, fields] = Object.entries(action)[0] ?? ["", {}];
  return fields?.text !== undefined ? fields.text : kind;
}

async function handleEvent({ event, data }) {
  let body;
  try {
    body = JSON.parse(data);
  } catch {
    return;
  }
  switch (event) {
    case "status": {
      const known = state.sessions.get(body.session);
      if (known) renderSession({ ...known, ...body.status, connected: body.status.status === "connected" });
      else renderSession(await json("GET", `/v1/sessions/${enc(body.session)}`));
      const error = body.status.last_error ? ` (${body.status.last_error})` : "";
      logEvent("status", `${body.session}: ${body.status.status}${error}`);
      break;
    }
    case "message":
      logEvent("message", `${body.session} ← ${body.sender}: ${body.text ?? "(no text)"}`);
      break;
    case "sent":
      logEvent("sent", `${body.session} → ${actionText(body.action)}`);
      break;
    case "plugin":
      renderPlugin(body);
      logEvent("plugin", `${body.name}: ${body.health}, generation ${body.generation}${body.shadow ? ", shadowed" : ""}`);
      break;
    case "lagged":
      logEvent("lagged", `missed ${body.missed} events; reloading`);
      await loadAll();
      break;
  }
}

async function follow(controller) {
  let retry = false;
  while (!controller.signal.aborted) {
    try {
      const response = await api("GET", "/v1/events", undefined, controller.signal);
      setConn("live");
      notice("");
      // The stream starts with every session's status; plugins may have changed meanwhile.
      if (retry) await loadPlugins();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      const parser = new SseParser();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.push(value)) {
          await handleEvent(event).catch((error) => {
            if (error.status !== 401) notice(`${event.event} event: ${error.message}`);
          });
        }
      }
    } catch (error) {
      if (controller.signal.aborted || error.status === 401) return;
      notice(`Live events: ${error.message}; retrying.`);
    }
    if (controller.signal.aborted) return;
    retry = true;
    setConn("reconnecting");
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

// ---- start ----

async function loadAll() {
  const sessions = await json("GET", "/v1/sessions");
  const names = new Set(sessions.map((s) => s.name));
  for (const name of state.sessions.keys()) {
    if (!names.has(name)) {
      state.sessions.delete(name);
      document.querySelector(`#sessions tr[data-session="${CSS.escape(name)}"]`)?.remove();
      hideQr(name);
    }
  }
  for (const session of sessions) renderSession(session);
  $("sessions-empty").hidden = sessions.length > 0;
  await loadPlugins();
}

async function connect() {
  state.stream?.abort();
  setConn("connecting");
  try {
    await loadAll();
  } catch (error) {
    if (error.status !== 401) {
      setConn("offline");
      notice(`Cannot load: ${error.message}`);
    }
    return;
  }
  const controller = new AbortController();
  state.stream = controller;
  schedulePoll();
  follow(controller);
}

if (state.token) connect();
else askToken();
