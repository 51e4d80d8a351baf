// The one flag table: it drives the command line (args.ts: parsing, `--help` with defaults), the EIP_AGENT_* environment
// variables, validation in config.ts, and the TypeScript type of every flag's value, so
// that a misspelt flag name does not compile.

export type CommandName = 'run' | 'claim' | 'wait' | 'status' | 'release' | 'install' | 'uninstall' | 'doctor' | 'pool';

interface FlagSpec {
  type: 'string' | 'number' | 'boolean';
  /** shown in --help; absent means "none" or a computed default described in `describe` */
  default?: string | number | boolean;
  describe: string;
  choices?: readonly string[];
  commands: readonly CommandName[];
}

// `run` and `claim` do the claim; `install` writes their flags for the unit; `doctor` checks them.
const DAEMON = ['run', 'claim', 'install', 'doctor'] as const;
const CLIENTS = ['run', 'claim', 'wait', 'status', 'release', 'install', 'doctor'] as const;
// `pool` shows the pool from anywhere: only what selects it, and where.
const POOL = [...DAEMON, 'pool'] as const;

export const LIVE_CHECKS = ['imds', 'egress', 'none'] as const;
export const LOG_FORMATS = ['json', 'text'] as const;
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export const STATUS_FORMATS = ['json', 'text'] as const;
export const GATES = ['strict', 'label'] as const;

export const FLAGS = {
  'tag-key': { type: 'string', describe: 'tag key that marks pool addresses (required for run, claim, doctor and pool)', commands: POOL },
  'tag-value': { type: 'string', describe: 'tag value; left out, every address carrying the key is in the pool', commands: POOL },
  'device-index': { type: 'number', default: 0, describe: 'network interface (by device index) to put the address on', commands: DAEMON },
  'private-ip': { type: 'string', describe: "private IPv4 of that interface to associate with (default: the interface's primary)", commands: DAEMON },
  region: { type: 'string', describe: 'AWS region (default: AWS_REGION, else IMDS)', commands: POOL },
  'live-check': { type: 'string', default: 'imds', choices: LIVE_CHECKS, describe: 'how to see the address live: imds, egress or none', commands: DAEMON },
  'egress-check-url': { type: 'string', default: 'https://checkip.amazonaws.com', describe: 'echo service for --live-check egress', commands: DAEMON },
  'claim-timeout': { type: 'number', default: 0, describe: 'seconds to keep trying while the pool is exhausted or AWS fails (0: forever)', commands: DAEMON },
  'relist-interval': { type: 'number', default: 5, describe: 'seconds between pool listings while the pool is exhausted (jittered; backs off under throttling)', commands: DAEMON },
  'drain-timeout': { type: 'number', default: 300, describe: 'seconds to wait for workload pods to leave before releasing anyway', commands: DAEMON },
  kubeconfig: { type: 'string', describe: 'kubeconfig for the drain check (default: KUBECONFIG, else /var/lib/kubelet/kubeconfig)', commands: DAEMON },
  'node-name': { type: 'string', describe: "this node's name in Kubernetes (default: IMDS local-hostname)", commands: DAEMON },
  gate: {
    type: 'string',
    default: 'strict',
    choices: GATES,
    describe: 'strict: kubelet waits for a live address; label: kubelet may start after --gate-timeout without one, and only a node holding an address carries the eip-agent.io/public-ip label',
    commands: DAEMON,
  },
  'gate-timeout': { type: 'number', default: 60, describe: 'with --gate label: seconds kubelet waits for an address before it starts without one', commands: DAEMON },
  'lock-file': { type: 'string', default: '/run/eip-agent/eip-agent.pid', describe: 'pid file that keeps a second agent from running on this node', commands: DAEMON },
  'control-socket': {
    type: 'string',
    default: '/run/eip-agent/control.sock',
    describe: "Unix socket (mode 0600: root only) on which the daemon takes `eip-agent release`; the TCP health endpoint never releases",
    commands: ['run', 'claim', 'release', 'install', 'doctor'],
  },
  'health-listen': { type: 'string', default: '127.0.0.1:8099', describe: 'address of the local health endpoint (host:port)', commands: CLIENTS },
  'log-format': { type: 'string', default: 'json', choices: LOG_FORMATS, describe: 'json (one object a line) or text', commands: DAEMON },
  'log-level': { type: 'string', default: 'info', choices: LOG_LEVELS, describe: 'debug, info, warn or error', commands: DAEMON },
  timeout: { type: 'number', default: 600, describe: 'seconds to wait for the daemon to be ready', commands: ['wait'] },
  // No single default: status answers JSON (for scripts), doctor and pool a readable text.
  format: { type: 'string', choices: STATUS_FORMATS, describe: 'json or readable text (default: json for status, text for doctor and pool)', commands: ['status', 'doctor', 'pool'] },
  force: { type: 'boolean', default: false, describe: 'skip the drain wait', commands: ['release'] },
  'dry-run': { type: 'boolean', default: false, describe: 'print the files instead of writing them', commands: ['install', 'uninstall'] },
  root: { type: 'string', default: '/', describe: 'install under (doctor: look for the installed files under) this root directory (for images and tests)', commands: ['install', 'uninstall', 'doctor'] },
} as const satisfies Record<string, FlagSpec>;

