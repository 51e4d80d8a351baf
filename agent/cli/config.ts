// The one place that turns flags + environment into a typed, frozen configuration.
// Pure: it reads only the values handed to it, and returns every error at once.
import { isIP } from 'node:net';
import type { LogFormat, LogLevel } from '../shared/log.js';
import type { ListenAddress, PoolSelector } from '../shared/ports.js';
import { Flags, GATES, LIVE_CHECKS, camel, envName, flagsFor, type CommandName, type FlagName } from './flags.js';

export type Env = Readonly<Record<string, string | undefined>>;
export type LiveCheck = (typeof LIVE_CHECKS)[number];
export type Gate = (typeof GATES)[number];
export type { ListenAddress } from '../shared/ports.js';

export interface ClientConfig {
  health: ListenAddress;
}

export interface ControlConfig {
  /** the root-only Unix socket of POST /release */
  controlSocket: string;
}

export interface RunConfig extends ClientConfig, ControlConfig {
  pool: PoolSelector;
  deviceIndex: number;
  privateIp: string | undefined;
  /** from --region or AWS_REGION; undefined: ask IMDS */
  region: string | undefined;
  /** the input `region` came from (`--region`, `EIP_AGENT_REGION`, `AWS_REGION`, …): identify.ts regionRule */
  regionInput: string | undefined;
  liveCheck: LiveCheck;
  egressCheckUrl: string;
  claimTimeoutMs: number;
  gate: Gate;
  gateTimeoutMs: number;
  relistIntervalMs: number;
  drainTimeoutMs: number;
  kubeconfig: string;
  nodeName: string | undefined;
  log: { format: LogFormat; level: LogLevel };
  lockFile: string;
  imdsEndpoint: string;
  /** systemd's INVOCATION_ID: set when systemd runs us (G5a) */
  underSystemd: boolean;
  notifySocket: string | undefined;
}

export type Result<T> = { ok: true; value: T } | { ok: false; errors: string[] };

const DEFAULT_KUBECONFIG = '/var/lib/kubelet/kubeconfig';
// IMDS endpoints as every AWS SDK resolves them (AWS_EC2_METADATA_SERVICE_ENDPOINT[_MODE]).
const IMDS_IPV4 = 'http://169.254.169.254';
const IMDS_IPV6 = 'http://[fd00:ec2::254]';

/**
 * Flag (argv) wins over its EIP_AGENT_* variable, which wins over the default. A value that
 * does not parse is reported and replaced by the default, so that the checks of runConfig
 * still run and every bad input is named at once.
 */
export function collectFlags(command: CommandName, argv: Readonly<Record<string, unknown>>, env: Env): { flags: Flags; errors: string[] } {
  const errors: string[] = [];
  const values = new Map<FlagName, string | number | boolean>();
  const sources = new Map<FlagName, string>();
  const reported = new Set<FlagName>();
  for (const { name, spec } of flagsFor(command)) {
    const fromArgv = argv[camel(name)];
    const fromEnv = env[envName(name)];
    const given = fromArgv !== undefined ? fromArgv : fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined;
    if (given === undefined) {
      if (spec.default !== undefined) values.set(name, spec.default);
      continue;
    }
    const source = fromArgv !== undefined ? `--${name}` : envName(name);
    sources.set(name, source);
    const parsed = Array.isArray(given) ? undefined : coerce(spec.type, given);
    if (Array.isArray(given)) {
      errors.push(`${source}: expected once, given ${given.length} times`);
    } else if (parsed === undefined) {
      errors.push(`${source}: expected ${spec.type === 'number' ? 'a number' : 'true or false'}, got ${JSON.stringify(given)}`);
    } else if (spec.choices && !spec.choices.includes(String(parsed))) {
      errors.push(`${source}: expected one of ${spec.choices.join(', ')}, got ${JSON.stringify(parsed)}`);
    } else {
      values.set(name, parsed);
      continue;
    }
    // Reported: the default stands in, and later checks stay silent about this input.
    if (spec.default !== undefined) values.set(name, spec.default);
    reported.add(name);
  }
  return { flags: new Flags(flagsFor(command).map((f) => f.name), values, sources, reported), errors };
}

export function readFlags(command: CommandName, argv: Readonly<Record<string, unknown>>, env: Env): Result<Flags> {
  const { flags, errors } = collectFlags(command, argv, env);
  return errors.length ? { ok: false, errors } : { ok: true, value: flags };
}

/** Flags, then the checks on their values: every error of both stages, at once. */
export function readConfig<T>(command: CommandName, argv: Readonly<Record<string, unknown>>, env: Env, build: (flags: Flags) => Result<T>): Result<T> {
  const { flags, errors } = collectFlags(command, argv, env);
  const result = build(flags);
  const all = [...errors, ...(result.ok ? [] : result.errors)];
  return all.length ? { ok: false, errors: all } : result;
}

