// The one flag table: it drives yargs (`--help` with defaults), the EIP_AGENT_* environment
// variables and validation in config.ts.

export type CommandName = 'run' | 'wait' | 'status' | 'release' | 'install' | 'uninstall';

export interface FlagSpec {
  name: string;
  type: 'string' | 'number' | 'boolean';
  /** shown in --help; undefined means "none" or a computed default described in `describe` */
  default?: string | number | boolean;
  describe: string;
  choices?: readonly string[];
  commands: readonly CommandName[];
}

const DAEMON: readonly CommandName[] = ['run', 'install'];
const CLIENTS: readonly CommandName[] = ['run', 'wait', 'status', 'release', 'install'];

export const LIVE_CHECKS = ['imds', 'egress', 'none'] as const;
export const LOG_FORMATS = ['json', 'text'] as const;
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export const FLAGS: readonly FlagSpec[] = [
  { name: 'tag-key', type: 'string', describe: 'tag key that marks pool addresses (required for run)', commands: DAEMON },
  { name: 'tag-value', type: 'string', describe: 'tag value; left out, every address carrying the key is in the pool', commands: DAEMON },
  { name: 'device-index', type: 'number', default: 0, describe: 'network interface (by device index) to put the address on', commands: DAEMON },
  { name: 'private-ip', type: 'string', describe: "private IPv4 of that interface to associate with (default: the interface's primary)", commands: DAEMON },
  { name: 'region', type: 'string', describe: 'AWS region (default: AWS_REGION, else IMDS)', commands: DAEMON },
  { name: 'live-check', type: 'string', default: 'imds', choices: LIVE_CHECKS, describe: 'how to see the address live: imds, egress or none', commands: DAEMON },
  { name: 'egress-check-url', type: 'string', default: 'https://checkip.amazonaws.com', describe: 'echo service for --live-check egress', commands: DAEMON },
  { name: 'claim-timeout', type: 'number', default: 0, describe: 'seconds to keep trying while the pool is exhausted or AWS fails (0: forever)', commands: DAEMON },
  { name: 'relist-interval', type: 'number', default: 5, describe: 'seconds between pool listings while the pool is exhausted (jittered; backs off under throttling)', commands: DAEMON },
  { name: 'drain-timeout', type: 'number', default: 300, describe: 'seconds to wait for workload pods to leave before releasing anyway', commands: DAEMON },
  { name: 'kubeconfig', type: 'string', describe: 'kubeconfig for the drain check (default: KUBECONFIG, else /var/lib/kubelet/kubeconfig)', commands: DAEMON },
  { name: 'node-name', type: 'string', describe: "this node's name in Kubernetes (default: IMDS local-hostname)", commands: DAEMON },
  { name: 'lock-file', type: 'string', default: '/run/eip-agent/eip-agent.pid', describe: 'pid file that keeps a second agent from running on this node', commands: DAEMON },
  { name: 'health-listen', type: 'string', default: '127.0.0.1:8099', describe: 'address of the local health endpoint (host:port)', commands: CLIENTS },
  { name: 'log-format', type: 'string', default: 'json', choices: LOG_FORMATS, describe: 'json (one object a line) or text', commands: DAEMON },
  { name: 'log-level', type: 'string', default: 'info', choices: LOG_LEVELS, describe: 'debug, info, warn or error', commands: DAEMON },
  { name: 'timeout', type: 'number', default: 600, describe: 'seconds to wait for the daemon to be ready', commands: ['wait'] },
  { name: 'format', type: 'string', default: 'json', choices: ['json', 'text'], describe: 'json or a readable table', commands: ['status'] },
  { name: 'force', type: 'boolean', default: false, describe: 'skip the drain wait', commands: ['release'] },
  { name: 'dry-run', type: 'boolean', default: false, describe: 'print the files instead of writing them', commands: ['install', 'uninstall'] },
  { name: 'root', type: 'string', default: '/', describe: 'install under this root directory (for images and tests)', commands: ['install', 'uninstall'] },
];

/** `tag-key` → `EIP_AGENT_TAG_KEY` */
export function envName(flag: string): string {
  return `EIP_AGENT_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/** `tag-key` → `tagKey`, the key yargs uses */
export function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function flagsFor(command: CommandName): FlagSpec[] {
  return FLAGS.filter((f) => f.commands.includes(command));
}
