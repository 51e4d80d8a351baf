// What the operator reads: each check's whole verdict (name, level, detail, fix) as one row,
// so a changed word, a lost fix or a moved boundary shows here. doctor.test.ts holds the
// levels across many inputs; this file holds the exact lines for one input of each kind.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  accessCheck,
  apiServerCheck,
  clockCheck,
  credentialSource,
  credentialsCheck,
  dryRunCheck,
  hopLimitCheck,
  imdsCheck,
  kubeconfigCheck,
  poolCheck,
  regionCheck,
  report,
  reportText,
  systemdChecks,
  type Check,
} from '../../agent/core/doctor.js';
import type { AddressView } from '../../agent/shared/ports.js';

const target = { instanceId: 'i-0aaa', networkInterfaceId: 'eni-0aaa', privateIp: '10.0.0.5', mac: '0a:00:00:00:00:01' };
const onOther = { associationId: 'eipassoc-8', instanceId: 'i-0bbb', networkInterfaceId: 'eni-0bbb', privateIp: '10.0.0.6' };
const address = (n: number, tags: Record<string, string>, holder: Partial<AddressView> = {}): AddressView => ({
  allocationId: `eipalloc-${n}`,
  publicIp: `198.51.100.${n}`,
  tags,
  ...holder,
});

function rows<I>(check: (input: I) => Check, cases: [I, Check][]): void {
  for (const [input, expected] of cases) assert.deepEqual(check(input), expected, JSON.stringify(input));
}

test('imdsCheck: the identity it read, or where to enable IMDSv2', () => {
  assert.deepEqual(imdsCheck({ target, availabilityZone: 'eu-west-1a', region: 'eu-west-1' }, 'http://169.254.169.254'), {
    name: 'imds',
    level: 'pass',
    detail: 'IMDSv2 token and identity: i-0aaa in eu-west-1a, interface eni-0aaa, private IP 10.0.0.5',
  });
  assert.deepEqual(imdsCheck({ error: 'connect ECONNREFUSED' }, 'http://127.0.0.1:1338'), {
    name: 'imds',
    level: 'fail',
    detail: 'connect ECONNREFUSED',
    fix: "on EC2: the instance's metadata endpoint must be enabled with IMDSv2 (aws ec2 modify-instance-metadata-options --http-endpoint enabled); off EC2: set AWS_EC2_METADATA_SERVICE_ENDPOINT (now http://127.0.0.1:1338)",
  });
});

test('hopLimitCheck: each problem named, both joined, an unknown setting shown as ?', () => {
  const name = 'imds-settings';
  const fix = 'set HttpTokens=required and HttpPutResponseHopLimit=1 in the launch template (MetadataOptions); the agent runs on the host and needs no more';
  const v1 = 'HttpTokens=optional: IMDSv1 answers without a token';
  const hops = 'HttpPutResponseHopLimit=2: pods in their own network namespace reach IMDS and can borrow the node role, which may move pool addresses';
  rows(hopLimitCheck, [
    [{ httpTokens: 'required', hopLimit: 1 }, { name, level: 'pass', detail: 'HttpTokens=required, HttpPutResponseHopLimit=1' }],
    // DescribeInstances may leave a setting out: not a problem, shown as unknown
    [{ httpTokens: undefined, hopLimit: 1 }, { name, level: 'pass', detail: 'HttpTokens=?, HttpPutResponseHopLimit=1' }],
    [{ httpTokens: 'required', hopLimit: undefined }, { name, level: 'pass', detail: 'HttpTokens=required, HttpPutResponseHopLimit=?' }],
    [{ httpTokens: 'optional', hopLimit: 1 }, { name, level: 'warn', detail: v1, fix }],
    [{ httpTokens: 'required', hopLimit: 2 }, { name, level: 'warn', detail: hops, fix }],
    [{ httpTokens: 'optional', hopLimit: 2 }, { name, level: 'warn', detail: `${v1}; ${hops}`, fix }],
    [undefined, { name, level: 'skip', detail: 'DescribeInstances does not show this instance yet' }],
    [{ error: 'UnauthorizedOperation' }, { name, level: 'warn', detail: 'could not read the IMDS settings: UnauthorizedOperation', fix: 'allow ec2:DescribeInstances (scripts/iam-policy.json has it)' }],
  ]);
});

