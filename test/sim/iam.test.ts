// The IAM evaluator on its own: each condition operator and key it supports, the keys each
// resource type carries (and lacks), policy variables, fail-closed cases, and the shipped
// policy judged for every caller/resource pairing that matters (README, Deploy on EKS, IAM).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { authorize, parsePolicy, requestContextOf, resourcesOf, type RequestContext, type ResourceContext, type Statement } from './iam.js';
import { World } from './world.js';

const V = '2012-10-17';
const SHIPPED = JSON.parse(readFileSync('scripts/iam-policy.json', 'utf8')) as unknown;

/** One Allow statement on everything with `condition`, judged for one resource. */
function holds(condition: Statement['Condition'], resource: Partial<ResourceContext>, request: RequestContext = {}): boolean {
  const statements = parsePolicy({ Version: V, Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Condition: condition }] });
  return authorize(statements, 'ec2:AssociateAddress', [{ arn: 'arn:aws:ec2:eu-west-1:123456789012:x/y', tags: {}, ...resource }], request).allowed;
}

const ME = 'arn:aws:ec2:eu-west-1:123456789012:instance/i-0aaa';
const mine: RequestContext = { caller: 'i-0aaa', keys: { 'ec2:sourceinstancearn': ME, 'aws:ec2instancesourcevpc': 'vpc-1' } };
const staticKeys: RequestContext = { caller: 'operator' };

describe('ArnLike', () => {
  const cases: [string, string | undefined, string | string[], boolean][] = [
    ['exact', ME, ME, true],
    ['wildcards per component', ME, 'arn:aws:ec2:*:*:instance/*', true],
    ['? is one character', ME, 'arn:aws:ec2:eu-west-?:123456789012:instance/i-0aaa', true],
    ['fewer than six components match nothing: a * stands for no colon', ME, 'arn:aws:ec2:*:instance/i-0aaa', false],
    ['another resource', ME, 'arn:aws:ec2:*:*:instance/i-0bbb', false],
    ['case-sensitive', ME, 'arn:aws:ec2:*:*:Instance/i-0aaa', false],
    ['values are OR-ed', ME, ['arn:aws:ec2:*:*:instance/i-0bbb', 'arn:aws:ec2:*:*:instance/i-0aaa'], true],
    ['a key that is no ARN matches nothing', 'i-0aaa', 'arn:aws:ec2:*:*:instance/*', false],
    ['a missing key matches nothing (fail closed)', undefined, 'arn:*:*:*:*:*', false],
  ];
  for (const [name, actual, pattern, expected] of cases) {
    test(name, () => {
      const request: RequestContext = actual === undefined ? {} : { keys: { 'ec2:sourceinstancearn': actual } };
      assert.equal(holds({ ArnLike: { 'ec2:SourceInstanceARN': pattern } }, {}, request), expected);
    });
  }
});

describe('policy variables', () => {
  const instance = (id: string): Partial<ResourceContext> => ({ keys: { 'ec2:instanceid': id } });
  const selfOnly = { ArnLike: { 'ec2:SourceInstanceARN': 'arn:aws:ec2:*:*:instance/${ec2:InstanceID}' } };
  test('a resource key substituted into an ARN pattern: the caller is the instance itself', () => {
    assert.equal(holds(selfOnly, instance('i-0aaa'), mine), true);
    assert.equal(holds(selfOnly, instance('i-0bbb'), mine), false);
  });
  test('static keys carry no ec2:SourceInstanceARN: the self-only condition fails closed', () => {
    assert.equal(holds(selfOnly, instance('i-0aaa'), staticKeys), false);
  });
  test('a variable with no value matches nothing: ArnLike and StringEquals fail, StringNotEquals holds', () => {
    const noInstance: Partial<ResourceContext> = { keys: { 'ec2:vpc': 'arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-1' } };
    assert.equal(holds(selfOnly, noInstance, mine), false, 'no ec2:InstanceID on this resource');
    assert.equal(holds({ StringEquals: { 'ec2:Vpc': '${aws:Ec2InstanceSourceVpc}' } }, noInstance, staticKeys), false);
    assert.equal(holds({ StringNotEquals: { 'ec2:Vpc': '${aws:Ec2InstanceSourceVpc}' } }, noInstance, staticKeys), true);
  });
  test('a variable with no value is no empty text either', () => {
    const noInstance: Partial<ResourceContext> = {};
    assert.equal(holds({ ArnLike: { 'ec2:SourceInstanceARN': `${ME}\${ec2:InstanceID}` } }, noInstance, mine), false);
    assert.equal(holds({ StringEquals: { 'aws:Ec2InstanceSourceVpc': 'vpc-1${ec2:InstanceID}' } }, noInstance, mine), false);
    assert.equal(holds({ StringNotEquals: { 'aws:Ec2InstanceSourceVpc': 'vpc-1${ec2:InstanceID}' } }, noInstance, mine), true);
  });
  test('a substituted value is literal text: its * is no wildcard', () => {
    const request: RequestContext = { keys: { 'aws:ec2instancesourcevpc': '*' } };
    const vpc = (id: string): Partial<ResourceContext> => ({ keys: { 'ec2:vpc': `arn:aws:ec2:eu-west-1:123456789012:vpc/${id}` } });
    assert.equal(holds({ ArnLike: { 'ec2:Vpc': 'arn:aws:ec2:*:*:vpc/${aws:Ec2InstanceSourceVpc}' } }, vpc('vpc-1'), request), false);
    assert.equal(holds({ ArnLike: { 'ec2:Vpc': 'arn:aws:ec2:*:*:vpc/${aws:Ec2InstanceSourceVpc}' } }, vpc('*'), request), true);
  });
  test('StringEquals with a variable compares the substituted text', () => {
    assert.equal(holds({ StringEquals: { 'ec2:InstanceID': '${ec2:InstanceID}' } }, instance('i-0aaa')), true);
    assert.equal(holds({ StringEquals: { 'aws:Ec2InstanceSourceVpc': 'vpc-${ec2:InstanceID}' } }, instance('1'), mine), true);
  });
  test('key names are case-insensitive, in keys and in variables', () => {
    assert.equal(holds({ ArnLike: { 'EC2:sourceinstancearn': 'arn:aws:ec2:*:*:instance/${EC2:instanceid}' } }, instance('i-0aaa'), mine), true);
  });
});

