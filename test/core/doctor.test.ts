import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  accessCheck,
  clockCheck,
  credentialSource,
  credentialsCheck,
  dryRunCandidate,
  dryRunCheck,
  exitCode,
  hopLimitCheck,
  kubeconfigCheck,
  poolCheck,
  regionCheck,
  report,
  reportText,
  systemdChecks,
  type Check,
  type CredentialSource,
  type Level,
} from '../../agent/core/doctor.js';
import type { AddressView } from '../../agent/shared/ports.js';

const target = { instanceId: 'i-0aaa', networkInterfaceId: 'eni-0aaa', privateIp: '10.0.0.5', mac: '0a:00:00:00:00:01' };
const ORANGE = { tagKey: 'color', tagValue: 'orange' };

function address(n: number, tags: Record<string, string> = { color: 'orange' }, holder: Partial<AddressView> = {}): AddressView {
  return { allocationId: `eipalloc-${n}`, publicIp: `198.51.100.${n}`, tags, ...holder };
}
const onUs = { associationId: 'eipassoc-9', instanceId: target.instanceId, networkInterfaceId: target.networkInterfaceId, privateIp: target.privateIp };
const onOther = { associationId: 'eipassoc-8', instanceId: 'i-0bbb', networkInterfaceId: 'eni-0bbb', privateIp: '10.0.0.6' };

