// Builds the agent bundle (dist/eip-agent.cjs) and, with --all, a transpiled copy of
// agent/ and test/ in .build/ for `node --test` and the simulator (Node 20 runs no .ts).
import { build } from 'esbuild';
import { readdirSync, statSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const all = process.argv.includes('--all');

function tsFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

await build({
  entryPoints: ['agent/main.ts'],
  outfile: 'dist/eip-agent.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Module-first resolution lets esbuild drop the EC2 commands we never call (BUILD-NOTES).
  mainFields: ['module', 'main'],
  // yargs and p-retry are ESM-only; in a CJS bundle `import.meta.url` is empty and yargs
  // crashes at start in createRequire. Give it the bundle's own URL.
  define: { 'import.meta.url': '__eip_import_meta_url' },
  banner: {
    js: "#!/usr/bin/env node\nconst __eip_import_meta_url = require('node:url').pathToFileURL(__filename).href;",
  },
  legalComments: 'none',
  minifySyntax: true,
  logLevel: 'warning',
});

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
    sourcemap: 'inline',
    logLevel: 'warning',
  });
}