function coerce(type: 'string' | 'number' | 'boolean', value: unknown): string | number | boolean | undefined {
  if (type === 'string') return typeof value === 'string' ? value : String(value);
  if (type === 'number') {
    const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    return Number.isFinite(n) ? n : undefined;
  }
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return undefined;
}

export function parseListen(text: string): ListenAddress | string {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!match || host === undefined || port > 65535) return 'expected HOST:PORT (e.g. 127.0.0.1:8099 or [::1]:8099)';
  const name = host === '' ? '0.0.0.0' : host;
  if (name !== 'localhost' && isIP(name) === 0) return `expected an IP address or localhost as host, got ${JSON.stringify(host)}`;
  const loopback = name === 'localhost' || name === '::1' || /^127\./.test(name);
  return { host: name, port, loopback };
}

export function clientConfig(flags: Flags): Result<ClientConfig> {
  const listen = parseListen(flags.get('health-listen'));
  if (typeof listen === 'string') return { ok: false, errors: [`${flags.source('health-listen')}: ${listen}`] };
  return { ok: true, value: Object.freeze({ health: Object.freeze(listen) }) };
}

export function controlConfig(flags: Flags): Result<ControlConfig> {
  const path = flags.get('control-socket');
  // Unix socket paths are limited to 107 bytes (sun_path).
  if (!path.startsWith('/') || Buffer.byteLength(path) > 107) {
    return { ok: false, errors: [`${flags.source('control-socket')}: expected an absolute path of at most 107 bytes, got ${JSON.stringify(path)}`] };
  }
  return { ok: true, value: Object.freeze({ controlSocket: path }) };
}

const seconds = (n: number) => Math.round(n * 1000);

export function runConfig(flags: Flags, env: Env): Result<RunConfig> {
  const errors: string[] = [];
  const need = (ok: boolean, flag: FlagName, expected: string, got?: unknown, input = flags.source(flag)) => {
    if (!ok && !flags.reported.has(flag)) errors.push(`${input}: ${expected}${got === undefined ? '' : `, got ${JSON.stringify(got)}`}`);
  };

  const tagKey = flags.get('tag-key');
  need(tagKey !== undefined && tagKey.length > 0, 'tag-key', `required (or ${envName('tag-key')}): the tag key that marks pool addresses`);
  need(tagKey === undefined || (tagKey.length <= 128 && !tagKey.startsWith('aws:')), 'tag-key', 'expected a tag key of 1-128 characters not starting with aws:', tagKey);
  const tagValue = flags.get('tag-value');
  need(tagValue === undefined || tagValue.length <= 256, 'tag-value', 'expected at most 256 characters');

  const deviceIndex = flags.get('device-index');
  need(Number.isInteger(deviceIndex) && deviceIndex >= 0 && deviceIndex <= 31, 'device-index', 'expected an integer from 0 to 31', deviceIndex);

  const privateIp = flags.get('private-ip');
  need(privateIp === undefined || isIP(privateIp) === 4, 'private-ip', 'expected a private IPv4 address of the interface', privateIp);

  // The region may come from the environment rather than a flag: name the input it came from.
  const region = flags.get('region') ?? (env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || undefined);
  const regionInput = flags.get('region') !== undefined ? flags.source('region') : env['AWS_REGION'] ? 'AWS_REGION' : 'AWS_DEFAULT_REGION';
  need(region === undefined || /^[a-z]{2}(-[a-z]+)+-\d+$/.test(region), 'region', 'expected an AWS region such as eu-west-1', region, regionInput);

  const egressCheckUrl = flags.get('egress-check-url');
  need(/^https?:\/\/[^\s/]+/.test(egressCheckUrl) && URL.canParse(egressCheckUrl), 'egress-check-url', 'expected an http(s) URL', egressCheckUrl);

  const durations = [
    ['claim-timeout', 0],
    ['gate-timeout', 0],
    ['drain-timeout', 0],
    ['relist-interval', 0.05],
  ] as const;
  for (const [flag, min] of durations) {
    const value = flags.get(flag);
    need(value >= min && value <= 7 * 86400, flag, `expected seconds from ${min} to 604800`, value);
  }

  const listen = parseListen(flags.get('health-listen'));
  if (typeof listen === 'string' && !flags.reported.has('health-listen')) errors.push(`${flags.source('health-listen')}: ${listen}`);

  const control = controlConfig(flags);
  if (!control.ok && !flags.reported.has('control-socket')) errors.push(...control.errors);

  const imdsEndpoint = imdsEndpointFrom(env, errors);
  if (errors.length || typeof listen === 'string' || tagKey === undefined || !control.ok) return { ok: false, errors };

  return {
    ok: true,
    value: Object.freeze({
      pool: Object.freeze({ tagKey, ...(tagValue !== undefined ? { tagValue } : {}) }),
      deviceIndex,
      privateIp,
      region,
      regionInput: region === undefined ? undefined : regionInput,
      liveCheck: flags.get('live-check'),
      egressCheckUrl,
      claimTimeoutMs: seconds(flags.get('claim-timeout')),
      gate: flags.get('gate'),
      gateTimeoutMs: seconds(flags.get('gate-timeout')),
      relistIntervalMs: seconds(flags.get('relist-interval')),
      drainTimeoutMs: seconds(flags.get('drain-timeout')),
      kubeconfig: flags.get('kubeconfig') ?? (env['KUBECONFIG']?.split(':')[0] || DEFAULT_KUBECONFIG),
      nodeName: flags.get('node-name') || undefined,
      health: Object.freeze(listen),
      controlSocket: control.value.controlSocket,
      log: Object.freeze({ format: flags.get('log-format'), level: flags.get('log-level') }),
      lockFile: flags.get('lock-file'),
      imdsEndpoint,
      underSystemd: Boolean(env['INVOCATION_ID']),
      notifySocket: env['NOTIFY_SOCKET'] || undefined,
    }),
  };
}

