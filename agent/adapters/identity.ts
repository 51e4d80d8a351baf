// Who am I: the instance and its network interfaces as IMDS describes them. Every value
// is checked here, so a wrong answer from IMDS is one clear error instead of a bad
// AssociateAddress later (G6).
import { AgentError } from '../shared/errors.js';
import type { Identity, ImdsPort, InterfaceIdentity } from '../shared/ports.js';

const INSTANCE_ID = /^i-[0-9a-f]+$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
// Zones of a region and its Local Zones: eu-west-1a, us-west-2-lax-1a.
const ZONE = /^[a-z0-9-]+[a-z]$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const DEVICE_NUMBER = /^\d{1,3}$/;
const INTERFACE_ID = /^eni-[0-9a-f]+$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function shown(value: string | undefined): string {
  if (value === undefined) return 'nothing (404)';
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

function malformed(path: string, expected: string, got: string | undefined): AgentError {
  return new AgentError('bad-input', 'imds.malformed', `IMDS ${path}: expected ${expected}, got ${shown(got)}`);
}

function check(path: string, raw: string | undefined, pattern: RegExp, expected: string): string {
  const value = raw?.trim();
  if (value === undefined || !pattern.test(value)) throw malformed(path, expected, raw);
  return value;
}

/** Lines of a listing, without the trailing `/` IMDS puts on directories. */
function lines(raw: string): string[] {
  return raw
    .split('\n')
    .map((l) => l.trim().replace(/\/$/, ''))
    .filter((l) => l !== '');
}

function checkLines(path: string, raw: string | undefined, pattern: RegExp, expected: string): string[] {
  const values = raw === undefined ? [] : lines(raw);
  if (values.length === 0 || !values.every((v) => pattern.test(v))) throw malformed(path, expected, raw);
  return values;
}

function macPath(mac: string): string {
  return `meta-data/network/interfaces/macs/${mac}`;
}

async function readInterface(imds: ImdsPort, mac: string): Promise<InterfaceIdentity> {
  const base = macPath(mac);
  const [device, interfaceId, ips] = await Promise.all([
    imds.get(`${base}/device-number`),
    imds.get(`${base}/interface-id`),
    imds.get(`${base}/local-ipv4s`),
  ]);
  return {
    mac,
    deviceIndex: Number(check(`${base}/device-number`, device, DEVICE_NUMBER, 'a device number (integer)')),
    networkInterfaceId: check(`${base}/interface-id`, interfaceId, INTERFACE_ID, 'an interface id like eni-0123abcd'),
    privateIps: checkLines(`${base}/local-ipv4s`, ips, IPV4, 'IPv4 addresses, one a line'),
  };
}

export async function readIdentity(imds: ImdsPort): Promise<Identity> {
  const paths = {
    instanceId: 'meta-data/instance-id',
    region: 'meta-data/placement/region',
    zone: 'meta-data/placement/availability-zone',
    hostname: 'meta-data/local-hostname',
    macs: 'meta-data/network/interfaces/macs/',
  };
  const [instanceId, region, zone, hostname, macList] = await Promise.all([
    imds.get(paths.instanceId),
    imds.get(paths.region),
    imds.get(paths.zone),
    imds.get(paths.hostname),
    imds.get(paths.macs),
  ]);
  const identity = {
    instanceId: check(paths.instanceId, instanceId, INSTANCE_ID, 'an instance id like i-0123abcd'),
    region: check(paths.region, region, REGION, 'a region like eu-west-1'),
    availabilityZone: check(paths.zone, zone, ZONE, 'an availability zone like eu-west-1a'),
    localHostname: check(paths.hostname, hostname, HOSTNAME, 'a DNS host name'),
  };
  if (!identity.availabilityZone.startsWith(identity.region)) {
    throw malformed(paths.zone, `a zone of region ${identity.region}`, zone);
  }
  const macs = checkLines(paths.macs, macList, MAC, 'MAC addresses, one a line');
  const interfaces = await Promise.all(macs.map((mac) => readInterface(imds, mac)));
  interfaces.sort((a, b) => a.deviceIndex - b.deviceIndex);
  return { ...identity, interfaces };
}

/**
 * Public IPv4s on an interface as IMDS sees them: public IP → the private IP it sits on.
 * Empty when the interface has none (IMDS then has no `ipv4-associations/` at all).
 */
export async function readPublicIps(imds: ImdsPort, mac: string): Promise<Map<string, string>> {
  const listPath = `${macPath(mac)}/ipv4-associations/`;
  const listing = await imds.get(listPath);
  if (listing === undefined || lines(listing).length === 0) return new Map();
  const publicIps = checkLines(listPath, listing, IPV4, 'public IPv4 addresses, one a line');
  const privateIps = await Promise.all(publicIps.map((ip) => imds.get(`${listPath}${ip}`)));
  const byPublic = new Map<string, string>();
  publicIps.forEach((publicIp, i) => {
    const raw = privateIps[i];
    // Gone between the listing and this read: the association was just removed.
    if (raw === undefined) return;
    byPublic.set(publicIp, check(`${listPath}${publicIp}`, raw, IPV4, 'a private IPv4 address'));
  });
  return byPublic;
}
