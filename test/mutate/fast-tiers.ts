// npm run mutate's test command: the fast tiers (test/core, test/shared, test/lifecycle)
// in one process, which is three times faster than `node --test` starting one per file.
// A failing test sets the exit code, and Stryker counts the mutant killed. Arguments other
// than flags name the tiers to run, in order (mutate:lifecycle: only the tier that loads
// agent/lifecycle; test/core and test/shared never import it).
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const named = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const TIERS = named.length > 0 ? named : ['core', 'shared', 'lifecycle'];
const tests = join(dirname(fileURLToPath(import.meta.url)), '..');

for (const tier of TIERS) {
  for (const name of readdirSync(join(tests, tier)).filter((n) => n.endsWith('.test.js')).sort()) {
    await import(pathToFileURL(join(tests, tier, name)).href);
  }
}

// Stryker's instrumented code registers itself on load. Without it the tests ran the
// unmutated code (a build that missed the sandbox): every mutant would survive unseen.
if (process.argv.includes('--require-instrumented') && !('__stryker__' in globalThis)) {
  console.error('mutate: the tests did not load the instrumented code; the build in the sandbox did not pick it up');
  process.exitCode = 1;
}