describe('which keys each resource carries (Service Authorization Reference)', () => {
  const world = new World();
  const a = world.addInstance();
  const b = world.addInstance();
  const loose = world.addDetachedEni();
  const pool = world.addAddress({ color: 'orange' });
  const eniA = a.enis[0]!.networkInterfaceId;
  const associate = (eni: string) => ({ Action: 'AssociateAddress', AllocationId: pool.allocationId, NetworkInterfaceId: eni });

  test('AssociateAddress onto an attached interface: elastic-ip, network-interface (ec2:Vpc), its instance (ec2:InstanceID)', () => {
    const [eip, eni, instance, ...rest] = resourcesOf(world, 'AssociateAddress', associate(eniA))!;
    assert.deepEqual(rest, []);
    assert.deepEqual(eip, { arn: `arn:aws:ec2:eu-west-1:123456789012:elastic-ip/${pool.allocationId}`, tags: { color: 'orange' } });
    assert.deepEqual(eni!.keys, { 'ec2:vpc': `arn:aws:ec2:eu-west-1:123456789012:vpc/${a.enis[0]!.vpcId}` });
    assert.deepEqual(instance, { arn: `arn:aws:ec2:eu-west-1:123456789012:instance/${a.instanceId}`, tags: {}, keys: { 'ec2:instanceid': a.instanceId } });
  });
  test('... under the other reading, the interface alone; an unattached interface has no instance either way', () => {
    assert.equal(resourcesOf(world, 'AssociateAddress', associate(eniA), { interfaceInstance: 'unchecked' })!.length, 2);
    assert.equal(resourcesOf(world, 'AssociateAddress', associate(loose.networkInterfaceId))!.length, 2);
  });
  test('DisassociateAddress: elastic-ip and network-interface only, never the instance', () => {
    const held = world.associate({ allocationId: pool.allocationId, networkInterfaceId: eniA });
    try {
      const touched = resourcesOf(world, 'DisassociateAddress', { Action: 'DisassociateAddress', AssociationId: held.associationId })!;
      assert.deepEqual(touched.map((r) => r.arn.split(':')[5]!.split('/')[0]), ['elastic-ip', 'network-interface']);
    } finally {
      world.disassociate(held.associationId);
    }
  });
  test('Null sees a key as absent on the resource types that do not carry it', () => {
    const touched = resourcesOf(world, 'AssociateAddress', associate(eniA))!;
    assert.deepEqual(
      touched.map((r) => [holds({ Null: { 'ec2:InstanceID': 'true' } }, r), holds({ Null: { 'ec2:Vpc': 'false' } }, r)]),
      [
        [true, false],
        [true, true],
        [false, false],
      ],
    );
  });
  test('request context: an instance role session names its instance and VPC; static keys name neither', () => {
    assert.deepEqual(requestContextOf(world, b.instanceId), {
      caller: b.instanceId,
      keys: { 'ec2:sourceinstancearn': `arn:aws:ec2:eu-west-1:123456789012:instance/${b.instanceId}`, 'aws:ec2instancesourcevpc': b.enis[0]!.vpcId },
    });
    assert.deepEqual(requestContextOf(world, 'operator'), { caller: 'operator' });
    assert.deepEqual(requestContextOf(world, undefined), {});
  });
});

