#!/usr/bin/env node
// Makes a plugin's component from its bundled JS, on one of two engines:
//
//   node sdk/js/build/componentize.mjs <bundle.js> --wit <dir> --world-name <world>
//        [--engine starlingmonkey] [-d feature...] [--aot --weval-bin <weval>] -o <out.wasm>
//   node sdk/js/build/componentize.mjs <bundle.js> --wit <dir> --world-name <world>
//        --engine quickjs -o <out.wasm>
//
// PURR_COMPONENTIZE_JS names the componentize-js package directory; the
// pinned componentize-qjs is looked up in the same node_modules.
//
// `--engine quickjs`: componentize-qjs (the pinned 0.4.5, QuickJS-ng, its
// non-async runtime). It lifts and lowers WIT values in compiled code, so a
// call costs a fraction of StarlingMonkey's (BENCHMARKS.md, "JS on
// QuickJS"), and the component is ~1.6 MiB instead of ~12. It has no event
// loop (an export cannot wait for a Promise) and no `fetch`; the SDK's
// `engine.js` supplies the UTF-8 `TextEncoder`/`TextDecoder` and `console`.
// The WIT given must not import wasi:http (its build-time linker cannot
// provide the version purr uses): plugins that need HTTP use StarlingMonkey.
//
// `--engine starlingmonkey` (the default): componentize-js (the pinned
// 0.23.0) with faster JS bindings, as follows.
//
// `--aot` is componentize-js's ahead-of-time compilation of the JS (weval,
// with StarlingMonkey's inline-cache corpus): ~20% less time per echo event,
// a ~4 MiB bigger component. componentize-js would download weval from
// GitHub releases; give a weval 0.5.x binary instead (`cargo install weval
// --version 0.5.1` builds one from crates.io).
//
// componentize-js generates JS "bindings" that lift every export's
// arguments from linear memory and lower every import's arguments into it,
// and StarlingMonkey runs them in its interpreter (no JIT) on every call.
// Measured on echo-js (BENCHMARKS.md, "Where a JS event's time goes"), they
// were ~30 µs of a ~35 µs no-op `handle` and ~5 µs + 0.24 µs per character
// of every string passed to an import. This rewrites the generated
// bindings before componentize-js snapshots them (by wrapping the one
// `writeFile` of `initializer.js`), without changing what they do:
//
// 1. One DataView per lifting: the bindings call `dataView($memory)` (a
//    function call and two getters, ~1 µs in the interpreter) for every
//    field they read. While an export's arguments are lifted, and while an
//    import's results are lifted after the call returned, nothing can grow
//    the memory (only `$dealloc`, i.e. free, runs), so one DataView taken at
//    the start of that stretch serves all its reads.
// 2. Strings are encoded by the native `TextEncoder` into an allocation of
//    the exact size, instead of a JS loop over every UTF-16 unit to size it
//    first (lone surrogates become U+FFFD either way).
// 3. No `_debugLog(...)` calls: each built an object and looked up
//    `globalThis.process.env.JCO_DEBUG`, which never exists in a component.
// 4. A handler that returns no Promise is not awaited: its result is
//    lowered at once instead of after a microtask (a Promise still is).
//
// Every rewrite must apply; if one finds nothing (another componentize-js
// version generates other code), the build fails rather than silently
// producing slow or wrong bindings: check the rewrites against the new
// output (`--debug-bindings`) and update them.

import fsp from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import { dirname, join, resolve } from "node:path";
import vm from "node:vm";

export const COMPONENTIZE_JS_VERSION = "0.23.0";
export const COMPONENTIZE_QJS_VERSION = "0.4.5";
const ENGINES = ["starlingmonkey", "quickjs"];

