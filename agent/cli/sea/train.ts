// Makes the code caches the executable starts from (build.mjs), run by the executable's own
// Node on its own CPU: `node train.js DIR run ...` compiles DIR/agent.js as the executable
// does and starts the agent; at its first IMDS request it writes the cache of every function
// compiled so far to DIR/agent.cache (a cache made from a compile alone holds top-level code
// only), and the vendor's from a compile to DIR/vendor.cache, and exits before any request
// leaves. Run with no V8 flags: the cache is only taken by a Node started with the same ones.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile, runAgent, type ScriptName, type Sources } from './load.js';

const [dir, ...args] = process.argv.slice(2);
if (!dir) throw new Error('usage: train.js DIR run ...');
const sources: Sources = { source: (name: ScriptName) => readFileSync(join(dir, `${name}.js`), 'utf8'), cache: () => undefined };
writeFileSync(join(dir, 'vendor.cache'), compile(sources, 'vendor').createCachedData());
process.argv = [process.argv[0]!, 'eip-agent', ...args];
runAgent(sources, require, (agent) => {
  const http = process.getBuiltinModule('node:http');
  http.request = (() => {
    writeFileSync(join(dir, 'agent.cache'), agent.createCachedData());
    process.exit(0);
  }) as typeof http.request;
});
