// dist/eip-agent, the self-contained executable (Node SEA): it runs with no Node.js and
// no node_modules, and claims an address end to end, not only prints its help.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sim } from '../sim/sim.js';
import { EXECUTABLE, runBundle, runToEnd } from '../helpers/agent.js';

// build.mjs makes it for linux-x64 only; there it must exist.
const UNSUPPORTED = process.platform === 'linux' && process.arch === 'x64' ? false : 'the executable is built for linux-x64 only';

describe('self-contained executable', { skip: UNSUPPORTED }, () => {
  let dir: string;
  let copy: string;
  before(() => {
    assert.ok(existsSync(EXECUTABLE), `${EXECUTABLE} was not built (npm run build)`);
    dir = mkdtempSync(join(tmpdir(), 'eip-sea-'));
    copy = join(dir, 'eip-agent');
    copyFileSync(EXECUTABLE, copy);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--help runs from a copy in an empty directory, with no node on PATH', async () => {
    const { code, stdout, stderr } = await runToEnd(['--help'], { PATH: '/nonexistent' }, copy);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /eip-agent install/);
    assert.equal(stderr, '', 'no experimental-feature warning');
  });

  test('claims an address against the simulator and opens the gate', async () => {
    const sim = await Sim.start({ pool: 2 });
    const node = await sim.addNode();
    const agent = runBundle(['run', '--tag-key', 'color', '--tag-value', 'orange', '--health-listen', '127.0.0.1:0'], sim.env(node), copy);
    try {
      const listen = String((await agent.waitFor('health.listening'))['listen']);
      const ready = await agent.waitFor('ready', undefined, 30_000);
      const eni = node.instance.enis[0]!;
      const held = sim.world.addressOn(eni.networkInterfaceId, eni.privateIps[0]!);
      assert.ok(held, 'an address is associated to the interface');
      assert.equal(ready['publicIp'], held.publicIp);
      const gate = await runToEnd(['wait', '--health-listen', listen, '--timeout', '5'], {}, copy);
      assert.equal(gate.code, 0, gate.stderr);
    } finally {
      await agent.stop('SIGKILL');
      await sim.close();
    }
  });
});