/** The rewritten bindings `source`; throws when a rewrite does not apply. */
export function rewriteBindings(source) {
  let s = source;
  const fail = (what) => {
    throw new Error(`purr's componentize-js bindings rewrite: ${what} (componentize-js ${COMPONENTIZE_JS_VERSION} expected)`);
  };

  // 1. One DataView per lifting stretch.
  let exports = 0;
  let imports = 0;
  s = s.replace(/^(async )?function (export_[\w$]+|import_[\w$]+)\(.*\) \{\n[\s\S]*?\n\}\n/gm, (fn, _async, name) => {
    const read = (text) => text.replaceAll("dataView($memory)", "_dv").replaceAll("$memory.buffer", "_dv.buffer");
    if (name.startsWith("export_")) {
      const head = fn.indexOf("{\n") + 2;
      const call = fn.indexOf("_debugLog(' [Instruction::CallInterface]");
      if (call < 0) fail(`no CallInterface marker in ${name}`);
      exports++;
      return `${fn.slice(0, head)}  const _dv = dataView($memory);\n${read(fn.slice(head, call))}${fn.slice(call)}`;
    }
    const callAt = fn.search(/^[ \t]*ret = \$import_[\w$]+\(.*\);$/m);
    if (callAt < 0) return fn; // nothing returned: nothing to lift
    const afterCall = fn.indexOf("\n", callAt) + 1;
    const back = fn.indexOf("_debugLog('[Instruction::Return]'", afterCall);
    if (back < 0) fail(`no Return marker in ${name}`);
    imports++;
    return `${fn.slice(0, afterCall)}  const _dv = dataView($memory);\n${read(fn.slice(afterCall, back))}${fn.slice(back)}`;
  });
  if (exports === 0 || imports === 0) fail(`DataView rewrite applied to ${exports} exports and ${imports} imports`);

  // 2. Native string encoding.
  const encoder = /^function _utf8AllocateAndEncode\(s, realloc, memory\) \{\n[\s\S]*?\n\}\n/m;
  if (!encoder.test(s)) fail("no _utf8AllocateAndEncode");
  s = s.replace(
    encoder,
    `function _utf8AllocateAndEncode(s, realloc, memory) {
  if (typeof s !== 'string') {
    throw new TypeError('expected a string, received [' + typeof s + ']');
  }
  if (s.length === 0) { return { ptr: 1, len: 0 }; }
  const bytes = TEXT_ENCODER_UTF8.encode(s);
  const len = bytes.length;
  const ptr = realloc(0, 0, 1, len);
  new Uint8Array(memory.buffer, ptr, len).set(bytes);
  return { ptr, len };
}
`,
  );

  // 3. No debug logging calls (the definition stays).
  const logged = s.match(/^\s*_debugLog\((?:[^;]|\n)*?\);[ \t]*\n/gm)?.length ?? 0;
  if (logged === 0) fail("no _debugLog calls");
  s = s.replace(/^\s*_debugLog\((?:[^;]|\n)*?\);[ \t]*\n/gm, "\n");

  // 4. Await a handler's result only when it is a Promise.
  let awaited = 0;
  s = s.replace(/const (hostRet\d+) = await (\w+)\(((?:[^;]|\n)*?)\);\n/g, (_m, ret, fn, args) => {
    awaited++;
    return (
      `let ${ret} = ${fn}(${args});\n` +
      `    if (${ret} !== null && typeof ${ret} === 'object' && typeof ${ret}.then === 'function') ${ret} = await ${ret};\n`
    );
  });
  if (awaited === 0) fail("no awaited export call");

  new vm.Script(s, { filename: "initializer.js" }); // a syntax error fails here, not at run time
  return s;
}

