// The rewrite of componentize-js's generated bindings (sdk/js/build/componentize.mjs),
// on a sample shaped like componentize-js 0.23.0's output.

import { test } from "node:test";
import assert from "node:assert/strict";
import { rewriteBindings } from "../build/componentize.mjs";

const SAMPLE = `const TEXT_DECODER_UTF8 = new TextDecoder();
const TEXT_ENCODER_UTF8 = new TextEncoder();

function _utf8AllocateAndEncode(s, realloc, memory) {
  if (typeof s !== 'string') {
    throw new TypeError('expected a string, received [' + typeof s + ']');
  }
  if (s.length === 0) { return { ptr: 1, len: 0 }; }
  let len = 0;
  for (let i = 0; i < s.length; i++) { len += 1; }
  const ptr = realloc(0, 0, 1, len);
  return { ptr, len };
}

const _debugLog = (...args) => {
  if (!globalThis?.process?.env?.JCO_DEBUG) { return; }
  console.debug(...args);
};

function import_purr_bot_kv_0_1_1$get(arg0) {
  
  var encodeRes = _utf8AllocateAndEncode(arg0, $realloc, $memory);
  var ptr0= encodeRes.ptr;
  var len0 = encodeRes.len;
  
  _debugLog('[Instruction::CallWasm] enter', {
    funcName: 'get',
    paramCount: 2,
  });
  let ret;
  
  ret = $import_purr_bot_kv_0_1_1$get(ptr0, len0);
  let variant4;
  if (dataView($memory).getUint8(ret + 0, true)) {
    var result3 = TEXT_DECODER_UTF8.decode(new Uint8Array($memory.buffer, 0, 0));
  }
  _debugLog('[Instruction::Return]', {
    funcName: 'get',
  });
  $dealloc(ret);
  return variant4;
}

function import_purr_bot_log_0_1_1$log(arg0) {
  $import_purr_bot_log_0_1_1$log(arg0);
}

async function export_handler_0_1_1$handle(arg0, arg1) {
  var ptr0 = dataView($memory).getUint32(arg0 + 0, true);
  var result0 = TEXT_DECODER_UTF8.decode(new Uint8Array($memory.buffer, ptr0, 0));
  _debugLog(' [Instruction::CallInterface] (sync, @ enter)');
  let ret;
  try {
    const hostRet100 = await handler011Handle({
      session: result0,
    }, arg1);
    ret = hostRet100;
  } catch (e) {
    ret = e;
  }
  dataView($memory).setInt8(arg1 + 0, 0, true);
  return;
}
`;

test("the bindings read memory through one DataView taken after the import call returned", () => {
  const out = rewriteBindings(SAMPLE);
  const get = out.slice(out.indexOf("function import_purr_bot_kv_0_1_1$get"), out.indexOf("function import_purr_bot_log"));
  // The call may grow memory (the host allocates the results in it): the DataView comes after it.
  assert.ok(get.indexOf("const _dv = dataView($memory);") > get.indexOf("ret = $import_purr_bot_kv_0_1_1$get("));
  assert.ok(get.includes("_dv.getUint8(ret + 0, true)"));
  assert.ok(get.includes("new Uint8Array(_dv.buffer, 0, 0)"));
  // Before the call (lowering the arguments may allocate) nothing changes.
  assert.ok(get.includes("_utf8AllocateAndEncode(arg0, $realloc, $memory)"));
});

test("an export lifts through one DataView up to the handler call, and awaits only a Promise", () => {
  const out = rewriteBindings(SAMPLE);
  const handle = out.slice(out.indexOf("async function export_handler_0_1_1$handle"));
  assert.match(handle, /^async function export_handler_0_1_1\$handle\(arg0, arg1\) \{\n {2}const _dv = dataView\(\$memory\);\n/);
  assert.ok(handle.includes("_dv.getUint32(arg0 + 0, true)"));
  // After the handler ran, memory may have grown: the result is written as before.
  assert.ok(handle.includes("dataView($memory).setInt8(arg1 + 0, 0, true)"));
  assert.ok(handle.includes("let hostRet100 = handler011Handle({"));
  assert.ok(handle.includes("typeof hostRet100.then === 'function') hostRet100 = await hostRet100;"));
});

test("strings are encoded natively and debug logging calls are gone", () => {
  const out = rewriteBindings(SAMPLE);
  assert.ok(out.includes("const bytes = TEXT_ENCODER_UTF8.encode(s);"));
  assert.ok(!out.includes("for (let i = 0; i < s.length; i++)"));
  assert.ok(!/^\s*_debugLog\(/m.test(out));
  assert.ok(out.includes("const _debugLog = (...args) =>"), "the definition stays");
});

test("a rewrite that finds nothing fails the build", () => {
  assert.throws(() => rewriteBindings(SAMPLE.replace("_utf8AllocateAndEncode(s, realloc, memory)", "encode(s)")), /no _utf8AllocateAndEncode/);
  assert.throws(() => rewriteBindings(SAMPLE.replaceAll("_debugLog(' [Instruction::CallInterface]", "x(")), /CallInterface/);
});
