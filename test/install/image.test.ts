// The container image (issue 14): scripts/image/build.sh builds it with buildah, umoci
// unpacks it, and the agent runs from its root file system under chroot (no container
// runtime) against the simulator, through the image's own entry point: `run` with
// arguments, a Bottlerocket host container (settings from its user-data; SIGTERM at a
// restart keeps the address, at shutdown releases it: G5a) and a bootstrap container
// (`claim`, then `run` resumes with no AssociateAddress).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runBundle, runToEnd, type AgentProcess } from '../helpers/agent.js';
import { elfMachine, runnerFor } from '../helpers/arch.js';
import { Sim, type SimNode } from '../sim/sim.js';

function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

const SKIP =
  process.platform !== 'linux' || process.arch !== 'x64'
    ? 'the executable is built for linux-x64 only'
    : process.getuid?.() !== 0
      ? 'needs root (buildah storage, chroot); .ci/run runs it as root'
      : !hasTool('buildah') || !hasTool('umoci') || !hasTool('chroot')
        ? 'buildah, umoci or chroot not installed (apt-get install buildah umoci busybox-static; .ci/run does)'
        : false;

const POOL = ['--tag-key', 'color', '--tag-value', 'orange'];
const ARM64 = runnerFor('arm64');
const CHROOT = spawnSync('sh', ['-c', 'command -v chroot'], { encoding: 'utf8' }).stdout.trim();

