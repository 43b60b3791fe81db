// Node module hooks for the SDK's unit tests: every `purr:bot/<interface>@<v>`
// import resolves to a generated module whose functions call the in-memory
// fake host of `fake-host.mjs`, and `wasi:http/<interface>@<v>` to the fake
// of `fake-http.mjs` (registered by `harness.mjs`).

const FAKE_HOST = new URL("./fake-host.mjs", import.meta.url).href;
const FAKE_HTTP = new URL("./fake-http.mjs", import.meta.url).href;
const SPECIFIER = /^purr:bot\/([a-z-]+)@[0-9.]+$/;
const WASI_HTTP = /^(wasi:http\/[a-z-]+)@[0-9.]+$/;

export async function resolve(specifier, context, nextResolve) {
  const found = SPECIFIER.exec(specifier);
  if (found) return { url: `purr-fake:${found[1]}`, shortCircuit: true };
  const wasi = WASI_HTTP.exec(specifier);
  if (wasi) return { url: `purr-fake-http:${wasi[1]}`, shortCircuit: true };
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (url.startsWith("purr-fake-http:")) {
    const iface = url.slice("purr-fake-http:".length);
    const { imports } = await import(FAKE_HTTP);
    if (!imports[iface]) throw new Error(`the fake wasi:http has no interface ${iface}`);
    const names = Object.keys(imports[iface]);
    const source = `import { imports } from ${JSON.stringify(FAKE_HTTP)};\n` +
      `export const { ${names.join(", ")} } = imports[${JSON.stringify(iface)}];`;
    return { format: "module", source, shortCircuit: true };
  }
  if (!url.startsWith("purr-fake:")) return nextLoad(url, context);
  const iface = url.slice("purr-fake:".length);
  const { imports } = await import(FAKE_HOST);
  if (!imports[iface]) throw new Error(`the fake host has no interface ${iface}`);
  const lines = [`import { imports } from ${JSON.stringify(FAKE_HOST)};`];
  for (const name of Object.keys(imports[iface])) {
    // `export { f as delete }`: WIT names may be reserved words.
    lines.push(`const f_${name} = (...args) => imports.${iface}.${name}(...args);`);
    lines.push(`export { f_${name} as ${name} };`);
  }
  return { format: "module", source: lines.join("\n"), shortCircuit: true };
}
