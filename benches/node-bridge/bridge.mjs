// The baseline of `cargo bench --bench bridge`: the seed's architecture.
//
// A Node.js process holds the bot logic (the same commands as purr's Rust
// `echo` plugin: !ping, !echo, !count, !hello) and receives every inbound
// event as one JSON WebSocket message from the host; it answers each with
// one JSON message carrying the replies. Counts are kept in memory (the
// seed had no durability). Prints the port it listens on, then serves
// until stdin closes.
import { WebSocketServer } from "ws";

const counts = new Map();
const greeting = "hello";

function handle(event) {
  const key = `${event.session}/${event.chat}`;
  const seen = (counts.get(key) ?? 0) + 1;
  counts.set(key, seen);
  const text = event.text.trim();
  let reply = null;
  if (text === "!ping") reply = "pong";
  else if (text.startsWith("!echo ")) reply = text.slice(6);
  else if (text === "!count") reply = String(seen);
  else if (text === "!hello") reply = greeting;
  return { id: event.id, replies: reply === null ? [] : [{ chat: event.chat, text: reply }] };
}

const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
server.on("listening", () => console.log(server.address().port));
server.on("connection", (socket) => {
  socket.on("message", (data) => socket.send(JSON.stringify(handle(JSON.parse(data)))));
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
