// G6: bad input gets one clear error naming the input, a non-zero exit, and nothing done.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Sim, freePort } from '../sim/sim.js';
import { runToEnd } from '../helpers/agent.js';

describe('bad input', () => {
  let sim: Sim;
  before(async () => {
    sim = await Sim.start({ pool: 2, tags: { color: 'orange' }, instances: 1 });
  });
  after(() => sim.close());

  const cases: { name: string; args: string[]; env?: Record<string, string>; code: number; message: RegExp }[] = [
    { name: 'missing --tag-key', args: ['run'], code: 2, message: /^eip-agent: --tag-key: required/ },
    { name: 'unknown --live-check', args: ['run', '--tag-key', 'color', '--live-check', 'ping'], code: 2, message: /--live-check.*ping/ },
    { name: 'unknown live check from the environment', args: ['run', '--tag-key', 'color'], env: { EIP_AGENT_LIVE_CHECK: 'ping' }, code: 2, message: /^eip-agent: EIP_AGENT_LIVE_CHECK: expected one of imds, egress, none, got "ping"$/ },
    { name: 'unparseable --health-listen', args: ['run', '--tag-key', 'color', '--health-listen', 'port-eighty'], code: 2, message: /^eip-agent: --health-listen: expected HOST:PORT/ },
    { name: '--private-ip not on the interface', args: ['run', '--tag-key', 'color', '--private-ip', '10.99.99.99', '--health-listen', '127.0.0.1:0'], code: 2, message: /^eip-agent: --private-ip: expected a private IPv4 of eni-[0-9a-f]+ \(10\.[0-9.]+\), got 10\.99\.99\.99$/ },
    { name: '--device-index with no interface', args: ['run', '--tag-key', 'color', '--device-index', '3', '--health-listen', '127.0.0.1:0'], code: 2, message: /^eip-agent: --device-index: expected a device index of this instance's interfaces \(0\), got 3$/ },
    // An Elastic IP associates only in its own region: a --region elsewhere is bad input (README, "Region").
    { name: '--region other than the instance region', args: ['run', '--tag-key', 'color', '--region', 'us-east-1', '--health-listen', '127.0.0.1:0'], code: 2, message: /^eip-agent: --region: expected this instance's region eu-west-1 \(IMDS placement\/region\): an Elastic IP can be associated only in its own region, got us-east-1$/ },
    { name: 'EIP_AGENT_REGION other than the instance region', args: ['claim', '--tag-key', 'color'], env: { EIP_AGENT_REGION: 'us-east-1' }, code: 2, message: /^eip-agent: EIP_AGENT_REGION: expected this instance's region eu-west-1/ },
    { name: 'unknown flag', args: ['run', '--tag-key', 'color', '--colour', 'x'], code: 2, message: /^eip-agent: --colour: not a flag of eip-agent run/ },
    { name: 'wait with a bad --timeout', args: ['wait', '--timeout', 'soon'], code: 2, message: /--timeout: expected a number, got "soon"/ },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const before = sim.ec2.count({ action: 'AssociateAddress' });
      const result = await runToEnd(c.args, { ...sim.env(sim.nodes[0]!), ...c.env });
      assert.equal(result.code, c.code, result.stderr);
      const lines = result.stderr.split('\n').filter((l) => l && !l.startsWith('{'));
      assert.equal(lines.length, 1, `one error line, got:\n${result.stderr}`);
      assert.match(lines[0]!, c.message);
      assert.equal(sim.ec2.count({ action: 'AssociateAddress' }), before, 'no association made');
    });
  }

  test('unreachable IMDS: one clear error, non-zero exit, nothing associated', async () => {
    const port = await freePort(); // nothing listens there
    const result = await runToEnd(['run', '--tag-key', 'color', '--health-listen', '127.0.0.1:0'], {
      ...sim.env(sim.nodes[0]!),
      AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${port}`,
    });
    assert.equal(result.code, 1);
    const lines = result.stderr.split('\n').filter((l) => l && !l.startsWith('{'));
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, new RegExp(`^eip-agent: IMDS at http://127\\.0\\.0\\.1:${port}: .*expected the instance metadata service`));
    assert.equal(sim.ec2.count({ action: 'AssociateAddress' }), 0);
  });

  test('--help lists flags with their defaults and variables', async () => {
    const result = await runToEnd(['run', '--help'], {});
    assert.equal(result.code, 0);
    assert.match(result.stdout, /--drain-timeout .*\[env EIP_AGENT_DRAIN_TIMEOUT\].*\[default: 300\]/s);
    assert.match(result.stdout, /--health-listen/);
    // Number flags say so; their text still reaches the one validation (G6, the case above).
    for (const flag of ['device-index', 'claim-timeout', 'relist-interval', 'drain-timeout', 'gate-timeout']) {
      assert.match(result.stdout, new RegExp(`--${flag} .*?\\[number\\]`, 's'), flag);
    }
    assert.match(result.stdout, /--tag-key .*?\[string\]/s);
    assert.doesNotMatch(result.stdout, /--drain-timeout[^\n]*\n?[^-]*\[string\]/);
    const wait = await runToEnd(['wait', '--help'], {});
    assert.match(wait.stdout, /--timeout .*?\[number\]/s);
  });

  test('wait: exit 1 when no daemon answers before the timeout', async () => {
    const port = await freePort();
    const result = await runToEnd(['wait', '--health-listen', `127.0.0.1:${port}`, '--timeout', '1'], {});
    assert.equal(result.code, 1);
    assert.match(result.stderr, /not ready after 1s: no eip-agent daemon answers/);
    const status = await runToEnd(['status', '--health-listen', `127.0.0.1:${port}`], {});
    assert.equal(status.code, 1);
  });
});
