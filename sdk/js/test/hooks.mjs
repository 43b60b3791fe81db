// Node module hooks for the SDK's unit tests: every `purr:bot/<interface>@<v>`
// import resolves to a generated module whose functions call the in-memory
// fake host of `fake-host.mjs` (registered by `harness.mjs`).

const FAKE_HOST = new URL("./fake-host.mjs", import.meta.url).href;
const SPECIFIER = /^purr:bot\/([a-z-]+)@[0-9.]+$/;

export async function resolve(specifier, context, nextResolve) {
  const found = SPECIFIER.exec(specifier);
  if (found) return { url: `purr-fake:${found[1]}`, shortCircuit: true };
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
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
