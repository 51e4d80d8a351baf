// lifecycle/doctor.ts: which checks run, which are skipped, and what each is fed, when
// parts of the node cannot answer. Ports are plain fakes (the wire is the e2e's), time is fake.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runDoctor, type DoctorDeps } from '../../agent/lifecycle/doctor.js';
import type { Ec2Probe, KubeProbe } from '../../agent/shared/doctor-ports.js';
import { AgentError } from '../../agent/shared/errors.js';
import type { AddressView, Identity, ImdsPort } from '../../agent/shared/ports.js';
import { FakeTime } from '../helpers/fake-time.js';

const IDENTITY: Identity = {
  instanceId: 'i-0aaa',
  region: 'eu-west-1',
  availabilityZone: 'eu-west-1a',
  localHostname: 'ip-10-0-0-5.eu-west-1.compute.internal',
  interfaces: [{ mac: '0a:00:00:00:00:01', deviceIndex: 0, networkInterfaceId: 'eni-0aaa', privateIps: ['10.0.0.5'] }],
};
const POOL: AddressView[] = [{ allocationId: 'eipalloc-1', publicIp: '198.51.100.1', tags: { color: 'orange' } }];

function deps(overrides: { imds?: ImdsPort; region?: { region: string; input: string }; kube?: DoctorDeps['kube']; asked?: string[] } = {}): DoctorDeps {
  const asked = overrides.asked ?? [];
  const ec2: Ec2Probe = {
    listCarrying: async (key) => (asked.push(`listCarrying ${key}`), { addresses: POOL, clock: { skewMs: 200, uncertaintyMs: 500 } }),
    dryRunAssociate: async (r) => (asked.push(`dryRunAssociate ${r.allocationId} ${r.networkInterfaceId} ${r.privateIp}`), { allowed: true }),
    dryRunDisassociate: async (id) => (asked.push(`dryRunDisassociate ${id}`), { allowed: true }),
    instanceNames: async () => new Map(),
    metadataOptions: async () => ({ httpTokens: 'required', hopLimit: 1 }),
  };
  const kube: KubeProbe = {
    whoAmI: async () => 'system:node:ip-10-0-0-5.eu-west-1.compute.internal',
    canI: async (q) => (asked.push(`canI ${q.verb} ${q.resource}${q.fieldSelector ? ` ${q.fieldSelector}` : ''}`), { allowed: true, reason: '' }),
    dryRunLabel: async (node, labels) => void asked.push(`dryRunLabel ${node} ${JSON.stringify(labels)}`),
    close: async () => void asked.push('close'),
  };
  return {
    settings: { pool: { tagKey: 'color', tagValue: 'orange' }, deviceIndex: 0, privateIp: undefined, region: overrides.region, nodeName: undefined, kubeconfig: '/k', imdsEndpoint: 'http://imds' },
    timing: new FakeTime(),
    imds: overrides.imds ?? { identity: async () => IDENTITY, publicIpsOn: async () => [], isLiveOn: async () => false, notices: async () => ({}) },
    ec2For: (region) => (asked.push(`ec2For ${region}`), ec2),
    credentials: { source: { source: 'instance-profile', detail: 'the instance profile' }, resolve: async () => undefined },
    kube: overrides.kube ?? (async () => ({ probe: kube, server: 'https://api' })),
    systemd: async () => ({ underSystemd: false, unitFile: false, dropIn: false }),
  };
}

const levels = (checks: { name: string; level: string }[]) => Object.fromEntries(checks.map((c) => [c.name, c.level]));

describe('runDoctor', () => {
  test('a healthy node: every question asked once, in the region IMDS gives, the label tried with the address the DryRun tried', async () => {
    const asked: string[] = [];
    const d = deps({ asked });
    const checks = await (d.timing as FakeTime).run(runDoctor(d, new AbortController().signal));
    assert.ok(checks.every((c) => c.level === 'pass' || c.name === 'systemd'), JSON.stringify(checks, null, 1));
    assert.deepEqual(asked, [
      'ec2For eu-west-1',
      'listCarrying color',
      'dryRunAssociate eipalloc-1 eni-0aaa 10.0.0.5',
      'canI get nodes',
      'dryRunLabel ip-10-0-0-5.eu-west-1.compute.internal {"eip-agent.io/public-ip":"198.51.100.1"}',
      'canI list pods spec.nodeName=ip-10-0-0-5.eu-west-1.compute.internal',
      'canI create events',
      'close',
    ]);
  });

  test('IMDS does not answer: imds fails, the pool is still listed in the configured region, what needs the node is skipped', async () => {
    const asked: string[] = [];
    const down: ImdsPort = {
      identity: async () => {
        throw new AgentError('transient', 'imds.network', 'no answer (ECONNREFUSED)');
      },
      publicIpsOn: async () => [],
      isLiveOn: async () => false,
      notices: async () => ({}),
    };
    const d = deps({ imds: down, region: { region: 'eu-west-1', input: '--region' }, asked });
    const checks = await (d.timing as FakeTime).run(runDoctor(d, new AbortController().signal));
    assert.deepEqual(levels(checks), {
      imds: 'fail',
      credentials: 'pass',
      region: 'warn',
      pool: 'pass',
      clock: 'pass',
      'iam-associate': 'skip',
      kubeconfig: 'pass',
      'kube-api': 'pass',
      'kube-node': 'skip',
      systemd: 'skip',
    });
    assert.match(checks[0]!.detail, /ECONNREFUSED/);
    assert.ok(!asked.some((a) => a.startsWith('dryRun')), 'no DryRun without a target');
  });

  test('no kubeconfig: one warning, no Kubernetes question; a broken one: one failure', async () => {
    const missing = deps({ kube: async () => 'missing' });
    assert.equal(levels(await (missing.timing as FakeTime).run(runDoctor(missing, new AbortController().signal)))['kubeconfig'], 'warn');
    const broken = deps({
      kube: async () => {
        throw new AgentError('bad-input', 'bad-input', '/k: expected a kubeconfig');
      },
    });
    const checks = await (broken.timing as FakeTime).run(runDoctor(broken, new AbortController().signal));
    assert.equal(levels(checks)['kubeconfig'], 'fail');
    assert.equal(checks.filter((c) => c.name.startsWith('kube-')).length, 0);
  });

  test('a bug (not an AgentError) is not a check: it is thrown', async () => {
    const d = deps();
    d.ec2For = () => {
      throw new TypeError('bug');
    };
    await assert.rejects((d.timing as FakeTime).run(runDoctor(d, new AbortController().signal)), TypeError);
  });
});
