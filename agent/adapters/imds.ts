// The ImdsPort over the IMDSv2 client: who this instance is, what public IPs sit on its
// private IPs, and the end-of-life notices. Every value is checked here, so a wrong answer
// is one clear `malformed` error naming its path instead of a bad AssociateAddress later
// (G6), and "404 means none" is decided here too.
import { AgentError } from '../shared/errors.js';
import type { Identity, ImdsPort, InterfaceIdentity, Notices, Target } from '../shared/ports.js';
import type { ImdsClient } from './imds-client.js';

const INSTANCE_ID = /^i-[0-9a-f]+$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
// Zones of a region and its Local Zones: eu-west-1a, us-west-2-lax-1a.
const ZONE = /^[a-z0-9-]+[a-z]$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const DEVICE_NUMBER = /^\d{1,3}$/;
const INTERFACE_ID = /^eni-[0-9a-f]+$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

const PATHS = {
  instanceId: 'meta-data/instance-id',
  region: 'meta-data/placement/region',
  zone: 'meta-data/placement/availability-zone',
  hostname: 'meta-data/local-hostname',
  macs: 'meta-data/network/interfaces/macs/',
  spot: 'meta-data/spot/instance-action',
  lifecycle: 'meta-data/autoscaling/target-lifecycle-state',
  rebalance: 'meta-data/events/recommendations/rebalance',
};

function shown(value: string | undefined): string {
  if (value === undefined) return 'nothing (404)';
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

function malformed(path: string, expected: string, got: string | undefined): AgentError {
  return new AgentError('malformed', 'imds.malformed', `IMDS ${path}: expected ${expected}, got ${shown(got)}`);
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

const macPath = (mac: string) => `meta-data/network/interfaces/macs/${mac}`;
/** public IPv4 → the private IPv4 it sits on, below this */
const associationsPath = (mac: string) => `${macPath(mac)}/ipv4-associations/`;

async function readInterface(imds: ImdsClient, mac: string, signal?: AbortSignal): Promise<InterfaceIdentity> {
  const base = macPath(mac);
  const [device, interfaceId, ips] = await Promise.all([
    imds.get(`${base}/device-number`, signal),
    imds.get(`${base}/interface-id`, signal),
    imds.get(`${base}/local-ipv4s`, signal),
  ]);
  return {
    mac,
    deviceIndex: Number(check(`${base}/device-number`, device, DEVICE_NUMBER, 'a device number (integer)')),
    networkInterfaceId: check(`${base}/interface-id`, interfaceId, INTERFACE_ID, 'an interface id like eni-0123abcd'),
    privateIps: checkLines(`${base}/local-ipv4s`, ips, IPV4, 'IPv4 addresses, one a line'),
  };
}

export async function readIdentity(imds: ImdsClient, signal?: AbortSignal): Promise<Identity> {
  const [instanceId, region, zone, hostname, macList] = await Promise.all(
    [PATHS.instanceId, PATHS.region, PATHS.zone, PATHS.hostname, PATHS.macs].map((p) => imds.get(p, signal)),
  );
  const identity = {
    instanceId: check(PATHS.instanceId, instanceId, INSTANCE_ID, 'an instance id like i-0123abcd'),
    region: check(PATHS.region, region, REGION, 'a region like eu-west-1'),
    availabilityZone: check(PATHS.zone, zone, ZONE, 'an availability zone like eu-west-1a'),
    localHostname: check(PATHS.hostname, hostname, HOSTNAME, 'a DNS host name'),
  };
  if (!identity.availabilityZone.startsWith(identity.region)) throw malformed(PATHS.zone, `a zone of region ${identity.region}`, zone);
  const macs = checkLines(PATHS.macs, macList, MAC, 'MAC addresses, one a line');
  const interfaces = await Promise.all(macs.map((mac) => readInterface(imds, mac, signal)));
  interfaces.sort((a, b) => a.deviceIndex - b.deviceIndex);
  return { ...identity, interfaces };
}

/**
 * Public IPv4s on an interface as IMDS sees them: public IP → the private IP it sits on.
 * Empty when the interface has none (IMDS then has no `ipv4-associations/` at all).
 */
export async function readPublicIps(imds: ImdsClient, mac: string, signal?: AbortSignal): Promise<Map<string, string>> {
  const listPath = associationsPath(mac);
  const listing = await imds.get(listPath, signal);
  if (listing === undefined || lines(listing).length === 0) return new Map();
  const publicIps = checkLines(listPath, listing, IPV4, 'public IPv4 addresses, one a line');
  const privateIps = await Promise.all(publicIps.map((ip) => imds.get(`${listPath}${ip}`, signal)));
  const byPublic = new Map<string, string>();
  publicIps.forEach((publicIp, i) => {
    const raw = privateIps[i];
    // Gone between the listing and this read: the association was just removed.
    if (raw === undefined) return;
    byPublic.set(publicIp, check(`${listPath}${publicIp}`, raw, IPV4, 'a private IPv4 address'));
  });
  return byPublic;
}

/** One GET: the private IP IMDS maps `publicIp` to, if any, is the target's. */
export async function isPublicIpOn(imds: ImdsClient, target: Target, publicIp: string, signal?: AbortSignal): Promise<boolean> {
  const path = `${associationsPath(target.mac)}${publicIp}`;
  const raw = await imds.get(path, signal);
  return raw !== undefined && check(path, raw, IPV4, 'a private IPv4 address') === target.privateIp;
}

export async function readNotices(imds: ImdsClient, signal?: AbortSignal, options = { rebalance: true }): Promise<Notices> {
  const paths = options.rebalance ? [PATHS.spot, PATHS.lifecycle, PATHS.rebalance] : [PATHS.spot, PATHS.lifecycle];
  const [spot, lifecycle, rebalance] = await Promise.all(paths.map((p) => imds.get(p, signal)));
  const notices: Notices = {};
  if (spot !== undefined) notices.spot = spotNotice(spot);
  if (lifecycle !== undefined) notices.lifecycle = lifecycle.trim();
  if (rebalance !== undefined) notices.rebalance = rebalanceTime(rebalance);
  return notices;
}

function spotNotice(raw: string): Notices['spot'] {
  try {
    const parsed = JSON.parse(raw) as { action?: unknown; time?: unknown };
    return { action: String(parsed.action), time: String(parsed.time) };
  } catch {
    return 'unreadable';
  }
}

function rebalanceTime(raw: string): string {
  try {
    const parsed = JSON.parse(raw) as { noticeTime?: unknown };
    return typeof parsed.noticeTime === 'string' ? parsed.noticeTime : raw.trim();
  } catch {
    return raw.trim();
  }
}

export function createImdsPort(imds: ImdsClient): ImdsPort {
  return {
    identity: (signal) => readIdentity(imds, signal),
    publicIpsOn: async (target: Target, signal) =>
      [...(await readPublicIps(imds, target.mac, signal))].filter(([, p]) => p === target.privateIp).map(([ip]) => ip),
    isLiveOn: (target, publicIp, signal) => isPublicIpOn(imds, target, publicIp, signal),
    notices: (signal, options) => readNotices(imds, signal, options),
  };
}
