// Logging into purr's logs (the `log` import), tagged by the host with the
// session, plugin and event: `log.info("...")`, also reachable as `ctx.log`.
//
// Call it inside handlers only: top-level code runs at build time, where
// there is no host.

import { log as host } from "./host.js";

function writer(level) {
  return (message) => host.log(level, String(message));
}

/** Writes to the host log at a level: `log.info("...")`. */
export const log = Object.freeze({
  trace: writer("trace"),
  debug: writer("debug"),
  info: writer("info"),
  warn: writer("warn"),
  error: writer("error"),
});
