// The pure half of install/uninstall: what goes into the environment file, and which
// steps run in which order on the live system versus under another root.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readFlags } from '../../agent/cli/config.js';
import type { Flags } from '../../agent/cli/flags.js';
import { PATHS, envFile, installPlan, uninstallPlan, type Step } from '../../agent/cli/install-plan.js';

function flags(argv: Record<string, unknown>, env: Record<string, string> = {}): Flags {
  const result = readFlags('install', argv, env);
  assert.ok(result.ok, JSON.stringify(result));
  return result.value;
}

const summary = (steps: Step[]) =>
  steps.map((s) => (s.kind === 'systemctl' ? `systemctl ${s.args.join(' ')}` : s.kind === 'note' ? 'note' : `${s.kind} ${s.path}`));

describe('envFile', () => {
  const lines = (text: string) => text.split('\n').filter((l) => l && !l.startsWith('#'));

  test('writes the run flags that were given, and nothing for defaults or install-only flags', () => {
    const env = envFile(flags({ tagKey: 'color', tagValue: 'orange', drainTimeout: '600', dryRun: true, root: '/tmp/x' }));
    assert.ok(env.ok);
    assert.deepEqual(lines(env.value), ['EIP_AGENT_TAG_KEY=color', 'EIP_AGENT_TAG_VALUE=orange', 'EIP_AGENT_DRAIN_TIMEOUT=600']);
  });

  test('a flag given explicitly at its default is kept; a variable at its default is not', () => {
    const env = envFile(flags({ tagKey: 'color', logLevel: 'info' }, { EIP_AGENT_LIVE_CHECK: 'imds', EIP_AGENT_REGION: 'eu-west-1' }));
    assert.ok(env.ok);
    assert.deepEqual(lines(env.value), ['EIP_AGENT_TAG_KEY=color', 'EIP_AGENT_REGION=eu-west-1', 'EIP_AGENT_LOG_LEVEL=info']);
  });

  test('quotes values that systemd or a shell would read differently', () => {
    const table: [string, string][] = [
      ['orange', 'orange'],
      ['a b', '"a b"'],
      ['say "hi"', '"say \\"hi\\""'],
      ['$HOME', '"\\$HOME"'],
      ['back\\slash', '"back\\\\slash"'],
      ['', '""'],
      ['k=v:1/2@x+y', 'k=v:1/2@x+y'],
    ];
    for (const [value, written] of table) {
      const env = envFile(flags({ tagKey: 'color', tagValue: value }));
      assert.ok(env.ok);
      assert.equal(lines(env.value)[1], `EIP_AGENT_TAG_VALUE=${written}`, value);
    }
  });

  test('refuses a line break, naming the input', () => {
    const env = envFile(flags({ tagKey: 'color', tagValue: 'a\nEIP_AGENT_TAG_KEY=evil' }));
    assert.equal(env.ok, false);
    assert.match(env.ok ? '' : env.errors.join(), /^--tag-value: expected no control characters/);
  });
});

describe('installPlan', () => {
  const input = (root: string) => ({ root, flags: flags({ tagKey: 'color' }), service: 'UNIT', dropIn: 'DROPIN', binary: '/tmp/eip-agent' as string | undefined });

  test('on the live system: files, then reload, enable and a non-blocking start', () => {
    const plan = installPlan(input('/'));
    assert.ok(plan.ok);
    assert.deepEqual(summary(plan.value), [
      `copy ${PATHS.binary}`,
      `write ${PATHS.env}`,
      `write ${PATHS.service}`,
      `write ${PATHS.dropIn}`,
      'systemctl daemon-reload',
      'systemctl enable eip-agent.service',
      'systemctl start --no-block eip-agent.service',
    ]);
    assert.deepEqual(
      plan.value.filter((s) => s.kind === 'write').map((s) => (s as { content: string }).content).slice(1),
      ['UNIT', 'DROPIN'],
    );
  });

  test('under another root: files under it, no systemctl, a note; no copy when the binary is in place', () => {
    const plan = installPlan({ ...input('/tmp/image'), binary: undefined });
    assert.ok(plan.ok);
    assert.deepEqual(summary(plan.value), [`write /tmp/image${PATHS.env}`, `write /tmp/image${PATHS.service}`, `write /tmp/image${PATHS.dropIn}`, 'note']);
  });

  test('a root that resolves to / is the live system', () => {
    const plan = installPlan(input('/tmp/..'));
    assert.ok(plan.ok && plan.value.some((s) => s.kind === 'systemctl'));
  });
});

describe('uninstallPlan', () => {
  test('on the live system the gate goes before the agent stops (kubelet Requires= it)', () => {
    assert.deepEqual(summary(uninstallPlan('/')), [
      `remove ${PATHS.dropIn}`,
      'rmdir /etc/systemd/system/kubelet.service.d',
      'systemctl daemon-reload',
      'systemctl stop eip-agent.service',
      'systemctl disable eip-agent.service',
      `remove ${PATHS.service}`,
      `remove ${PATHS.env}`,
      'rmdir /etc/eip-agent',
      `remove ${PATHS.binary}`,
      'systemctl daemon-reload',
    ]);
  });

  test('under another root: removals only', () => {
    assert.ok(uninstallPlan('/tmp/image').every((s) => 'path' in s && s.path.startsWith('/tmp/image/')));
  });
});
