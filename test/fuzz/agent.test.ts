// The nastiest of the fuzzed inputs, through the built agent process (G6): a non-zero exit,
// exactly one stderr line per bad input naming it, no stack trace, nothing associated.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runToEnd } from '../helpers/agent.js';
import { Sim } from '../sim/sim.js';

interface Case {
  name: string;
  args: string[];
  env?: Record<string, string>;
  /** a kubeconfig file content, written for this case */
  kubeconfig?: string;
  /** one pattern per expected stderr line, in order */
  lines: RegExp[];
  code?: number;
}

const RUN = ['run', '--tag-key', 'color', '--tag-value', 'orange', '--health-listen', '127.0.0.1:0'];

const CASES: Case[] = [
  {
    name: 'four values of the wrong type at once, one line each',
    args: [...RUN, '--device-index', 'x', '--claim-timeout', '1e309', '--live-check', '\u001b[31mping', '--log-level', 'loud'],
    lines: [/^eip-agent: --live-check: expected one of imds, egress, none, got "\\u001b\[31mping"$/, /^eip-agent: --device-index: expected a number, got "x"$/, /^eip-agent: --claim-timeout: expected a number, got "1e309"$/, /^eip-agent: --log-level: expected one of debug, info, warn, error, got "loud"$/],
  },
  {
    name: 'four values out of range at once, one line each',
    args: [...RUN, '--device-index', '-1', '--relist-interval', '0.01', '--drain-timeout', '-1', '--private-ip', '10.0.0.300'],
    lines: [/^eip-agent: --device-index: expected an integer from 0 to 31, got -1$/, /^eip-agent: --relist-interval: expected seconds from 0.05 to 604800, got 0.01$/, /^eip-agent: --drain-timeout: expected seconds from 0 to 604800, got -1$/, /^eip-agent: --private-ip: expected a private IPv4 address of the interface, got "10.0.0.300"$/],
  },
  {
    name: 'values with newlines and control characters stay on one line each',
    args: [...RUN.slice(0, 5), '--health-listen', '127.0.0.1:80\n99', '--egress-check-url', 'https://a b\r\n'],
    lines: [/^eip-agent: --egress-check-url: expected an http\(s\) URL, got "https:\/\/a b\\r\\n"$/, /^eip-agent: --health-listen: expected HOST:PORT/],
  },
  {
    name: 'a value of the wrong type and values out of range together, all reported',
    args: ['run'],
    env: { EIP_AGENT_TAG_KEY: 'aws:reserved', EIP_AGENT_DRAIN_TIMEOUT: 'NaN', EIP_AGENT_REGION: 'EU-WEST-1', AWS_EC2_METADATA_SERVICE_ENDPOINT: '169.254.169.254' },
    lines: [/^eip-agent: EIP_AGENT_DRAIN_TIMEOUT: expected a number, got "NaN"$/, /^eip-agent: EIP_AGENT_TAG_KEY: /, /^eip-agent: EIP_AGENT_REGION: /, /^eip-agent: AWS_EC2_METADATA_SERVICE_ENDPOINT: /],
  },
  {
    name: 'bad environment values once the numbers parse',
    args: ['run'],
    env: { EIP_AGENT_TAG_KEY: 'aws:reserved', EIP_AGENT_REGION: 'EU-WEST-1', AWS_EC2_METADATA_SERVICE_ENDPOINT: '169.254.169.254', EIP_AGENT_TAG_VALUE: 'v'.repeat(300) },
    lines: [/^eip-agent: EIP_AGENT_TAG_KEY: expected a tag key of 1-128 characters not starting with aws:, got "aws:reserved"$/, /^eip-agent: EIP_AGENT_TAG_VALUE: expected at most 256 characters$/, /^eip-agent: EIP_AGENT_REGION: expected an AWS region/, /^eip-agent: AWS_EC2_METADATA_SERVICE_ENDPOINT: expected an http URL, got "169.254.169.254"$/],
  },
  {
    name: 'a kubeconfig with a YAML syntax error',
    args: RUN,
    kubeconfig: 'apiVersion: v1\nusers:\n- name: u\n  user: {token: "fuzz-secret-token\n',
    lines: [/^eip-agent: kubeconfig \S+: expected YAML, got a syntax error at line \d+, column \d+ \([A-Z_]+\)$/],
  },
  {
    name: 'a kubeconfig whose user is a list',
    args: RUN,
    kubeconfig: 'current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: "https://h"}}]\nusers: [{name: u, user: [fuzz-secret-token]}]\n',
    lines: [/^eip-agent: kubeconfig \S+: users\[0\]\.user: expected a mapping, got a list$/],
  },
  {
    name: 'a kubeconfig with an unresolved alias',
    args: RUN,
    kubeconfig: 'current-context: *missing\n',
    lines: [/^eip-agent: kubeconfig \S+: expected YAML without unresolved or excessive aliases/],
  },
  {
    name: 'a flag given twice',
    args: [...RUN, '--tag-key', 'colour'],
    lines: [/^eip-agent: --tag-key: expected once, given 2 times$/],
  },
];