describe('container image', { skip: SKIP }, () => {
  let out: string;
  let rootfs: string;
  let entrypoint: string[];
  let imageEnv: Record<string, string>;
  let hasClaim: boolean;

  before(() => {
    out = mkdtempSync('/var/tmp/eip-image-test-');
    execFileSync('bash', ['scripts/image/build.sh', out], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
    const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
    // umoci unpacks one platform's image (its own tag); the index is checked below.
    execFileSync('umoci', ['unpack', '--image', `${join(out, 'oci')}:${version}-amd64`, join(out, 'bundle')], { stdio: 'pipe' });
    rootfs = join(out, 'bundle', 'rootfs');
    const spec = JSON.parse(readFileSync(join(out, 'bundle', 'config.json'), 'utf8')) as { process: { args: string[]; env: string[] } };
    entrypoint = spec.process.args;
    imageEnv = Object.fromEntries(spec.process.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    // What every container runtime provides: the standard device nodes (the image has no /dev).
    mkdirSync(join(rootfs, 'dev'));
    for (const [name, minor] of [['null', 3], ['zero', 5], ['random', 8], ['urandom', 9]] as const) {
      execFileSync('mknod', ['-m', '0666', join(rootfs, 'dev', name), 'c', '1', String(minor)]);
    }
    const help = spawnSync(CHROOT, [rootfs, '/usr/local/bin/eip-agent', '--help'], { encoding: 'utf8' });
    hasClaim = /^\s+eip-agent claim\b/m.test(help.stdout);
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  /** The environment a node gives the container: the simulator's, as the image sees it. */
  function containerEnv(sim: Sim, node: SimNode, extra: Record<string, string> = {}): Record<string, string> {
    const env = { ...sim.env(node), ...imageEnv, ...extra };
    // Inside the image: its own /run for the lock, and no kubeconfig (drain wait skipped).
    delete env['EIP_AGENT_LOCK_FILE'];
    env['KUBECONFIG'] = '/nonexistent/kubeconfig';
    return env;
  }

  /** Runs the image's entry point (with `args`) in its root file system, like a runtime would. */
  function inImage(args: string[], env: Record<string, string>): AgentProcess {
    rmSync(join(rootfs, 'run'), { recursive: true, force: true });
    mkdirSync(join(rootfs, 'run'));
    return runBundle([rootfs, ...entrypoint, ...args], env, CHROOT);
  }

  /** A Bottlerocket container's own directory, as host-ctr mounts it, with its user-data. */
  function bottlerocket(kind: 'host-containers' | 'bootstrap-containers', userData: string): void {
    rmSync(join(rootfs, '.bottlerocket'), { recursive: true, force: true });
    for (const dir of ['eip-agent', 'current']) {
      mkdirSync(join(rootfs, '.bottlerocket', kind, dir), { recursive: true });
      writeFileSync(join(rootfs, '.bottlerocket', kind, dir, 'user-data'), userData);
    }
  }

  const heldBy = (sim: Sim, node: SimNode) => sim.world.addressOn(node.instance.enis[0]!.networkInterfaceId, node.instance.enis[0]!.privateIps[0]!);

  test('is built FROM scratch: the agent, the libraries it links, busybox; its entry point; its size', (t) => {
    assert.deepEqual(entrypoint, ['/usr/local/bin/eip-agent-container']);
    const files = execFileSync('find', ['.', '-type', 'f'], { cwd: rootfs, encoding: 'utf8' }).trim().split('\n').sort();
    const libraries = files.filter((f) => /^\.\/(lib|lib64)\//.test(f));
    assert.ok(libraries.some((f) => f.endsWith('/libc.so.6')) && libraries.some((f) => f.endsWith('/ld-linux-x86-64.so.2')), files.join('\n'));
    assert.deepEqual(
      files.filter((f) => !libraries.includes(f)),
      [
        './bin/busybox',
        './etc/group',
        './etc/nsswitch.conf',
        './etc/passwd',
        './usr/bin/aws-iam-authenticator',
        './usr/local/bin/eip-agent',
        './usr/local/bin/eip-agent-container',
        './usr/local/bin/systemctl',
      ],
    );
    const mb = (file: string) => (Number(readFileSync(join(out, file), 'utf8')) / 1e6).toFixed(1);
    for (const platform of ['amd64', 'arm64']) {
      t.diagnostic(`image linux/${platform}: ${mb(`compressed-bytes-${platform}`)} MB compressed layers, ${mb(`unpacked-bytes-${platform}`)} MB unpacked`);
    }
  });

  test("is an index of linux/amd64 and linux/arm64 under the version's tag; each image's config names its CPU", () => {
    const blob = (digest: string) => JSON.parse(readFileSync(join(out, 'oci', 'blobs', ...digest.split(':')), 'utf8'));
    const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
    const refs = (JSON.parse(readFileSync(join(out, 'oci', 'index.json'), 'utf8')) as { manifests: { mediaType: string; digest: string; annotations: Record<string, string> }[] }).manifests;
    const tagged = (tag: string) => refs.find((m) => m.annotations['org.opencontainers.image.ref.name'] === tag);
    const index = tagged(version);
    assert.equal(index?.mediaType, 'application/vnd.oci.image.index.v1+json');
    const manifests = (blob(index.digest) as { manifests: { digest: string; platform: { os: string; architecture: string } }[] }).manifests;
    assert.deepEqual(manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`).sort(), ['linux/amd64', 'linux/arm64']);
    for (const m of manifests) {
      const config = blob((blob(m.digest) as { config: { digest: string } }).config.digest) as { os: string; architecture: string; config: { Entrypoint: string[] } };
      assert.deepEqual([config.os, config.architecture], [m.platform.os, m.platform.architecture]);
      assert.deepEqual(config.config.Entrypoint, ['/usr/local/bin/eip-agent-container']);
      // The same image as the platform's own tag.
      assert.equal(tagged(`${version}-${m.platform.architecture}`)?.digest, m.digest);
    }
  });

  test('the linux/arm64 image holds the arm64 executable, its arm64 libraries and busybox, and runs --version under qemu-user', { skip: 'skip' in ARM64 ? ARM64.skip : false }, () => {
    const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
    const bundle = join(out, 'bundle-arm64');
    execFileSync('umoci', ['unpack', '--image', `${join(out, 'oci')}:${version}-arm64`, bundle], { stdio: 'pipe' });
    const arm64 = join(bundle, 'rootfs');
    const header = readFileSync(join(arm64, 'usr/local/bin/eip-agent')).subarray(0, 20);
    assert.equal(elfMachine(header), 'arm64');
    assert.equal(elfMachine(readFileSync(join(arm64, 'bin/busybox')).subarray(0, 20)), 'arm64');
    assert.ok(existsSync(join(arm64, 'lib/ld-linux-aarch64.so.1')) && existsSync(join(arm64, 'lib/aarch64-linux-gnu/libc.so.6')));
    // The emulator is static: copied in, it runs the image's own loader and libraries.
    const qemu = join(arm64, 'qemu-aarch64-static');
    copyFileSync(('prefix' in ARM64 ? ARM64.prefix[0] : undefined)!, qemu);
    chmodSync(qemu, 0o755);
    const run = spawnSync(CHROOT, [arm64, '/qemu-aarch64-static', '/usr/local/bin/eip-agent', '--version'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), version);
  });

  test('`run` from the image reaches ready against the simulator and releases on SIGTERM', async () => {
    const sim = await Sim.start({ pool: 2 });
    const node = await sim.addNode();
    const agent = inImage(['run', ...POOL, '--health-listen', '127.0.0.1:0'], containerEnv(sim, node));
    try {
      const ready = await agent.waitFor('ready', undefined, 60_000);
      assert.equal(heldBy(sim, node)?.publicIp, ready['publicIp']);
      agent.proc.kill('SIGTERM');
      await agent.waitFor('released', undefined, 30_000);
      assert.equal((await agent.exited).code, 0);
      assert.equal(heldBy(sim, node), undefined, 'the address is free again');
    } finally {
      await agent.stop('SIGKILL');
      await sim.close();
    }
  });

  test('the entry point with no arguments outside Bottlerocket, or with a bad user-data line, says why in one line', async () => {
    rmSync(join(rootfs, '.bottlerocket'), { recursive: true, force: true });
    const bare = await runToEnd([rootfs, ...entrypoint], {}, CHROOT);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /^eip-agent-container: expected a command .* or to run as a Bottlerocket bootstrap or host container$/);
    bottlerocket('host-containers', 'EIP_AGENT_TAG_KEY=color\ntag-value orange\n');
    const bad = await runToEnd([rootfs, ...entrypoint], {}, CHROOT);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'eip-agent-container: /.bottlerocket/host-containers/current/user-data line 2: expected EIP_AGENT_<FLAG>=value or a # comment');
  });

  describe('a Bottlerocket host container', () => {
    let sim: Sim;
    let node: SimNode;
    const host = () => join(rootfs, '.bottlerocket', 'rootfs');
    before(async () => {
      sim = await Sim.start({ pool: 2 });
      node = await sim.addNode();
    });
    after(() => sim.close());

    /**
     * A superpowered container sees the host's root file system at /.bottlerocket/rootfs.
     * This one has the host's systemctl (a stand-in answering as systemd would) and
     * /etc/kubernetes without the kubelet's kubeconfig (the drain wait is skipped).
     */
    function superpowered(state: 'running' | 'stopping'): void {
      mkdirSync(join(host(), 'bin'), { recursive: true });
      mkdirSync(join(host(), 'usr/bin'), { recursive: true });
      mkdirSync(join(host(), 'etc/kubernetes/kubelet'), { recursive: true });
      copyFileSync(join(rootfs, 'bin/busybox'), join(host(), 'bin/sh'));
      writeFileSync(join(host(), 'system-state'), `${state}\n`);
      writeFileSync(
        join(host(), 'usr/bin/systemctl'),
        [
          '#!/bin/sh',
          'case "$*" in',
          '  "show --property=InvocationID --value host-containers@eip-agent.service") echo 3f6a0c1d2b8e4f5a9c7d1e2f3a4b5c6d ;;',
          '  is-system-running) read -r s </system-state; echo "$s"; [ "$s" = running ] ;;',
          '  *) exit 1 ;;',
          'esac',
          '',
        ].join('\n'),
      );
      chmodSync(join(host(), 'usr/bin/systemctl'), 0o755);
    }

    const userData = (listen: string) => `# eip-agent settings\nEIP_AGENT_TAG_KEY=color\nEIP_AGENT_TAG_VALUE=orange\n\nEIP_AGENT_HEALTH_LISTEN=${listen}\n`;

    test('runs `run` with the settings of its user-data; a restart of the container (host running) keeps the address (G5a)', async () => {
      bottlerocket('host-containers', userData('127.0.0.1:0'));
      superpowered('running');
      const agent = inImage([], containerEnv(sim, node));
      try {
        const config = await agent.waitFor('config', undefined, 60_000);
        assert.deepEqual(config['pool'], { tagKey: 'color', tagValue: 'orange' });
        assert.equal(config['underSystemd'], true, 'the host unit invocation id was passed on');
        const ready = await agent.waitFor('ready', undefined, 60_000);
        agent.proc.kill('SIGTERM');
        assert.equal((await agent.exited).code, 0);
        assert.ok(!agent.events.some((e) => e.event === 'released'));
        assert.equal(heldBy(sim, node)?.publicIp, ready['publicIp'], 'the address stays with the node');
      } finally {
        await agent.stop('SIGKILL');
      }
    });

    test('at host shutdown (systemd stopping) SIGTERM releases the address', async () => {
      bottlerocket('host-containers', userData('127.0.0.1:0'));
      superpowered('stopping');
      const agent = inImage([], containerEnv(sim, node));
      try {
        await agent.waitFor('ready', undefined, 60_000);
        agent.proc.kill('SIGTERM');
        await agent.waitFor('released', undefined, 30_000);
        assert.equal((await agent.exited).code, 0);
        assert.equal(heldBy(sim, node), undefined);
      } finally {
        await agent.stop('SIGKILL');
        rmSync(host(), { recursive: true, force: true });
      }
    });
  });

  test('a Bottlerocket bootstrap container runs `claim` (exit 0, address live); `run` then resumes with no AssociateAddress', async (t) => {
    assert.ok(hasClaim, '`eip-agent --help` in the image lists `claim`');
    const sim = await Sim.start({ pool: 2 });
    const node = await sim.addNode();
    try {
      bottlerocket('bootstrap-containers', 'EIP_AGENT_TAG_KEY=color\nEIP_AGENT_TAG_VALUE=orange\nEIP_AGENT_CLAIM_TIMEOUT=60\n');
      const started = Date.now();
      const claim = inImage([], containerEnv(sim, node));
      const { code } = await claim.exited;
      const seconds = (Date.now() - started) / 1000;
      assert.equal(code, 0, [...claim.plain, ...claim.events.map((e) => JSON.stringify(e))].join('\n'));
      const held = heldBy(sim, node);
      assert.ok(held, 'claim left the address on the interface');
      assert.equal(sim.ec2.count({ action: 'AssociateAddress', outcome: 'ok' }), 1);
      t.diagnostic(`claim from the image: ${seconds.toFixed(2)} s from start to exit`);

      bottlerocket('host-containers', 'EIP_AGENT_TAG_KEY=color\nEIP_AGENT_TAG_VALUE=orange\nEIP_AGENT_HEALTH_LISTEN=127.0.0.1:0\n');
      const run = inImage([], containerEnv(sim, node));
      try {
        const ready = await run.waitFor('ready', undefined, 60_000);
        assert.equal(ready['publicIp'], held.publicIp);
        assert.equal(sim.ec2.count({ action: 'AssociateAddress' }), 1, '`run` resumed: no second AssociateAddress');
      } finally {
        await run.stop('SIGKILL');
      }
    } finally {
      await sim.close();
    }
  });
});
