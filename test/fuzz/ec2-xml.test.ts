// Fuzz: mutated EC2 answers (DescribeAddresses, AssociateAddress, DisassociateAddress, and
// error envelopes) served by the simulator's scripted `{ raw: body }` fault to the production
// adapter (createEc2Port over createEc2Client, real HTTP, real SDK parser). Each call either
// returns well-formed values or throws an AgentError: never a TypeError or another bug, and
// never an unhandled rejection.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createEc2Client, createEc2Port } from '../../agent/adapters/ec2.js';
import { AgentError } from '../../agent/shared/errors.js';
import type { AddressView, Ec2Port } from '../../agent/shared/ports.js';
import { ACTIONS } from '../sim/ec2-actions.js';
import { defaultFaults } from '../sim/ec2-faults.js';
import { errorXml, successXml } from '../sim/ec2-xml.js';
import { startEc2, type Ec2Sim } from '../sim/ec2.js';
import { World } from '../sim/world.js';
import { NASTY, nastyString, rng, type Rng } from './random.js';

const CASES = 360;

type Op = 'listPool' | 'describeAllocation' | 'describePublicIp' | 'associate' | 'disassociate';
const ACTION_OF: Record<Op, string> = {
  listPool: 'DescribeAddresses',
  describeAllocation: 'DescribeAddresses',
  describePublicIp: 'DescribeAddresses',
  associate: 'AssociateAddress',
  disassociate: 'DisassociateAddress',
};

/** A real answer from the simulator's own action code, for a world with varied addresses. */
function realAnswer(world: World, action: string): string {
  const run = ACTIONS[action]!.run;
  const body =
    action === 'DescribeAddresses'
      ? run({ world, params: {}, now: Date.now(), faults: defaultFaults(), random: Math.random })
      : action === 'AssociateAddress'
        ? '<return>true</return><associationId>eipassoc-0123456789abcdef0</associationId>'
        : '<return>true</return>';
  return successXml(action, '5d6e7f80-1111-2222-3333-444455556666', body);
}

const ELEMENTS = /<([A-Za-z]+)>([^<>]*)<\/\1>/g;

function mutateXml(xml: string, r: Rng): string {
  const at = r.int(xml.length + 1);
  switch (r.int(12)) {
    case 0: // delete a span
      return xml.slice(0, at) + xml.slice(at + 1 + r.int(60));
    case 1: // insert markup debris
      return xml.slice(0, at) + r.pick(['<', '>', '&', '&amp', '&#0;', '&#xD800;', ']]>', '<![CDATA[x]]>', '<!-- -->', '<item>', '</item>', '<?pi x?>', '\0', '"', "'"]) + xml.slice(at);
    case 2: // truncate
      return xml.slice(0, at);
    case 3: { // replace a leaf's text
      const leaves = [...xml.matchAll(ELEMENTS)];
      const leaf = leaves.length ? r.pick(leaves) : undefined;
      if (!leaf) return xml;
      const value = r.chance(0.5) ? r.pick(['', ' ', 'true', '0', '-1', '1e999', 'null', '&lt;x&gt;', '&#10;', 'x'.repeat(10_000)]) : nastyString(r).replace(/[<&]/g, '');
      return xml.slice(0, leaf.index!) + `<${leaf[1]}>${value}</${leaf[1]}>` + xml.slice(leaf.index! + leaf[0].length);
    }
    case 4: { // remove one element
      const leaves = [...xml.matchAll(ELEMENTS)];
      const leaf = leaves.length ? r.pick(leaves) : undefined;
      return leaf ? xml.slice(0, leaf.index!) + xml.slice(leaf.index! + leaf[0].length) : xml;
    }
    case 5: { // turn a leaf into a nested element
      const leaves = [...xml.matchAll(ELEMENTS)];
      const leaf = leaves.length ? r.pick(leaves) : undefined;
      return leaf ? xml.slice(0, leaf.index!) + `<${leaf[1]}><item><${leaf[1]}>${leaf[2]}</${leaf[1]}></item></${leaf[1]}>` + xml.slice(leaf.index! + leaf[0].length) : xml;
    }
    case 6: { // duplicate an element
      const leaves = [...xml.matchAll(ELEMENTS)];
      const leaf = leaves.length ? r.pick(leaves) : undefined;
      return leaf ? xml.slice(0, leaf.index!) + leaf[0] + leaf[0] + xml.slice(leaf.index!) : xml;
    }
    case 7: // rename the root or a set
      return xml.replace(r.pick([/addressesSet/g, /Response/g, /item/g, /tagSet/g, /associationId/g, /allocationId/g]), r.pick(['x', 'Item', 'addressesset', 'item', 'return']));
    case 8: // an entity declaration (XXE / expansion attempts)
      return xml.replace('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY x SYSTEM "file:///etc/passwd">]>').replace(/<publicIp>[^<]*</, '<publicIp>&b;&x;<');
    case 9: // not XML at all
      return r.pick(['', ' ', 'null', '{"Addresses":[]}', '<html><body>502 Bad Gateway</body></html>', ...NASTY.slice(0, 10)]);
    case 10: // an address with every field empty
      return xml.replace(/<item>/, '<item><allocationId></allocationId><publicIp/><tagSet><item><key/></item></tagSet>');
    default:
      return mutateXml(mutateXml(xml, r), r);
  }
}