describe('fuzz: the nastiest inputs through the built agent', { concurrency: true }, () => {
  let sim: Sim;
  before(async () => {
    sim = await Sim.start({ pool: 2, tags: { color: 'orange' }, instances: 1 });
  });
  after(() => sim.close());

  for (const [i, c] of CASES.entries()) {
    test(c.name, async () => {
      const node = sim.nodes[0]!;
      // Cases run at once: each is its own host with its own lock file.
      const env: Record<string, string> = { ...sim.env(node), EIP_AGENT_LOCK_FILE: join(node.kubeconfig, `../fuzz-${i}.pid`), ...c.env };
      if (c.kubeconfig !== undefined) {
        env['KUBECONFIG'] = join(node.kubeconfig, `../fuzz-${i}.kubeconfig`);
        writeFileSync(env['KUBECONFIG'], c.kubeconfig);
      }
      const before = sim.ec2.count({ action: 'AssociateAddress' });
      // A case that wrongly starts the daemon is stopped by the claim timeout instead of hanging.
      const result = await runToEnd(c.args.includes('--claim-timeout') ? c.args : [...c.args, '--claim-timeout', '1'], env);
      const lines = result.stderr.split('\n').filter((l) => l && !l.startsWith('{'));
      assert.notEqual(result.code, 0, `non-zero exit:\n${result.stderr}`);
      assert.ok(!/^\s+at /m.test(result.stderr), `no stack trace:\n${result.stderr}`);
      assert.equal(lines.length, c.lines.length, `one line per bad input:\n${lines.join('\n')}`);
      // Errors come in the order the flag table lists the inputs; compare as a set.
      for (const pattern of c.lines) assert.ok(lines.some((l) => pattern.test(l)), `a line matching ${pattern}:\n${lines.join('\n')}`);
      assert.ok(!result.stderr.includes('fuzz-secret-token'), 'no credential in the output');
      assert.equal(sim.ec2.count({ action: 'AssociateAddress' }), before, 'nothing associated');
    });
  }

  test('a malformed IMDS answer (local-hostname): one line naming the path, no stack, nothing associated', async () => {
    const node = await sim.addNode({ hostname: 'bad host\nname' });
    const before = sim.ec2.count({ action: 'AssociateAddress' });
    const result = await runToEnd(RUN, sim.env(node));
    const lines = result.stderr.split('\n').filter((l) => l && !l.startsWith('{'));
    assert.notEqual(result.code, 0);
    assert.ok(!/^\s+at /m.test(result.stderr), result.stderr);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /IMDS meta-data\/local-hostname: expected a DNS host name, got "bad host\\nname"/);
    assert.equal(sim.ec2.count({ action: 'AssociateAddress' }), before);
  });
});
