// The self-contained executable's entry: the agent's scripts and their code caches are the
// executable's assets (build.mjs).
import { getAsset, getRawAsset } from 'node:sea';
import { runAgent } from './load.js';

runAgent(
  {
    source: (name) => getAsset(`${name}.js`, 'utf8'),
    // Empty where the build could not run the executable's CPU (no qemu): compiled from source.
    cache: (name) => {
      const cache = getRawAsset(`${name}.cache`) as ArrayBuffer; // (typed string | ArrayBuffer; Node returns the bytes)
      return cache.byteLength > 0 ? Buffer.from(cache) : undefined;
    },
  },
  require,
);