test('credentialSource follows the default chain: environment, shared files, web identity, container, then the instance profile', () => {
  const cases: [Record<string, string>, string[], CredentialSource][] = [
    [{}, [], 'instance-profile'],
    [{ AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 's' }, [], 'environment'],
    [{ AWS_ACCESS_KEY_ID: 'AKIA' }, [], 'instance-profile'], // half a key pair: the SDK skips it
    [{ AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 's', AWS_ROLE_ARN: 'arn', AWS_WEB_IDENTITY_TOKEN_FILE: '/t' }, [], 'environment'],
    [{}, ['/root/.aws/credentials'], 'shared-files'],
    [{ AWS_PROFILE: 'admin' }, [], 'shared-files'],
    [{ AWS_ROLE_ARN: 'arn:aws:iam::1:role/r', AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' }, [], 'web-identity'],
    [{ AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials' }, [], 'container'],
    [{ AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/x' }, [], 'container'],
    [{ AWS_EC2_METADATA_DISABLED: 'true' }, [], 'imds-disabled'],
    [{ AWS_EC2_METADATA_DISABLED: 'false' }, [], 'instance-profile'],
  ];
  for (const [env, sharedFiles, expected] of cases) assert.equal(credentialSource({ env, sharedFiles }).source, expected, JSON.stringify(env));
});

test('credentialsCheck: the instance profile passes; any other source warns why the policy denies it; none fails', () => {
  const level = (source: CredentialSource, resolved: { ok: true } | { error: string } = { ok: true }) => credentialsCheck({ source, detail: source }, resolved);
  assert.equal(level('instance-profile').level, 'pass');
  for (const source of ['environment', 'shared-files', 'web-identity', 'container', 'imds-disabled'] as const) {
    const check = level(source);
    assert.equal(check.level, 'warn', source);
    assert.match(check.detail, /ec2:SourceInstanceARN and aws:Ec2InstanceSourceVpc/);
  }
  assert.equal(level('instance-profile', { error: 'no role' }).level, 'fail');
});

test('hopLimitCheck: IMDSv2 with one hop passes; IMDSv1 or more hops warn; unknown instance skips', () => {
  const cases: [Parameters<typeof hopLimitCheck>[0], Level][] = [
    [{ httpTokens: 'required', hopLimit: 1 }, 'pass'],
    [{ httpTokens: 'required', hopLimit: 2 }, 'warn'],
    [{ httpTokens: 'optional', hopLimit: 1 }, 'warn'],
    [undefined, 'skip'],
    [{ error: 'UnauthorizedOperation' }, 'warn'],
  ];
  for (const [seen, expected] of cases) assert.equal(hopLimitCheck(seen).level, expected, JSON.stringify(seen));
});

test("regionCheck: a configured region must be the instance's", () => {
  const cases: [Parameters<typeof regionCheck>[0], string | undefined, Level][] = [
    [undefined, 'eu-west-1', 'pass'],
    [{ region: 'eu-west-1', input: 'AWS_REGION' }, 'eu-west-1', 'pass'],
    [{ region: 'us-east-1', input: '--region' }, 'eu-west-1', 'fail'],
    [{ region: 'us-east-1', input: '--region' }, undefined, 'warn'],
    [undefined, undefined, 'skip'],
  ];
  for (const [configured, imds, expected] of cases) assert.equal(regionCheck(configured, imds).level, expected, JSON.stringify({ configured, imds }));
  assert.match(regionCheck({ region: 'us-east-1', input: '--region' }, 'eu-west-1').fix ?? '', /--region/);
});

test('poolCheck: empty fails naming the values; all held warns; held by us or free passes', () => {
  const cases: [AddressView[], Level, RegExp][] = [
    [[], 'fail', /pool color=orange is empty: no Elastic IP in this region carries the tag key "color"/],
    [[address(1, { color: 'blue' })], 'fail', /the key "color" exists with the value "blue" \(1\)/],
    [[address(1, undefined, onOther)], 'warn', /1 address, 0 free: this node would wait/],
    [[address(1, undefined, onOther), address(2, undefined, onUs)], 'pass', /2 addresses, 0 free; this node holds 198\.51\.100\.2 \(eipalloc-2\)/],
    [[address(1), address(2, { color: 'blue' })], 'pass', /^pool color=orange: 1 address, 1 free$/],
  ];
  for (const [carrying, expected, detail] of cases) {
    const check = poolCheck(ORANGE, carrying, target);
    assert.equal(check.level, expected, check.detail);
    assert.match(check.detail, detail);
  }
});

test('dryRunCandidate: a free pool address first, else any pool address, never one outside the pool', () => {
  assert.equal(dryRunCandidate(ORANGE, [address(1, undefined, onOther), address(2)], target)?.allocationId, 'eipalloc-2');
  assert.equal(dryRunCandidate(ORANGE, [address(1, undefined, onOther)], target)?.allocationId, 'eipalloc-1');
  assert.equal(dryRunCandidate(ORANGE, [address(3, { color: 'blue' })], target), undefined);
});

test('dryRunCheck: DryRunOperation passes; a refusal fails with the decode command when EC2 encoded one', () => {
  assert.equal(dryRunCheck('iam-associate', 'x', { allowed: true }).level, 'pass');
  const denied = dryRunCheck('iam-associate', 'x', { allowed: false, code: 'UnauthorizedOperation', message: 'm', encoded: 'AbC-_1' });
  assert.equal(denied.level, 'fail');
  assert.match(denied.fix ?? '', /aws sts decode-authorization-message --encoded-message 'AbC-_1' --query DecodedMessage --output text/);
  assert.doesNotMatch(dryRunCheck('iam-associate', 'x', { allowed: false, code: 'AuthFailure', message: 'm' }).fix ?? '', /decode/);
  assert.equal(dryRunCheck('iam-associate', 'x', { error: 'no answer' }).level, 'fail');
});

test('clockCheck: within a minute passes, beyond warns, beyond 5 minutes (whatever the uncertainty) fails', () => {
  const cases: [number, number, Level][] = [
    [0, 1000, 'pass'],
    [-59_000, 1000, 'pass'],
    [90_000, 1000, 'warn'],
    [-90_000, 1000, 'warn'],
    [300_800, 1000, 'warn'], // could be 299.8 s: not proven past the window
    [301_500, 1000, 'fail'], // at least 300.5 s
    [310_000, 1000, 'fail'],
    [-600_000, 1000, 'fail'],
  ];
  for (const [skewMs, uncertaintyMs, expected] of cases) assert.equal(clockCheck({ skewMs, uncertaintyMs }).level, expected, String(skewMs));
  assert.match(clockCheck({ skewMs: 600_000, uncertaintyMs: 1000 }).detail, /600\.0 s behind EC2's/);
  assert.match(clockCheck({ skewMs: -600_000, uncertaintyMs: 1000 }).detail, /600\.0 s ahead of EC2's/);
  assert.equal(clockCheck(undefined).level, 'skip');
});

test('kubeconfigCheck and accessCheck: missing warns, broken fails; a required permission fails, an optional one warns', () => {
  assert.equal(kubeconfigCheck('/k', 'missing').level, 'warn');
  assert.equal(kubeconfigCheck('/k', { error: 'bad yaml' }).level, 'fail');
  assert.equal(kubeconfigCheck('/k', { server: 'https://x' }).level, 'pass');
  assert.equal(accessCheck('a', 'w', { allowed: true }, 'required', 'f').level, 'pass');
  const refused = accessCheck('a', 'w', { allowed: false, reason: 'can only list/watch pods with spec.nodeName field selector' }, 'required', 'f');
  assert.equal(refused.level, 'fail');
  assert.match(refused.detail, /not allowed \(can only list\/watch pods/);
  assert.equal(accessCheck('a', 'w', { allowed: false, reason: '' }, 'optional', 'f').level, 'warn');
  assert.equal(accessCheck('a', 'w', { error: 'timeout' }, 'optional', 'f').level, 'fail');
});

test('systemdChecks: skipped outside systemd; the unit, the gate and the daemon otherwise', () => {
  const levels = (facts: Parameters<typeof systemdChecks>[0]) => Object.fromEntries(systemdChecks(facts).map((c) => [c.name, c.level]));
  assert.deepEqual(levels({ underSystemd: false, unitFile: true, dropIn: true }), { systemd: 'skip' });
  assert.deepEqual(levels({ underSystemd: true, unitFile: false, dropIn: false }), { 'systemd-unit': 'warn', 'kubelet-gate': 'warn' });
  assert.deepEqual(levels({ underSystemd: true, unitFile: true, dropIn: false, enabled: 'enabled' }), { 'systemd-unit': 'pass', 'kubelet-gate': 'fail', daemon: 'warn' });
  assert.deepEqual(levels({ underSystemd: true, unitFile: true, dropIn: true, enabled: 'disabled', readiness: { ready: true, phase: 'ready', reason: null } }), {
    'systemd-unit': 'fail',
    'kubelet-gate': 'pass',
    daemon: 'pass',
  });
  assert.deepEqual(levels({ underSystemd: true, unitFile: true, dropIn: true, readiness: { ready: false, phase: 'claiming', reason: 'pool color=orange: 0 of 2 free' } }), {
    'systemd-unit': 'pass',
    'kubelet-gate': 'pass',
    daemon: 'warn',
  });
});

test('report: ok unless a check failed; exit 0 with warnings, 1 with a failure; text one line per check and the fix under it', () => {
  const checks: Check[] = [
    { name: 'imds', level: 'pass', detail: 'fine' },
    { name: 'credentials', level: 'warn', detail: 'from env', fix: 'use the role' },
    { name: 'systemd', level: 'skip', detail: 'not here' },
  ];
  const good = report(checks);
  assert.equal(good.ok, true);
  assert.equal(exitCode(good), 0);
  assert.deepEqual(good.checks.map((c) => c.ok), [true, true, true]);
  const bad = report([...checks, { name: 'pool', level: 'fail', detail: 'empty', fix: 'tag it' }]);
  assert.equal(bad.ok, false);
  assert.equal(exitCode(bad), 1);
  assert.equal(
    reportText(bad),
    ['ok   imds         fine', 'WARN credentials  from env', '                  → use the role', 'skip systemd      not here', 'FAIL pool         empty', '                  → tag it', '1 check failed, 1 warning', ''].join('\n'),
  );
  assert.equal(reportText(good).split('\n').at(-2), 'nothing failed (1 warning)');
});
