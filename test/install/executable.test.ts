// The self-contained executables (Node SEA), one per node CPU: each runs with no Node.js and
// no node_modules, and claims, then resumes, an address against the simulator — arm64 under
// qemu-user on an x64 machine (skipped, with the install command, where there is none).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sim } from '../sim/sim.js';
import { runBundle, runToEnd } from '../helpers/agent.js';
import { ARCHES, SHA256SUMS, command, elfMachine, executableFor, runnerFor } from '../helpers/arch.js';

const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
// build.mjs makes them on linux-x64; there they must exist.
const BUILT_HERE = process.platform === 'linux' && process.arch === 'x64' ? false : 'the executables are built on linux-x64';
const POOL = ['--tag-key', 'color', '--tag-value', 'orange'];

describe('SHA256SUMS', { skip: BUILT_HERE }, () => {
  test('names both executables and the bundle, with their digests', () => {
    const lines = readFileSync(SHA256SUMS, 'utf8').trim().split('\n');
    const names = lines.map((line) => {
      const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line);
      assert.ok(m, `sha256sum -c format: ${line}`);
      const digest = createHash('sha256').update(readFileSync(join('dist', m[2]!))).digest('hex');
      assert.equal(digest, m[1], `${m[2]}'s digest`);
      return m[2];
    });
    assert.deepEqual(names.sort(), ['eip-agent-linux-arm64', 'eip-agent-linux-x64', 'eip-agent.cjs']);
  });
});

for (const arch of ARCHES) {
  const runner = runnerFor(arch);
  const skip = BUILT_HERE || ('skip' in runner ? runner.skip : false);
  const prefix = 'prefix' in runner ? runner.prefix : [];

  describe(`self-contained executable, linux-${arch}`, { skip }, () => {
    let dir: string;
    let copy: string;
    /** Runs the copy (under the emulator where one is needed). */
    const run = (args: string[], env: Record<string, string>) => {
      const c = command(prefix, copy, args);
      return runBundle(c.args, env, c.binary);
    };
    const runEnd = (args: string[], env: Record<string, string>) => {
      const c = command(prefix, copy, args);
      return runToEnd(c.args, env, c.binary);
    };
    before(() => {
      const built = executableFor(arch);
      assert.ok(existsSync(built), `${built} was not built (npm run build)`);
      dir = mkdtempSync(join(tmpdir(), 'eip-sea-'));
      copy = join(dir, basename(built));
      copyFileSync(built, copy);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    test(`is an ELF executable for ${arch}, and --version runs from a copy in an empty directory with no node on PATH`, async () => {
      const header = Buffer.alloc(20);
      const fd = openSync(copy, 'r');
      readSync(fd, header, 0, 20, 0);
      closeSync(fd);
      assert.equal(elfMachine(header), arch);
      const { code, stdout, stderr } = await runEnd(['--version'], { PATH: '/nonexistent' });
      assert.equal(code, 0, stderr);
      assert.equal(stdout, VERSION);
      assert.equal(stderr, '', 'no experimental-feature warning');
    });

    test('claims an address against the simulator (claim), then run resumes it with no second AssociateAddress and opens the gate', async (t) => {
      const sim = await Sim.start({ pool: 2 });
      const node = await sim.addNode();
      try {
        const started = Date.now();
        const claim = run(['claim', ...POOL, '--claim-timeout', '120'], sim.env(node));
        const { code } = await claim.exited;
        assert.equal(code, 0, [...claim.plain, ...claim.events.map((e) => JSON.stringify(e))].join('\n'));
        // The claim runs both of the executable's scripts: a rejected code cache warns here.
        assert.deepEqual(claim.plain, [], 'nothing on stderr but events');
        t.diagnostic(`claim on ${arch}: ${((Date.now() - started) / 1000).toFixed(2)} s from start to exit`);
        const eni = node.instance.enis[0]!;
        const held = sim.world.addressOn(eni.networkInterfaceId, eni.privateIps[0]!);
        assert.ok(held, 'claim left an address on the interface');
        assert.equal(sim.ec2.count({ action: 'AssociateAddress', outcome: 'ok' }), 1);

        const agent = run(['run', ...POOL, '--health-listen', '127.0.0.1:0'], sim.env(node));
        try {
          const listen = String((await agent.waitFor('health.listening', undefined, 60_000))['listen']);
          const ready = await agent.waitFor('ready', undefined, 60_000);
          assert.equal(ready['publicIp'], held.publicIp);
          assert.equal(sim.ec2.count({ action: 'AssociateAddress' }), 1, 'run resumed: no second AssociateAddress');
          const gate = await runEnd(['wait', '--health-listen', listen, '--timeout', '30'], {});
          assert.equal(gate.code, 0, gate.stderr);
        } finally {
          await agent.stop('SIGKILL');
        }
      } finally {
        await sim.close();
      }
    });
  });
}
