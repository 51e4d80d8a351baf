// Pure planning for `install` and `uninstall`: which files to write or remove under a
// root, and which systemctl calls follow. commands/install.ts applies a plan.
import { posix } from 'node:path';
import type { Result } from './config.js';
import { FLAGS, envName, flagsFor, type Flags } from './flags.js';

export const PATHS = {
  service: '/etc/systemd/system/eip-agent.service',
  dropIn: '/etc/systemd/system/kubelet.service.d/10-eip-agent.conf',
  env: '/etc/eip-agent/env',
  binary: '/usr/local/bin/eip-agent',
} as const;

export type Step =
  | { kind: 'write'; path: string; mode: number; content: string }
  | { kind: 'copy'; path: string; mode: number; from: string }
  | { kind: 'remove'; path: string }
  /** removes a directory only if it is empty: others may have put files there */
  | { kind: 'rmdir'; path: string }
  | { kind: 'systemctl'; args: string[] }
  | { kind: 'note'; text: string };

export interface InstallInput {
  root: string;
  flags: Flags;
  service: string;
  dropIn: string;
  /** the running executable or bundle to place at PATHS.binary; undefined: it is already there */
  binary: string | undefined;
}

/** systemctl acts on the running system only: another root is an image or a test. */
export function isLiveRoot(root: string): boolean {
  return posix.resolve(root) === '/';
}

export function installPlan(input: InstallInput): Result<Step[]> {
  const env = envFile(input.flags);
  if (!env.ok) return env;
  const at = (path: string) => posix.join(input.root, path);
  const steps: Step[] = [
    ...(input.binary !== undefined ? [{ kind: 'copy', path: at(PATHS.binary), mode: 0o755, from: input.binary } satisfies Step] : []),
    { kind: 'write', path: at(PATHS.env), mode: 0o644, content: env.value },
    { kind: 'write', path: at(PATHS.service), mode: 0o644, content: input.service },
    { kind: 'write', path: at(PATHS.dropIn), mode: 0o644, content: input.dropIn },
  ];
  if (isLiveRoot(input.root)) {
    // `enable --now` needs systemd 220; AL2 has 219. --no-block: the unit is Type=notify
    // and becomes active only once the address is live; user_data gates on
    // `eip-agent wait`, which has a timeout and says why.
    steps.push(
      { kind: 'systemctl', args: ['daemon-reload'] },
      { kind: 'systemctl', args: ['enable', 'eip-agent.service'] },
      { kind: 'systemctl', args: ['start', '--no-block', 'eip-agent.service'] },
    );
  } else {
    steps.push({ kind: 'note', text: `files written under ${input.root}; on that system run: systemctl daemon-reload && systemctl enable eip-agent.service` });
  }
  return { ok: true, value: steps };
}

export function uninstallPlan(root: string): Step[] {
  const at = (path: string) => posix.join(root, path);
  const systemctl = (...args: string[]): Step[] => (isLiveRoot(root) ? [{ kind: 'systemctl', args }] : []);
  return [
    // The gate goes first: with kubelet's Requires= still loaded, stopping the agent
    // would stop kubelet too.
    { kind: 'remove', path: at(PATHS.dropIn) },
    { kind: 'rmdir', path: posix.dirname(at(PATHS.dropIn)) },
    ...systemctl('daemon-reload'),
    ...systemctl('stop', 'eip-agent.service'),
    ...systemctl('disable', 'eip-agent.service'),
    { kind: 'remove', path: at(PATHS.service) },
    { kind: 'remove', path: at(PATHS.env) },
    { kind: 'rmdir', path: posix.dirname(at(PATHS.env)) },
    { kind: 'remove', path: at(PATHS.binary) },
    ...systemctl('daemon-reload'),
  ];
}

const RUN_FLAGS = new Set(flagsFor('run').map((f) => f.name));

// Values that read the same to systemd's EnvironmentFile parser and to a shell.
const BARE = /^[A-Za-z0-9_.,:/@+=%-]+$/;

/**
 * The environment file: one EIP_AGENT_* line for each `run` flag that was given (or
 * differs from its default). Values are double-quoted when needed; systemd and sh both
 * take \" \\ \` \$ as escapes inside double quotes.
 */
export function envFile(flags: Flags): Result<string> {
  const lines: string[] = [];
  const errors: string[] = [];
  for (const [name, value] of flags.entries()) {
    const spec = FLAGS[name];
    if (!RUN_FLAGS.has(name) || (flags.origin(name) !== 'argv' && value === ('default' in spec ? spec.default : undefined))) continue;
    const text = String(value);
    // A line break would end the assignment early and start another one.
    if (/[\u0000-\u001f\u007f]/.test(text)) {
      errors.push(`${flags.source(name)}: expected no control characters or line breaks, got ${JSON.stringify(text)}`);
      continue;
    }
    lines.push(`${envName(name)}=${BARE.test(text) ? text : `"${text.replace(/["\\`$]/g, '\\$&')}"`}`);
  }
  if (errors.length) return { ok: false, errors };
  const header = [
    '# eip-agent settings, written by `eip-agent install`; read by eip-agent.service and by',
    '# the kubelet gate. One EIP_AGENT_<FLAG>=value a line (see `eip-agent run --help`);',
    '# a change takes effect at the next `systemctl restart eip-agent`.',
  ];
  return { ok: true, value: `${[...header, ...lines].join('\n')}\n` };
}

/** What --dry-run prints: each step, with the full text of every file written. */
export function renderPlan(steps: readonly Step[]): string {
  return steps
    .map((step) => {
      switch (step.kind) {
        case 'write':
          return `==> write ${step.path} (mode ${mode(step.mode)}) <==\n${step.content}`;
        case 'copy':
          return `==> copy ${step.from} to ${step.path} (mode ${mode(step.mode)}) <==\n`;
        case 'remove':
          return `==> remove ${step.path} <==\n`;
        case 'rmdir':
          return `==> remove ${step.path} if empty <==\n`;
        case 'systemctl':
          return `==> run systemctl ${step.args.join(' ')} <==\n`;
        case 'note':
          return `==> note: ${step.text} <==\n`;
      }
    })
    .join('');
}

const mode = (m: number) => `0${m.toString(8)}`;