function imdsEndpointFrom(env: Env, errors: string[]): string {
  const explicit = env['AWS_EC2_METADATA_SERVICE_ENDPOINT'];
  if (explicit) {
    if (!URL.canParse(explicit) || !/^https?:/.test(explicit)) {
      errors.push(`AWS_EC2_METADATA_SERVICE_ENDPOINT: expected an http URL, got ${JSON.stringify(explicit)}`);
    }
    return explicit.replace(/\/+$/, '');
  }
  const mode = env['AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE'];
  if (mode && !/^ipv[46]$/i.test(mode)) {
    errors.push(`AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: expected IPv4 or IPv6, got ${JSON.stringify(mode)}`);
  }
  return mode?.toLowerCase() === 'ipv6' ? IMDS_IPV6 : IMDS_IPV4;
}

/** The effective configuration as logged once at start (nothing secret is in it). */
export function describeConfig(config: RunConfig): Record<string, unknown> {
  return {
    pool: config.pool,
    deviceIndex: config.deviceIndex,
    privateIp: config.privateIp,
    region: config.region,
    liveCheck: config.liveCheck,
    claimTimeoutS: config.claimTimeoutMs / 1000,
    gate: config.gate,
    ...(config.gate === 'label' ? { gateTimeoutS: config.gateTimeoutMs / 1000 } : {}),
    drainTimeoutS: config.drainTimeoutMs / 1000,
    relistIntervalS: config.relistIntervalMs / 1000,
    kubeconfig: config.kubeconfig,
    nodeName: config.nodeName,
    healthListen: `${config.health.host}:${config.health.port}`,
    controlSocket: config.controlSocket,
    imdsEndpoint: config.imdsEndpoint,
    underSystemd: config.underSystemd,
  };
}

/** The region as configured (--region, else AWS_REGION/AWS_DEFAULT_REGION), with the input it came from. */
export function regionInput(flags: Flags, env: Env): { region: string; input: string } | undefined {
  const flag = flags.get('region');
  if (flag !== undefined) return { region: flag, input: flags.source('region') };
  if (env['AWS_REGION']) return { region: env['AWS_REGION'], input: 'AWS_REGION' };
  if (env['AWS_DEFAULT_REGION']) return { region: env['AWS_DEFAULT_REGION'], input: 'AWS_DEFAULT_REGION' };
  return undefined;
}

export interface PoolConfig {
  pool: PoolSelector;
  /** undefined: ask IMDS (on a node) */
  region: { region: string; input: string } | undefined;
  imdsEndpoint: string;
}

/** `eip-agent pool`: the same checks as run's on the flags it shares. */
export function poolConfig(flags: Flags, env: Env): Result<PoolConfig> {
  const errors: string[] = [];
  const tagKey = flags.get('tag-key');
  if (!flags.reported.has('tag-key')) {
    if (!tagKey) errors.push(`${flags.source('tag-key')}: required (or ${envName('tag-key')}): the tag key that marks pool addresses`);
    else if (tagKey.length > 128 || tagKey.startsWith('aws:')) errors.push(`${flags.source('tag-key')}: expected a tag key of 1-128 characters not starting with aws:, got ${JSON.stringify(tagKey)}`);
  }
  const tagValue = flags.get('tag-value');
  if (tagValue !== undefined && tagValue.length > 256) errors.push(`${flags.source('tag-value')}: expected at most 256 characters`);
  const region = regionInput(flags, env);
  if (region && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region.region)) errors.push(`${region.input}: expected an AWS region such as eu-west-1, got ${JSON.stringify(region.region)}`);
  const imdsEndpoint = imdsEndpointFrom(env, errors);
  if (errors.length || !tagKey) return { ok: false, errors };
  return { ok: true, value: Object.freeze({ pool: Object.freeze({ tagKey, ...(tagValue !== undefined ? { tagValue } : {}) }), region, imdsEndpoint }) };
}
