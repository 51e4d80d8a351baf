// Fuzz: mutated IMDS answers for the identity paths (through a fake IMDS client), the
// public IPv4 listing of the live check, and the spot/ASG notice documents. readIdentity
// and readPublicIps either succeed with well-formed values or throw AgentError malformed
// imds.malformed with a one-line message naming the path; readNotices and
// noticeTermination never throw, and a spot notice always releases.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ImdsClient } from '../../agent/adapters/imds-client.js';
import { readIdentity, readNotices, readPublicIps } from '../../agent/adapters/imds.js';
import { noticeTermination } from '../../agent/core/termination.js';
import { AgentError } from '../../agent/shared/errors.js';
import type { Identity } from '../../agent/shared/ports.js';
import { NASTY, nastyString, rng, type Rng } from './random.js';

const CASES = 500;
const MAC_A = '0a:11:22:33:44:55';
const MAC_B = '0a:66:77:88:99:aa';
const macs = 'meta-data/network/interfaces/macs/';

function baseAnswers(): Map<string, string> {
  return new Map([
    ['meta-data/instance-id', 'i-0123456789abcdef0'],
    ['meta-data/placement/region', 'eu-west-1'],
    ['meta-data/placement/availability-zone', 'eu-west-1a'],
    ['meta-data/local-hostname', 'ip-10-0-0-5.eu-west-1.compute.internal'],
    [macs, `${MAC_A}/\n${MAC_B}/`],
    [`${macs}${MAC_A}/device-number`, '0'],
    [`${macs}${MAC_A}/interface-id`, 'eni-0123456789abcdef0'],
    [`${macs}${MAC_A}/local-ipv4s`, '10.0.0.5\n10.0.0.6'],
    [`${macs}${MAC_A}/ipv4-associations/`, '198.51.100.7\n198.51.100.8'],
    [`${macs}${MAC_A}/ipv4-associations/198.51.100.7`, '10.0.0.5'],
    [`${macs}${MAC_A}/ipv4-associations/198.51.100.8`, '10.0.0.6'],
    [`${macs}${MAC_B}/device-number`, '1'],
    [`${macs}${MAC_B}/interface-id`, 'eni-0fedcba9876543210'],
    [`${macs}${MAC_B}/local-ipv4s`, '10.0.1.9'],
  ]);
}

function mutateValue(value: string | undefined, r: Rng): string | undefined {
  const v = value ?? '';
  const at = r.int(v.length + 1);
  switch (r.int(10)) {
    case 0:
      return undefined; // 404
    case 1:
      return r.pick(NASTY);
    case 2:
      return nastyString(r);
    case 3:
      return v.slice(0, at) + v.slice(at + 1 + r.int(5));
    case 4:
      return v.slice(0, at) + r.pick(['/', '\n', ' ', ':', '.', '-', 'G', '0', '\0', '\r\n', '..']) + v.slice(at);
    case 5:
      return v.toUpperCase();
    case 6:
      return `${v}\n${nastyString(r)}`;
    case 7:
      return v.repeat(1 + r.int(50));
    case 8:
      // IMDS answered with its error page, or JSON, instead of the value
      return r.pick(['<?xml version="1.0"?><html><h1>500 - Internal Server Error</h1></html>', '{"instanceId":"i-0123"}', '[]']);
    default:
      return ` ${v}\n`;
  }
}

function fakeImds(answers: Map<string, string | undefined>): ImdsClient & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async get(path: string) {
      asked.push(path);
      return answers.get(path);
    },
  };
}

function mutated(r: Rng, paths?: string[]): Map<string, string | undefined> {
  const answers: Map<string, string | undefined> = baseAnswers();
  const keys = paths ?? [...answers.keys()];
  for (let n = 1 + r.int(3); n > 0; n--) {
    const key = r.pick(keys);
    answers.set(key, mutateValue(answers.get(key), r));
  }
  return answers;
}