test('credentialSource: where the SDK takes credentials from, as the operator reads it', () => {
  const cases: [Record<string, string>, string[], ReturnType<typeof credentialSource>][] = [
    [{}, [], { source: 'instance-profile', detail: 'the instance profile (the node role, through IMDS)' }],
    [{ AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 's' }, [], { source: 'environment', detail: 'the environment (AWS_ACCESS_KEY_ID)' }],
    [{ AWS_PROFILE: 'admin' }, ['/root/.aws/config'], { source: 'shared-files', detail: 'shared config files (profile admin), which the SDK reads before the instance profile' }],
    [{}, ['/root/.aws/config', '/root/.aws/credentials'], { source: 'shared-files', detail: 'shared config files (/root/.aws/config, /root/.aws/credentials), which the SDK reads before the instance profile' }],
    [{ AWS_ROLE_ARN: 'arn:aws:iam::1:role/r', AWS_WEB_IDENTITY_TOKEN_FILE: '/t' }, [], { source: 'web-identity', detail: 'a web identity (IRSA: AWS_ROLE_ARN=arn:aws:iam::1:role/r)' }],
    // the SDK needs both halves of a web identity; either alone is skipped
    [{ AWS_ROLE_ARN: 'arn:aws:iam::1:role/r' }, [], { source: 'instance-profile', detail: 'the instance profile (the node role, through IMDS)' }],
    [{ AWS_WEB_IDENTITY_TOKEN_FILE: '/t' }, [], { source: 'instance-profile', detail: 'the instance profile (the node role, through IMDS)' }],
    [{ AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials' }, [], { source: 'container', detail: 'a container credential endpoint (EKS Pod Identity or ECS: AWS_CONTAINER_CREDENTIALS_*)' }],
    [{ AWS_EC2_METADATA_DISABLED: 'true' }, [], { source: 'imds-disabled', detail: 'nowhere: AWS_EC2_METADATA_DISABLED turns the instance profile off' }],
  ];
  for (const [env, sharedFiles, expected] of cases) assert.deepEqual(credentialSource({ env, sharedFiles }), expected, JSON.stringify({ env, sharedFiles }));
});

test('credentialsCheck: the whole verdict for the role, another source, and none', () => {
  const profile = { source: 'instance-profile' as const, detail: 'the instance profile (the node role, through IMDS)' };
  const env = { source: 'environment' as const, detail: 'the environment (AWS_ACCESS_KEY_ID)' };
  assert.deepEqual(credentialsCheck(profile, { ok: true }), { name: 'credentials', level: 'pass', detail: 'from the instance profile (the node role, through IMDS)' });
  assert.deepEqual(credentialsCheck(env, { ok: true }), {
    name: 'credentials',
    level: 'warn',
    detail:
      "from the environment (AWS_ACCESS_KEY_ID), not the instance role: only credentials EC2 delivers to this instance carry ec2:SourceInstanceARN and aws:Ec2InstanceSourceVpc, and the shipped policy's conditions (scripts/iam-policy.json) deny AssociateAddress without them",
    fix: 'run the agent on the host with the instance profile: unset AWS_ACCESS_KEY_ID/AWS_PROFILE/AWS_ROLE_ARN/AWS_CONTAINER_CREDENTIALS_* for it, or grant these credentials a policy of their own (and lose the node-scoped conditions)',
  });
  assert.deepEqual(credentialsCheck(profile, { error: 'no role attached' }), {
    name: 'credentials',
    level: 'fail',
    detail: 'no credentials from the instance profile (the node role, through IMDS): no role attached',
    fix: 'attach an instance profile whose role carries scripts/iam-policy.json to the launch template',
  });
});

test('regionCheck: the whole verdict for each combination', () => {
  const name = 'region';
  const cases: [Parameters<typeof regionCheck>, Check][] = [
    [[undefined, 'eu-west-1'], { name, level: 'pass', detail: 'eu-west-1 (from IMDS)' }],
    [[{ region: 'eu-west-1', input: 'AWS_REGION' }, 'eu-west-1'], { name, level: 'pass', detail: 'eu-west-1 (AWS_REGION agrees with IMDS)' }],
    [
      [{ region: 'us-east-1', input: '--region' }, 'eu-west-1'],
      { name, level: 'fail', detail: '--region says us-east-1 but this instance is in eu-west-1: an Elastic IP is associated only within its own region', fix: 'drop --region, or set it to eu-west-1' },
    ],
    [[{ region: 'us-east-1', input: '--region' }, undefined], { name, level: 'warn', detail: 'us-east-1 from --region; IMDS did not say which region this is', fix: 'run the doctor on the node itself' }],
    [[undefined, undefined], { name, level: 'skip', detail: 'no region from IMDS' }],
  ];
  for (const [args, expected] of cases) assert.deepEqual(regionCheck(...args), expected, JSON.stringify(args));
});

test('poolCheck: the fix names the tag to set, or any value for a pool without one', () => {
  const name = 'pool';
  assert.deepEqual(poolCheck({ tagKey: 'color', tagValue: 'orange' }, [], target), {
    name,
    level: 'fail',
    detail: 'pool color=orange is empty: no Elastic IP in this region carries the tag key "color" (check --tag-key, its case, and --region)',
    fix: "tag the pool's Elastic IPs color=orange (aws ec2 create-tags), or fix --tag-key/--tag-value",
  });
  assert.deepEqual(poolCheck({ tagKey: 'color' }, [], target).fix, "tag the pool's Elastic IPs color=<any value> (aws ec2 create-tags), or fix --tag-key/--tag-value");
  assert.deepEqual(poolCheck({ tagKey: 'color', tagValue: 'orange' }, [address(1, { color: 'orange' }, onOther)], target), {
    name,
    level: 'warn',
    detail: 'pool color=orange: 1 address, 0 free: this node would wait for one to be released',
    fix: 'allocate and tag more addresses (color=orange), or see who holds them: eip-agent pool',
  });
  assert.deepEqual(poolCheck({ tagKey: 'color' }, [address(1, { color: 'blue' }, onOther)], target).fix, 'allocate and tag more addresses (color=…), or see who holds them: eip-agent pool');
});

test('dryRunCheck: the whole verdict for allowed, refused with and without an encoded message, and no answer', () => {
  const what = 'AssociateAddress eipalloc-1 → eni-0aaa';
  const attach = 'attach scripts/iam-policy.json (with your tag key and value) to the node role, and run the agent with the instance profile';
  rows((o: Parameters<typeof dryRunCheck>[2]) => dryRunCheck('iam-associate', what, o), [
    [{ allowed: true }, { name: 'iam-associate', level: 'pass', detail: `${what}: DryRun says it would succeed (DryRunOperation)` }],
    [{ allowed: false, code: 'AuthFailure', message: 'm' }, { name: 'iam-associate', level: 'fail', detail: `${what}: AuthFailure: the node role may not do this`, fix: attach }],
    [
      { allowed: false, code: 'UnauthorizedOperation', message: 'm', encoded: 'AbC' },
      {
        name: 'iam-associate',
        level: 'fail',
        detail: `${what}: UnauthorizedOperation: the node role may not do this`,
        fix: `${attach}; to see which statement refused it: aws sts decode-authorization-message --encoded-message 'AbC' --query DecodedMessage --output text`,
      },
    ],
    [{ error: 'socket hang up' }, { name: 'iam-associate', level: 'fail', detail: `${what}: socket hang up`, fix: 'see the error; run the doctor again once EC2 answers' }],
  ]);
});

test('clockCheck: the whole verdict, and the boundaries at exactly one and five minutes', () => {
  const name = 'clock';
  const fix = 'fix time sync: chronyd with the Amazon Time Sync Service (169.254.169.123, AL2023 default); `chronyc tracking` shows the offset';
  rows(clockCheck, [
    [undefined, { name, level: 'skip', detail: "EC2's answer carried no Date header" }],
    // a clock in step: no side to name; it reads "0.0 s ahead of" (pinned so the wording does not drift)
    [{ skewMs: 0, uncertaintyMs: 500 }, { name, level: 'pass', detail: "this host's clock is 0.0 s ahead of EC2's (±0.5 s)" }],
    [{ skewMs: 61_000, uncertaintyMs: 1000 }, { name, level: 'pass', detail: "this host's clock is 61.0 s behind EC2's (±1.0 s)" }], // at least exactly 60 s
    [{ skewMs: -61_500, uncertaintyMs: 1000 }, { name, level: 'warn', detail: "this host's clock is 61.5 s ahead of EC2's (±1.0 s): tokens (aws eks get-token) and SigV4 fail past 5 minutes", fix }],
    [{ skewMs: 301_000, uncertaintyMs: 1000 }, { name, level: 'warn', detail: "this host's clock is 301.0 s behind EC2's (±1.0 s): tokens (aws eks get-token) and SigV4 fail past 5 minutes", fix }], // at least exactly 300 s
    [
      { skewMs: 301_001, uncertaintyMs: 1000 },
      { name, level: 'fail', detail: "this host's clock is 301.0 s behind EC2's (±1.0 s): EC2 refuses SigV4 requests signed more than 5 minutes away (RequestExpired/SignatureDoesNotMatch)", fix },
    ],
  ]);
});

test('kubeconfigCheck, apiServerCheck, accessCheck: the whole verdicts', () => {
  rows((seen: Parameters<typeof kubeconfigCheck>[1]) => kubeconfigCheck('/var/lib/kubelet/kubeconfig', seen), [
    [{ server: 'https://api:6443' }, { name: 'kubeconfig', level: 'pass', detail: '/var/lib/kubelet/kubeconfig → https://api:6443' }],
    [
      'missing',
      {
        name: 'kubeconfig',
        level: 'warn',
        detail: 'no kubeconfig at /var/lib/kubelet/kubeconfig yet (kubelet writes it when it joins): the agent would skip the drain wait and the Node label',
        fix: 'run the doctor again after the node joined, or pass --kubeconfig',
      },
    ],
    [
      { error: 'EACCES' },
      {
        name: 'kubeconfig',
        level: 'fail',
        detail: '/var/lib/kubelet/kubeconfig: EACCES',
        fix: "run the doctor as root, as the agent runs (the kubelet's kubeconfig is root's); else fix the kubeconfig: the agent refuses to start with this one",
      },
    ],
  ]);
  rows(apiServerCheck, [
    [{ username: 'system:node:ip-10-0-0-5' }, { name: 'kube-api', level: 'pass', detail: "the API server answers; this node's credentials are system:node:ip-10-0-0-5" }],
    [
      { error: 'ECONNREFUSED' },
      { name: 'kube-api', level: 'fail', detail: 'the API server does not answer: ECONNREFUSED', fix: "check the kubeconfig's server and credentials (on EKS: `aws eks get-token` works on this node)" },
    ],
  ]);
  rows((seen: Parameters<typeof accessCheck>[2]) => accessCheck('rbac-pods', 'list pods on this node', seen, 'required', 'apply the ClusterRole'), [
    [{ allowed: true }, { name: 'rbac-pods', level: 'pass', detail: 'list pods on this node: allowed' }],
    [{ allowed: false, reason: '' }, { name: 'rbac-pods', level: 'fail', detail: 'list pods on this node: not allowed', fix: 'apply the ClusterRole' }],
    [{ allowed: false, reason: 'no RBAC policy matched' }, { name: 'rbac-pods', level: 'fail', detail: 'list pods on this node: not allowed (no RBAC policy matched)', fix: 'apply the ClusterRole' }],
    [{ error: 'timeout' }, { name: 'rbac-pods', level: 'fail', detail: 'list pods on this node: could not ask: timeout', fix: 'apply the ClusterRole' }],
  ]);
});

test('systemdChecks: the whole checks, in order, for each installation state', () => {
  const gateMissing = 'the kubelet drop-in (10-eip-agent.conf) is missing: kubelet starts without waiting for the address';
  const gateOk: Check = { name: 'kubelet-gate', level: 'pass', detail: 'kubelet waits on `eip-agent wait` (10-eip-agent.conf)' };
  const cases: [Parameters<typeof systemdChecks>[0], Check[]][] = [
    [{ underSystemd: false, unitFile: true, dropIn: true }, [{ name: 'systemd', level: 'skip', detail: 'not under systemd: the unit, the kubelet gate and the daemon are not checked' }]],
    [
      { underSystemd: true, unitFile: false, dropIn: false },
      [
        { name: 'systemd-unit', level: 'warn', detail: 'eip-agent.service is not installed', fix: 'eip-agent install --tag-key … (or your image/user_data installs it)' },
        { name: 'kubelet-gate', level: 'warn', detail: gateMissing, fix: 'eip-agent install writes it' },
      ],
    ],
    [
      { underSystemd: true, unitFile: true, dropIn: false, enabled: 'disabled' },
      [
        { name: 'systemd-unit', level: 'fail', detail: 'eip-agent.service is installed but disabled: it will not start at boot', fix: 'systemctl enable eip-agent.service' },
        { name: 'kubelet-gate', level: 'fail', detail: gateMissing, fix: 'eip-agent install writes it' },
        { name: 'daemon', level: 'warn', detail: 'no eip-agent daemon answers on --health-listen', fix: 'systemctl status eip-agent; journalctl -u eip-agent' },
      ],
    ],
    [
      { underSystemd: true, unitFile: true, dropIn: true, enabled: 'enabled', readiness: { ready: true, phase: 'ready', reason: null } },
      [
        { name: 'systemd-unit', level: 'pass', detail: 'eip-agent.service installed and enabled' },
        gateOk,
        { name: 'daemon', level: 'pass', detail: 'the daemon is ready: the address is live' },
      ],
    ],
    [
      { underSystemd: true, unitFile: true, dropIn: true, readiness: { ready: false, phase: 'claiming', reason: 'pool color=orange: 0 of 2 free' } },
      [
        { name: 'systemd-unit', level: 'pass', detail: 'eip-agent.service installed' },
        gateOk,
        { name: 'daemon', level: 'warn', detail: 'the daemon is claiming: pool color=orange: 0 of 2 free', fix: 'eip-agent status --format text; journalctl -u eip-agent' },
      ],
    ],
    [
      { underSystemd: true, unitFile: true, dropIn: true, readiness: { ready: false, phase: 'starting', reason: null } },
      [
        { name: 'systemd-unit', level: 'pass', detail: 'eip-agent.service installed' },
        gateOk,
        { name: 'daemon', level: 'warn', detail: 'the daemon is starting', fix: 'eip-agent status --format text; journalctl -u eip-agent' },
      ],
    ],
  ];
  for (const [facts, expected] of cases) assert.deepEqual(systemdChecks(facts), expected, JSON.stringify(facts));
});

test('reportText: the closing line counts failures and warnings, singular and plural', () => {
  const check = (level: Check['level'], n: number): Check => ({ name: `c${n}`, level, detail: 'd', ...(level === 'warn' || level === 'fail' ? { fix: 'f' } : {}) });
  const last = (levels: Check['level'][]) => reportText(report(levels.map(check))).split('\n').at(-2);
  const cases: [Check['level'][], string][] = [
    [['pass'], 'nothing failed'],
    [['pass', 'skip'], 'nothing failed'],
    [['warn'], 'nothing failed (1 warning)'],
    [['warn', 'warn'], 'nothing failed (2 warnings)'],
    [['fail'], '1 check failed, 0 warnings'],
    [['fail', 'warn'], '1 check failed, 1 warning'],
    [['fail', 'fail', 'warn', 'warn'], '2 checks failed, 2 warnings'],
  ];
  for (const [levels, expected] of cases) assert.equal(last(levels), expected, levels.join());
});
