// The executable's loader (agent/cli/sea/load.ts) on scripts made here: builtins come from
// Node, vendored packages from the vendor script, evaluated once and only when first asked for
// (the point of the split: the agent's first IMDS request does not wait for the SDK), an
// unknown package fails loudly, and a code cache V8 refuses is said on stderr.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Script } from 'node:vm';
import { runAgent, type ScriptName, type Sources } from '../../agent/cli/sea/load.js';

const wrap = (body: string) => `(function (exports, require, module) {${body}\n})`;

function sources(agent: string, vendor: string, caches: Partial<Record<ScriptName, Buffer>> = {}): Sources & { compiled: ScriptName[] } {
  const compiled: ScriptName[] = [];
  return {
    compiled,
    source: (name) => {
      compiled.push(name);
      return wrap(name === 'agent' ? agent : vendor);
    },
    cache: (name) => caches[name],
  };
}

const VENDOR = `globalThis.vendorRuns = (globalThis.vendorRuns ?? 0) + 1; module.exports = { yaml: { parse: (s) => 'parsed ' + s } };`;

test('builtins from Node; the vendor script only when a vendored package is first required, and once', () => {
  const g = globalThis as { vendorRuns?: number; seen?: unknown[] };
  delete g.vendorRuns;
  g.seen = [];
  const s = sources(
    `globalThis.seen.push(typeof require('node:path').join, globalThis.vendorRuns ?? 0);
     globalThis.seen.push(require('yaml').parse('a'), require('yaml').parse('b'), globalThis.vendorRuns);`,
    VENDOR,
  );
  runAgent(s, (id) => (id === 'node:path' ? { join: () => '' } : assert.fail(`unexpected builtin ${id}`)));
  assert.deepEqual(g.seen, ['function', 0, 'parsed a', 'parsed b', 1]);
  assert.deepEqual(s.compiled, ['agent', 'vendor']);
});

test('an agent that never requires a vendored package never compiles the vendor script', () => {
  const s = sources(`require('node:os');`, VENDOR);
  runAgent(s, () => ({}));
  assert.deepEqual(s.compiled, ['agent']);
});

test('a package neither built in nor vendored fails loudly, naming it', () => {
  assert.throws(() => runAgent(sources(`require('left-pad');`, VENDOR), () => ({})), /left-pad is not in the executable's vendor script/);
});

test('a refused code cache still runs, and says so once on stderr (a process warning)', async () => {
  const agent = `globalThis.ranWithBadCache = true;`;
  const foreign = new Script(wrap('/* another source */ 1;')).createCachedData();
  const warned = once(process, 'warning', { signal: AbortSignal.timeout(5000) });
  runAgent(sources(agent, VENDOR, { agent: foreign }), () => ({}));
  assert.equal((globalThis as { ranWithBadCache?: boolean }).ranWithBadCache, true);
  const [warning] = (await warned) as [Error];
  assert.match(warning.message, /V8 rejected the code cache of agent\.js/);
});

test('a cache made from the same source is taken: no warning', async () => {
  const agent = `globalThis.ranWithCache = 1;`;
  const cache = new Script(wrap(agent), { filename: 'eip-agent/agent.js' }).createCachedData();
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    runAgent(sources(agent, VENDOR, { agent: cache }), () => ({}));
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
  } finally {
    process.off('warning', onWarning);
  }
  assert.deepEqual(warnings, []);
});