async function malformedOrValue<T>(what: string, promise: Promise<T>): Promise<T | AgentError> {
  try {
    return await promise;
  } catch (error) {
    assert.ok(error instanceof AgentError, `${what}: expected an AgentError, got ${(error as Error)?.constructor?.name}: ${String(error)}`);
    assert.equal(error.kind, 'malformed', `${what}: ${error.message}`);
    assert.equal(error.code, 'imds.malformed', `${what}: ${error.message}`);
    assert.match(error.message, /^IMDS meta-data\/\S+: expected .+, got .+$/, `${what}: names the path`);
    assert.doesNotMatch(error.message, /[\n\r]/, `${what}: one line`);
    assert.ok(error.message.length < 400, `${what}: a short line (${error.message.length} chars)`);
    return error;
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function checkIdentity(what: string, identity: Identity): void {
  assert.match(identity.instanceId, /^i-[0-9a-f]+$/, what);
  assert.match(identity.region, /^[a-z]{2}(-[a-z]+)+-\d+$/, what);
  assert.ok(identity.availabilityZone.startsWith(identity.region), what);
  assert.doesNotMatch(identity.localHostname, /\s/, what);
  assert.ok(identity.interfaces.length > 0, what);
  for (const eni of identity.interfaces) {
    assert.ok(Number.isInteger(eni.deviceIndex) && eni.deviceIndex >= 0, `${what}: device index ${eni.deviceIndex}`);
    assert.match(eni.networkInterfaceId, /^eni-[0-9a-f]+$/, what);
    assert.ok(eni.privateIps.length > 0 && eni.privateIps.every((ip) => IPV4.test(ip)), `${what}: ${eni.privateIps.join(',')}`);
  }
  const indexes = identity.interfaces.map((i) => i.deviceIndex);
  assert.deepEqual(indexes, [...indexes].sort((a, b) => a - b), `${what}: ordered by device index`);
}

describe('fuzz: IMDS answers', () => {
  test('the unmutated answers read back as the identity', async () => {
    const identity = await readIdentity(fakeImds(baseAnswers()));
    assert.equal(identity.interfaces.length, 2);
    assert.deepEqual([...(await readPublicIps(fakeImds(baseAnswers()), MAC_A))], [['198.51.100.7', '10.0.0.5'], ['198.51.100.8', '10.0.0.6']]);
  });

  test(`${CASES} mutated identity answers: an identity, or imds.malformed naming the path`, async () => {
    const r = rng(0x1d3_0001);
    const seen = { ok: 0, malformed: 0 };
    for (let i = 0; i < CASES; i++) {
      const answers = mutated(r);
      const what = `case ${i} ${JSON.stringify([...answers]).slice(0, 600)}`;
      const result: Identity | AgentError = await malformedOrValue(what, readIdentity(fakeImds(answers)));
      if (result instanceof AgentError) seen.malformed += 1;
      else {
        seen.ok += 1;
        checkIdentity(what, result);
      }
    }
    assert.ok(seen.ok > 30 && seen.malformed > 200, JSON.stringify(seen));
  });

  test(`${CASES} mutated public IPv4 listings: public → private IPv4s, or imds.malformed`, async () => {
    const r = rng(0x1d3_0002);
    const listing = [...baseAnswers().keys()].filter((k) => k.includes('/ipv4-associations/'));
    const seen = { ok: 0, malformed: 0 };
    for (let i = 0; i < CASES; i++) {
      const answers = mutated(r, listing);
      const what = `case ${i} ${JSON.stringify([...answers].filter(([k]) => listing.includes(k)))}`;
      const result: Map<string, string> | AgentError = await malformedOrValue(what, readPublicIps(fakeImds(answers), MAC_A));
      if (result instanceof AgentError) {
        seen.malformed += 1;
        continue;
      }
      seen.ok += 1;
      for (const [publicIp, privateIp] of result) assert.ok(IPV4.test(publicIp) && IPV4.test(privateIp), `${what}: ${publicIp} → ${privateIp}`);
    }
    assert.ok(seen.ok > 50 && seen.malformed > 50, JSON.stringify(seen));
  });

  test(`${CASES} spot notices and lifecycle states: never a throw; a notice is always a release`, async () => {
    const r = rng(0x1d3_0003);
    const documents = ['{"action":"terminate","time":"2026-11-23T12:00:00Z"}', 'null', '0', '"x"', '{"action":{"a":1}}', '[', '{"action":"stop"', '{"__proto__":{"action":"x"}}'];
    for (let i = 0; i < CASES; i++) {
      const spot = r.chance(0.3) ? undefined : r.chance(0.5) ? r.pick(documents) : mutateValue(r.pick(documents), r);
      const lifecycle = r.chance(0.5) ? undefined : r.pick(['InService', 'Terminated', 'Warmed:Terminated', ' Terminated\n', nastyString(r)]);
      const answers = new Map([
        ['meta-data/spot/instance-action', spot],
        ['meta-data/autoscaling/target-lifecycle-state', lifecycle],
      ]);
      let termination: ReturnType<typeof noticeTermination>;
      try {
        termination = noticeTermination(await readNotices(fakeImds(answers)));
      } catch (error) {
        assert.fail(`spot ${JSON.stringify(spot)} lifecycle ${JSON.stringify(lifecycle)} threw ${String(error)}`);
      }
      if (spot !== undefined) assert.equal(termination?.release, true, `a spot notice ${JSON.stringify(spot)} releases`);
    }
  });
});