function checkView(what: string, view: AddressView): void {
  assert.equal(typeof view.allocationId, 'string', what);
  assert.ok(view.allocationId.length > 0, `${what}: allocationId`);
  assert.equal(typeof view.publicIp, 'string', what);
  assert.ok(view.publicIp.length > 0, `${what}: publicIp`);
  for (const key of ['associationId', 'networkInterfaceId', 'privateIp', 'instanceId'] as const) {
    if (view[key] !== undefined) assert.ok(typeof view[key] === 'string' && view[key]!.length > 0, `${what}: ${key}`);
  }
  assert.equal(typeof view.tags, 'object', what);
  for (const [k, v] of Object.entries(view.tags)) assert.ok(typeof k === 'string' && typeof v === 'string', `${what}: tag ${k}`);
}

describe('fuzz: EC2 answers through the adapter', () => {
  let world: World;
  let sim: Ec2Sim;
  let port: Ec2Port;
  let client: ReturnType<typeof createEc2Client>;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);

  before(async () => {
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
    process.on('unhandledRejection', onUnhandled);
    world = new World();
    const instance = world.addInstance();
    world.addPool(2, { color: 'orange', team: 'a&b <c>' });
    const held = world.addAddress({ color: 'orange' });
    world.associate({ allocationId: held.allocationId, networkInterfaceId: instance.enis[0]!.networkInterfaceId });
    world.addAddress({});
    sim = await startEc2(world, { faults: { emptyInstanceId: true } });
    client = createEc2Client({ region: world.region, endpoint: sim.url, credentials: instance.credentials, maxAttempts: 1, requestTimeoutMs: 5_000 });
    port = createEc2Port({ client });
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    client.destroy();
    await sim.close();
  });

  async function call(op: Op): Promise<unknown> {
    switch (op) {
      case 'listPool':
        return port.listPool({ tagKey: 'color', tagValue: 'orange' });
      case 'describeAllocation':
        return port.describeAllocation('eipalloc-0123456789abcdef0');
      case 'describePublicIp':
        return port.describePublicIp('198.51.100.1');
      case 'associate':
        return port.associate({ allocationId: 'eipalloc-0123456789abcdef0', networkInterfaceId: 'eni-0123456789abcdef0', privateIp: '10.0.0.1' });
      case 'disassociate':
        return port.disassociate('eipassoc-0123456789abcdef0');
    }
  }

  test(`${CASES} mutated answers: well-formed values or an AgentError, never a bug`, async () => {
    const r = rng(0xec2_0001);
    const seen = { ok: 0, agentError: 0, statuses: new Set<number>() };
    const ops: Op[] = ['listPool', 'listPool', 'describeAllocation', 'describePublicIp', 'associate', 'associate', 'disassociate'];
    for (let i = 0; i < CASES; i++) {
      const op = r.pick(ops);
      const action = ACTION_OF[op];
      let status = 200;
      let body: string;
      if (r.chance(0.2)) {
        status = r.pick([400, 401, 403, 404, 429, 500, 503, 200]);
        body = mutateXml(errorXml(r.pick(['Resource.AlreadyAssociated', 'RequestLimitExceeded', 'InternalError', 'UnauthorizedOperation', 'x']), 'msg', 'req'), r);
      } else {
        status = r.chance(0.9) ? 200 : r.pick([201, 204, 302, 400, 500]);
        body = mutateXml(realAnswer(world, action), r);
      }
      seen.statuses.add(status);
      sim.script(action, { raw: body, status });
      const what = `case ${i} ${op} HTTP ${status}:\n${body.slice(0, 600)}`;
      let result: unknown;
      try {
        result = await call(op);
      } catch (error) {
        assert.ok(error instanceof AgentError, `${what}\nexpected an AgentError, got ${(error as Error)?.constructor?.name}: ${String(error).slice(0, 300)}`);
        assert.ok(error.message.length > 0);
        seen.agentError += 1;
        continue;
      }
      seen.ok += 1;
      if (op === 'listPool') {
        assert.ok(Array.isArray(result), what);
        for (const view of result as AddressView[]) checkView(what, view);
      } else if (op === 'describeAllocation' || op === 'describePublicIp') {
        if (result !== undefined) checkView(what, result as AddressView);
      } else if (op === 'associate') {
        assert.ok(typeof result === 'string' && result.length > 0, `${what}: an association id`);
      } else {
        assert.equal(result, undefined, what);
      }
    }
    // Every scripted answer was used: no case fell through to the real simulator.
    assert.equal(sim.count({ outcome: 'raw' }), CASES);
    assert.ok(seen.ok > 40 && seen.agentError > 100, JSON.stringify({ ...seen, statuses: [...seen.statuses] }));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, [], 'no unhandled rejection');
  });
});
