// A short soak in `npm test`, so that `npm run soak` cannot rot: a few agents racing for
// fewer addresses for a few seconds, faults on, nodes ending and joining. Plus the smallest
// reproduction of the leak the long soak finds.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { runToEnd } from '../helpers/agent.js';
import { startAgent } from '../helpers/fleet.js';
import { Sim } from '../sim/sim.js';
import { formatSummary, runSoak, type SoakSummary } from './soak.js';


describe('a 5 s soak', () => {
  let summary: SoakSummary;
  let text: string;
  before(async () => {
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
    summary = await runSoak({ seconds: 5, agents: 5, pool: 3, seed: 7 });
    text = formatSummary(summary);
  });

  test('claims and releases happen under faults while nodes end and join', () => {
    assert.ok(summary.claims >= 3 && summary.releases >= 3, `the pool was used and handed over:\n${text}`);
    assert.ok(summary.nodes > 5, `nodes ended and new ones joined:\n${text}`);
    assert.ok(summary.throttles + summary.ec2Errors + summary.wireFaults > 0, `faults were on:\n${text}`);
  });

  test('no address taken, none doubled, no foreign disassociation, nothing refused by IAM, no agent failed', () => {
    assert.deepEqual(summary.violations, [], text);
    assert.deepEqual(summary.agentFailures, [], text);
  });

  test('no pool address left on a node that ended', () => {
    assert.deepEqual(summary.leaked, [], text);
  });
});

test('eip-agent release right after AssociateAddress landed, reads lagging: the address is still released', async () => {
  const sim = await Sim.start({ pool: 1 });
  const node = await sim.addNode();
  const { agent } = await startAgent(sim, node);
  const socketPath = sim.env(node)['EIP_AGENT_CONTROL_SOCKET']!;
  let asked: Promise<unknown> | undefined;
  sim.ec2.faults.deny = (action, _params, caller) => {
    if (action === 'AssociateAddress' && caller === node.instance.instanceId && !asked) {
      // From now on reads lag the writes (EC2 is eventually consistent), and the operator
      // (or a lifecycle hook) asks for the release while the claim is being confirmed.
      sim.ec2.faults.staleReadMs = 3000;
      asked = runToEnd(['release'], { EIP_AGENT_CONTROL_SOCKET: socketPath });
    }
    return false;
  };
  try {
    const { code } = await agent.exited;
    assert.equal(code, 0);
    const eni = node.instance.enis[0]!;
    assert.ok(sim.ec2.calls.some((c) => c.action === 'AssociateAddress' && c.applied), 'the association was made');
    assert.equal(sim.world.addressOn(eni.networkInterfaceId, eni.privateIps[0]!)?.publicIp, undefined, `released; events:\n${agent.events.map((e) => JSON.stringify(e)).join('\n')}`);
  } finally {
    await agent.stop('SIGKILL');
    await asked;
    await sim.close();
  }
});