/** Parses the command line `build-plugins` passes. */
function parseArgs(argv) {
  const opts = { disableFeatures: [], engine: "starlingmonkey" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--wit" || arg === "-w") opts.witPath = resolve(argv[++i]);
    else if (arg === "--world-name" || arg === "-n") opts.worldName = argv[++i];
    else if (arg === "-o" || arg === "--out") opts.out = argv[++i];
    else if (arg === "--engine") opts.engine = argv[++i];
    else if (arg === "--aot") opts.enableAot = true;
    else if (arg === "--weval-bin") opts.wevalBin = argv[++i];
    else if (arg === "-d" || arg === "--disable") {
      while (i + 1 < argv.length && !argv[i + 1].startsWith("-")) opts.disableFeatures.push(argv[++i]);
    } else if (arg.startsWith("-")) throw new Error(`unknown option ${arg}`);
    else opts.sourcePath = arg;
  }
  if (!ENGINES.includes(opts.engine)) throw new Error(`unknown engine ${JSON.stringify(opts.engine)}; known: ${ENGINES.join(", ")}`);
  if (opts.engine === "quickjs" && (opts.enableAot || opts.disableFeatures.length > 0)) {
    throw new Error("--aot and -d are componentize-js options: not for --engine quickjs");
  }
  if (opts.enableAot && !opts.wevalBin) throw new Error("--aot needs --weval-bin <path to weval>");
  if (!opts.sourcePath || !opts.witPath || !opts.out) {
    throw new Error(
      "usage: componentize.mjs <bundle.js> --wit <dir> [--world-name <world>] [--engine quickjs|starlingmonkey] [-d feature...] -o <out.wasm>",
    );
  }
  return opts;
}

/** Fails unless the package at `dir` is `name` at `version`. */
async function pinned(dir, name, version) {
  const pkg = JSON.parse(await fsp.readFile(join(dir, "package.json"), "utf8"));
  if (pkg.version !== version) throw new Error(`${name} ${pkg.version} found in ${dir}, purr's build is for ${version}`);
}

/** The component of `opts.sourcePath` on QuickJS. */
async function componentizeQuickJs(opts, nodeModules) {
  const home = join(nodeModules, "componentize-qjs");
  await pinned(home, "componentize-qjs", COMPONENTIZE_QJS_VERSION);
  const { default: qjs } = await import(join(home, "index.js"));
  const { component } = await qjs.componentize({
    witPath: opts.witPath,
    jsSource: await fsp.readFile(opts.sourcePath, "utf8"),
    jsPath: resolve(opts.sourcePath),
    moduleRoot: dirname(resolve(opts.sourcePath)),
    world: opts.worldName,
    sync: true,
  });
  return component;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  // componentize-js lives in the toolchain directory build-plugins installed
  // (PURR_COMPONENTIZE_JS), or next to this file's node_modules.
  if (!process.env.PURR_COMPONENTIZE_JS) throw new Error("set PURR_COMPONENTIZE_JS to the componentize-js package directory");
  // Absolute: a relative path would be imported below as a package name.
  const home = resolve(process.env.PURR_COMPONENTIZE_JS);
  if (opts.engine === "quickjs") {
    await fsp.writeFile(opts.out, await componentizeQuickJs(opts, resolve(home, "..", "..")));
    return;
  }
  await pinned(home, "componentize-js", COMPONENTIZE_JS_VERSION);
  // componentize-js writes the generated bindings with `writeFile` from
  // node:fs/promises, then has wizer snapshot them: rewrite them on the way.
  const writeFile = fsp.writeFile;
  let rewritten = 0;
  fsp.writeFile = async (path, data, ...rest) => {
    if (typeof path === "string" && path.endsWith("initializer.js")) {
      data = rewriteBindings(String(data));
      rewritten++;
    }
    return writeFile(path, data, ...rest);
  };
  syncBuiltinESMExports();
  const { componentize } = await import(join(home, "src/componentize.js"));
  const { component } = await componentize({
    sourcePath: opts.sourcePath,
    witPath: opts.witPath,
    worldName: opts.worldName,
    disableFeatures: opts.disableFeatures,
    enableAot: opts.enableAot === true,
    wevalBin: opts.wevalBin,
  });
  if (rewritten !== 1) throw new Error(`expected to rewrite one bindings file, rewrote ${rewritten}`);
  await writeFile(opts.out, component);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  main().catch((error) => {
    console.error(error.message ?? error);
    process.exit(1);
  });
}