export type FlagName = keyof typeof FLAGS;
type Spec<K extends FlagName> = (typeof FLAGS)[K];
type Base<T> = T extends 'number' ? number : T extends 'boolean' ? boolean : string;
type Chosen<K extends FlagName> = Spec<K> extends { choices: readonly (infer C)[] } ? C : Base<Spec<K>['type']>;
/** The type of a flag's value: its choices, or its type; `undefined` possible unless it has a default. */
export type FlagValue<K extends FlagName> = Spec<K> extends { default: unknown } ? Chosen<K> : Chosen<K> | undefined;

export interface FlagEntry {
  name: FlagName;
  spec: FlagSpec;
}

export function flagsFor(command: CommandName): FlagEntry[] {
  return (Object.entries(FLAGS) as [FlagName, FlagSpec][]).filter(([, spec]) => spec.commands.includes(command)).map(([name, spec]) => ({ name, spec }));
}

/** `tag-key` → `EIP_AGENT_TAG_KEY` */
export function envName(flag: string): string {
  return `EIP_AGENT_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/** `tag-key` → `tagKey`, the key a flag's value has in argv (args.ts) */
export function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The flags of one command, each with the input it came from (`--tag-key`,
 * `EIP_AGENT_TAG_KEY`, or its default). Read them with `get`, whose type follows the table.
 */
export class Flags {
  constructor(
    /** the flags of the command these were read for */
    private readonly command: readonly FlagName[],
    private readonly values: ReadonlyMap<FlagName, string | number | boolean>,
    private readonly sources: ReadonlyMap<FlagName, string>,
    /** flags already reported as bad: later checks stay silent about them */
    readonly reported: ReadonlySet<FlagName> = new Set(),
  ) {}

  get<K extends FlagName>(name: K): FlagValue<K> {
    // A flag of another command has no value here, whatever its type says: that is a bug.
    if (!this.command.includes(name)) throw new Error(`--${name} is not a flag of this command`);
    // The one place a value meets its type: collectFlags checked it against the same table.
    return this.values.get(name) as FlagValue<K>;
  }

  /** `--tag-key` or `EIP_AGENT_TAG_KEY`: the input a value came from, for messages */
  source(name: FlagName): string {
    return this.sources.get(name) ?? `--${name}`;
  }

  /** where a value came from */
  origin(name: FlagName): 'argv' | 'env' | 'default' {
    const source = this.sources.get(name);
    return source === undefined ? 'default' : source.startsWith('--') ? 'argv' : 'env';
  }

  *entries(): Iterable<[FlagName, string | number | boolean]> {
    yield* this.values;
  }
}