describe('the shipped policy, statement by statement', () => {
  const world = new World();
  const a = world.addInstance({ interfaces: 2 });
  const b = world.addInstance();
  const elsewhere = world.addDetachedEni();
  elsewhere.vpcId = 'vpc-0another000000000'; // another VPC (the sim's world has one)
  const pool = world.addAddress({ color: 'orange' });
  const blue = world.addAddress({ color: 'blue' });
  const statements = parsePolicy(SHIPPED);
  const judge = (caller: string, allocationId: string, eni: string, reading: 'checked' | 'unchecked' = 'checked') =>
    authorize(statements, 'ec2:AssociateAddress', resourcesOf(world, 'AssociateAddress', { AllocationId: allocationId, NetworkInterfaceId: eni }, { interfaceInstance: reading })!, requestContextOf(world, caller));

  const cases: [string, string, string, string, 'checked' | 'unchecked', boolean, string?][] = [
    ['a node onto its primary interface', a.instanceId, pool.allocationId, a.enis[0]!.networkInterfaceId, 'checked', true],
    ['a node onto its second interface (VPC CNI)', a.instanceId, pool.allocationId, a.enis[1]!.networkInterfaceId, 'checked', true],
    ['a node onto another node’s interface', b.instanceId, pool.allocationId, a.enis[0]!.networkInterfaceId, 'checked', false, 'instance'],
    ['... where EC2 checks only the interface: IAM cannot tell (README)', b.instanceId, pool.allocationId, a.enis[0]!.networkInterfaceId, 'unchecked', true],
    ['a node onto an interface in another VPC', a.instanceId, pool.allocationId, elsewhere.networkInterfaceId, 'checked', false, 'network-interface'],
    ['a node, an address outside the pool', a.instanceId, blue.allocationId, a.enis[0]!.networkInterfaceId, 'checked', false, 'elastic-ip'],
    ['static keys onto a node’s interface', 'operator', pool.allocationId, a.enis[0]!.networkInterfaceId, 'checked', false, 'network-interface'],
    ['static keys, interface-only reading', 'operator', pool.allocationId, a.enis[0]!.networkInterfaceId, 'unchecked', false, 'network-interface'],
  ];
  for (const [name, caller, allocationId, eni, reading, allowed, refusedOn] of cases) {
    test(`AssociateAddress: ${name} → ${allowed ? 'allowed' : `refused on the ${refusedOn}`}`, () => {
      const decision = judge(caller, allocationId, eni, reading);
      assert.equal(decision.allowed, allowed);
      if (refusedOn) assert.match(decision.deniedBy!.arn, new RegExp(`:${refusedOn}/`));
    });
  }

  test('DisassociateAddress: the own node, another node in the VPC (IAM cannot tell, README), another VPC, static keys', () => {
    const onA = world.associate({ allocationId: pool.allocationId, networkInterfaceId: a.enis[0]!.networkInterfaceId });
    const other = world.addAddress({ color: 'orange' });
    const onElsewhere = world.associate({ allocationId: other.allocationId, networkInterfaceId: elsewhere.networkInterfaceId });
    try {
      const judgeOff = (caller: string, associationId: string) =>
        authorize(statements, 'ec2:DisassociateAddress', resourcesOf(world, 'DisassociateAddress', { AssociationId: associationId })!, requestContextOf(world, caller)).allowed;
      assert.deepEqual(
        [judgeOff(a.instanceId, onA.associationId), judgeOff(b.instanceId, onA.associationId), judgeOff(a.instanceId, onElsewhere.associationId), judgeOff('operator', onA.associationId)],
        [true, true, false, false],
      );
    } finally {
      world.disassociate(onA.associationId);
      world.disassociate(onElsewhere.associationId);
    }
  });
});

describe('what the simulator refuses to judge', () => {
  const cases: [string, unknown, RegExp][] = [
    ['an unknown operator', { Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { StringLike: { 'aws:ResourceTag/color': 'o*' } } }] }, /StringLike is not supported/],
    ['ArnEquals (not used, not modelled)', { Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { ArnEquals: { 'ec2:Vpc': 'x' } } }] }, /ArnEquals is not supported/],
    ['an unknown key', { Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { StringEquals: { 'ec2:Subnet': 'x' } } }] }, /ec2:Subnet is not supported/],
    ['a key that does not exist', { Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { ArnLike: { 'ec2:InstanceARN': '${ec2:SourceInstanceARN}' } } }] }, /ec2:InstanceARN is not supported/],
    ['an unknown variable', { Version: V, Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { StringEquals: { 'ec2:Vpc': '${aws:username}' } } }] }, /\$\{aws:username\} is not supported/],
    ['a variable with Null', { Version: V, Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { Null: { 'ec2:Vpc': '${ec2:Vpc}' } } }] }, /cannot be used with Null/],
    ['a variable without Version 2012-10-17', { Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { StringEquals: { 'ec2:Vpc': '${ec2:Vpc}' } } }] }, /need "Version": "2012-10-17"/],
    ['a variable in Resource', { Version: V, Statement: [{ Effect: 'Allow', Action: '*', Resource: 'arn:aws:ec2:*:*:instance/${ec2:InstanceID}' }] }, /variables in Resource/],
  ];
  for (const [name, policy, error] of cases) {
    test(name, () => assert.throws(() => parsePolicy(policy), error));
  }
});
