// The import rule of agent/ (README, "Layout"): each folder may import only the folders
// below it, so that a newcomer knows from a file's folder what it may depend on.
//   shared    ← nothing but shared
//   core      ← shared          (pure: no I/O module, no SDK)
//   adapters  ← shared          (I/O at the edge; never the lifecycle or the core)
//   lifecycle ← core, shared    (never an adapter, never an I/O module: ports only)
//   cli       ← everything      (the wiring)
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';

const LAYERS = ['shared', 'core', 'adapters', 'lifecycle', 'cli'] as const;
type Layer = (typeof LAYERS)[number];

const MAY_IMPORT: Record<Layer, readonly Layer[]> = {
  shared: ['shared'],
  core: ['core', 'shared'],
  adapters: ['adapters', 'shared'],
  lifecycle: ['lifecycle', 'core', 'shared'],
  cli: LAYERS,
};

// Modules that do I/O or speak a wire protocol: only adapters and the command line use them.
const IO_MODULES = /^(node:)?(fs|fs\/promises|http|https|http2|net|tls|dgram|dns|child_process|worker_threads)$|^@aws-sdk\/|^@smithy\/|^yaml$/;
const PURE_OK = new Set(['node:crypto']);

interface Import {
  file: string;
  specifier: string;
  typeOnly: boolean;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? tsFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every `import … from '…'`, `export … from '…'` and `import('…')` of a file. */
export function importsOf(file: string, text: string): Import[] {
  const found: Import[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?\sfrom\s+['"]([^'"]+)['"]/gms)) {
    found.push({ file, specifier: m[3]!, typeOnly: m[2] !== undefined });
  }
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push({ file, specifier: m[1]!, typeOnly: false });
  return found;
}

function layerOf(path: string): Layer | undefined {
  const top = relative('agent', path).split('/')[0];
  return LAYERS.find((l) => l === top);
}

/** What breaks the rule in one import; undefined when it is allowed. */
export function violation(imp: Import): string | undefined {
  const from = layerOf(imp.file);
  if (!from) return `${imp.file}: not in a layer folder (${LAYERS.join(', ')})`;
  if (imp.specifier.startsWith('.')) {
    const target = normalize(join(dirname(imp.file), imp.specifier));
    const to = layerOf(target);
    if (!to) return `${imp.file} imports ${imp.specifier}, outside agent/`;
    if (!MAY_IMPORT[from].includes(to)) return `${imp.file} (${from}) imports ${imp.specifier} (${to})`;
    return undefined;
  }
  if ((from === 'core' || from === 'lifecycle' || from === 'shared') && !imp.typeOnly && !PURE_OK.has(imp.specifier) && IO_MODULES.test(imp.specifier)) {
    return `${imp.file} (${from}) imports the I/O module ${imp.specifier}`;
  }
  return undefined;
}

test('agent/: every import follows the layer rule', () => {
  const problems = tsFiles('agent').flatMap((file) => importsOf(file, readFileSync(file, 'utf8'))).flatMap((imp) => violation(imp) ?? []);
  assert.deepEqual(problems, []);
});

test('the rule catches what it should (a table of imports)', () => {
  const cases: [Import, boolean][] = [
    [{ file: 'agent/core/pool.ts', specifier: '../shared/ports.js', typeOnly: true }, true],
    [{ file: 'agent/core/pool.ts', specifier: 'node:crypto', typeOnly: false }, true],
    [{ file: 'agent/core/pool.ts', specifier: '../adapters/ec2.js', typeOnly: false }, false],
    [{ file: 'agent/core/pool.ts', specifier: '../lifecycle/claim.js', typeOnly: true }, false],
    [{ file: 'agent/core/pool.ts', specifier: 'node:fs', typeOnly: false }, false],
    [{ file: 'agent/lifecycle/claim.ts', specifier: '../core/pool.js', typeOnly: false }, true],
    [{ file: 'agent/lifecycle/claim.ts', specifier: '../adapters/imds.js', typeOnly: true }, false],
    [{ file: 'agent/lifecycle/claim.ts', specifier: '@aws-sdk/client-ec2', typeOnly: false }, false],
    [{ file: 'agent/lifecycle/claim.ts', specifier: 'p-retry', typeOnly: false }, true],
    [{ file: 'agent/adapters/ec2.ts', specifier: '@aws-sdk/client-ec2', typeOnly: false }, true],
    [{ file: 'agent/adapters/ec2.ts', specifier: '../lifecycle/state.js', typeOnly: true }, false],
    [{ file: 'agent/adapters/ec2.ts', specifier: '../core/pool.js', typeOnly: false }, false],
    [{ file: 'agent/shared/log.ts', specifier: '../core/phase.js', typeOnly: true }, false],
    [{ file: 'agent/cli/main.ts', specifier: '../adapters/ec2.js', typeOnly: false }, true],
    [{ file: 'agent/main.ts', specifier: './cli/main.js', typeOnly: false }, false],
  ];
  for (const [imp, allowed] of cases) assert.equal(violation(imp) === undefined, allowed, `${imp.file} → ${imp.specifier}`);
});

test('importsOf reads every form of import', () => {
  const text = [
    "import { a } from './a.js';",
    "import type { B } from '../b.js';",
    'import {',
    '  c,',
    "} from './c.js';",
    "export { d } from './d.js';",
    "const e = await import('./e.js');",
  ].join('\n');
  assert.deepEqual(
    importsOf('agent/core/x.ts', text).map((i) => [i.specifier, i.typeOnly]),
    [['./a.js', false], ['../b.js', true], ['./c.js', false], ['./d.js', false], ['./e.js', false]],
  );
});
