// The command line: which command, with which flags, or help, or the version. Node's own
// parseArgs (node:util) splits it into tokens; this file checks them against the one flag
// table (flags.ts) and renders --help from it. It replaced yargs: ~80 ms of CPU and 110 KB
// of bundle at every start for a fixed table of flags (issue 22, BENCHMARKS.md "Footprint").
// Values stay text: config.ts converts and validates them, so that a flag and its variable
// get the same one-line error (G6).
import { parseArgs } from 'node:util';
import { camel, envName, flagsFor, FLAGS, type CommandName, type FlagName } from './flags.js';

export const COMMANDS: readonly (readonly [CommandName, string])[] = [
  ['run', 'the daemon: claim or resume an address, prove it live, serve health, release at the end of the node'],
  ['claim', 'one shot: claim or resume an address, wait until it is live, exit (a later run resumes it)'],
  ['wait', 'the gate: wait until the daemon is ready (exit 0), or time out (exit 1)'],
  ['status', "print the daemon's status"],
  ['release', 'ask the daemon to drain-wait and release now'],
  ['install', 'write the systemd unit, the kubelet gate and the settings, then enable and start the agent'],
  ['uninstall', 'remove what install wrote'],
  ['doctor', 'check on this node everything the claim needs (IMDS, credentials, region, pool, IAM by DryRun, clock, Kubernetes, systemd); changes nothing'],
  ['pool', 'show the pool: each address with its holder, then size and free (read-only: Describe* calls only)'],
];

export type CommandLine =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  /** argv: each given flag under its camelCase name, as text (booleans: true/false), an array when repeated */
  | { kind: 'command'; command: CommandName; argv: Record<string, unknown> }
  | { kind: 'usage'; message: string };

const ABOUT = 'Gives this Kubernetes node a static public IP from a tagged Elastic IP pool.';

function isCommand(word: string | undefined): word is CommandName {
  return COMMANDS.some(([name]) => name === word);
}

export function parseCommandLine(args: readonly string[]): CommandLine {
  const [first, ...rest] = args;
  const names = COMMANDS.map(([name]) => name).join(', ');
  const command = isCommand(first) ? first : undefined;
  const words = command ? rest : args;
  const asked = (...flags: string[]) => words.slice(0, words.includes('--') ? words.indexOf('--') : undefined).some((w) => flags.includes(w));
  if (asked('--help', '-h')) return { kind: 'help', text: command ? commandHelp(command) : topHelp() };
  if (asked('--version')) return { kind: 'version' };
  if (first === undefined) return { kind: 'usage', message: `expected a command (${names}); eip-agent --help lists them` };
  if (!command) return { kind: 'usage', message: `unknown command ${JSON.stringify(first)}: expected one of ${names}` };
  return readFlagTokens(command, rest);
}

function readFlagTokens(command: CommandName, args: string[]): CommandLine {
  const known = new Map(flagsFor(command).map(({ name, spec }) => [name as string, spec]));
  // Declared so that parseArgs knows which flags take a value; everything else is checked here.
  const options = Object.fromEntries([...known].map(([name, spec]) => [name, { type: spec.type === 'boolean' ? 'boolean' : 'string', multiple: true }] as const));
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, allowNegative: true, tokens: true });
  const argv: Record<string, unknown> = {};
  const usage = (message: string): CommandLine => ({ kind: 'usage', message });
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') return usage(`unexpected argument ${JSON.stringify(token.value)}: eip-agent ${command} takes flags only`);
    const spec = known.get(token.name);
    if (!spec) return usage(`${token.rawName}: not a flag of eip-agent ${command} (eip-agent ${command} --help lists them)`);
    let value: string | boolean;
    if (spec.type === 'boolean') {
      value = token.inlineValue ? (token.value ?? '') : !token.rawName.startsWith('--no-');
    } else {
      if (token.rawName.startsWith('--no-') || token.value === undefined) return usage(`${token.rawName}: expected a value`);
      // `--tag-key --tag-value x` is a missing value, not a key named "--tag-value".
      if (!token.inlineValue && token.value.startsWith('-') && !/^-\d/.test(token.value)) {
        return usage(`${token.rawName}: expected a value, got the flag ${token.value} (write ${token.rawName}=${token.value} for a value that starts with -)`);
      }
      value = token.value;
    }
    const key = camel(token.name);
    const before = argv[key];
    argv[key] = before === undefined ? value : [...(Array.isArray(before) ? before : [before]), value];
  }
  return { kind: 'command', command, argv };
}

function topHelp(): string {
  const width = Math.max(...COMMANDS.map(([name]) => name.length));
  return [
    'eip-agent <command> [flags]',
    '',
    ABOUT,
    '',
    'Commands:',
    ...COMMANDS.map(([name, describe]) => fill(`  eip-agent ${name.padEnd(width)} `, describe.split(' '))),
    '',
    'Flags:',
    '  --help     show help (eip-agent <command> --help: its flags)',
    '  --version  show the version',
    '',
  ].join('\n');
}

function commandHelp(command: CommandName): string {
  const describe = COMMANDS.find(([name]) => name === command)?.[1] ?? '';
  const entries = flagsFor(command);
  const width = Math.max(...entries.map(({ name }) => name.length)) + 2;
  const lines = entries.map(({ name }) => fill(`  --${name.padEnd(width - 2)} `, flagWords(name)));
  return [`eip-agent ${command} [flags]`, '', describe, '', 'Flags:', ...lines, `  --${'help'.padEnd(width - 2)}  show help`, ''].join('\n');
}

/** The description's words, then `[number]`, `[env EIP_AGENT_…]`, `[default: …]` each whole. */
function flagWords(name: FlagName): string[] {
  const spec: { type: string; describe: string; default?: unknown; choices?: readonly string[] } = FLAGS[name];
  const notes = [`[${spec.type}]`, `[env ${envName(name)}]`];
  if (spec.choices) notes.push(`[choices: ${spec.choices.join(', ')}]`);
  if (spec.default !== undefined) notes.push(`[default: ${JSON.stringify(spec.default)}]`);
  return [...spec.describe.split(' '), ...notes];
}

const COLUMNS = 100;

/** `head` then the words, a line broken before COLUMNS and continued under the first word. */
function fill(head: string, words: string[]): string {
  const lines = [head];
  for (const word of words) {
    const line = lines[lines.length - 1]!;
    if (line.length > head.length && line.length + 1 + word.length > COLUMNS) lines.push(`${' '.repeat(head.length)} ${word}`);
    else lines[lines.length - 1] = `${line} ${word}`;
  }
  return lines.join('\n');
}
