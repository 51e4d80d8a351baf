// The command line: which command with which flags, help, the version, or one usage line.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COMMANDS, parseCommandLine, type CommandLine } from '../../agent/cli/args.js';
import { flagsFor } from '../../agent/cli/flags.js';

const command = (name: string, argv: Record<string, unknown>): CommandLine => ({ kind: 'command', command: name as never, argv });
const usage = (message: string): CommandLine => ({ kind: 'usage', message });

describe('parseCommandLine', () => {
  const rows: [string, string[], CommandLine][] = [
    ['a command and its flags, camelCase, as text', ['run', '--tag-key', 'color', '--drain-timeout=30'], command('run', { tagKey: 'color', drainTimeout: '30' })],
    ['a boolean flag', ['release', '--force'], command('release', { force: true })],
    ['a negated boolean flag', ['release', '--no-force'], command('release', { force: false })],
    ['a boolean with a value is left to config to judge', ['release', '--force=yes'], command('release', { force: 'yes' })],
    ['a repeated flag: every value, for config to refuse', ['run', '--tag-key', 'a', '--tag-key=b'], command('run', { tagKey: ['a', 'b'] })],
    ['a negative number is a value', ['run', '--claim-timeout', '-5'], command('run', { claimTimeout: '-5' })],
    ['a value that starts with - given inline', ['run', '--tag-value=-x'], command('run', { tagValue: '-x' })],
    ['no flags', ['status'], command('status', {})],
    ['the option terminator alone', ['status', '--'], command('status', {})],
    ['no command', [], usage('expected a command (run, claim, wait, status, release, install, uninstall, doctor, pool); eip-agent --help lists them')],
    ['an unknown command', ['start'], usage('unknown command "start": expected one of run, claim, wait, status, release, install, uninstall, doctor, pool')],
    ['an unknown flag', ['run', '--colour', 'x'], usage('--colour: not a flag of eip-agent run (eip-agent run --help lists them)')],
    ['a flag of another command', ['status', '--force'], usage('--force: not a flag of eip-agent status (eip-agent status --help lists them)')],
    ['a short unknown flag', ['run', '-t', 'x'], usage('-t: not a flag of eip-agent run (eip-agent run --help lists them)')],
    ['a missing value at the end', ['run', '--tag-key'], usage('--tag-key: expected a value')],
    ['a missing value before the next flag', ['run', '--tag-key', '--tag-value', 'x'], usage('--tag-key: expected a value, got the flag --tag-value (write --tag-key=--tag-value for a value that starts with -)')],
    ['a negated flag that takes a value', ['run', '--no-tag-key'], usage('--no-tag-key: expected a value')],
    ['a positional argument', ['run', 'orange'], usage('unexpected argument "orange": eip-agent run takes flags only')],
    ['a positional after --', ['run', '--', 'x'], usage('unexpected argument "x": eip-agent run takes flags only')],
    ['--version', ['--version'], { kind: 'version' }],
    ['--version after a command', ['status', '--version'], { kind: 'version' }],
    ['--help after -- is an argument', ['status', '--', '--help'], usage('unexpected argument "--help": eip-agent status takes flags only')],
  ];
  for (const [name, args, expected] of rows) {
    test(name, () => assert.deepEqual(parseCommandLine(args), expected));
  }

  test('--help and -h: the command help wins over anything wrong beside it', () => {
    for (const args of [['run', '--help'], ['run', '-h'], ['run', '--colour', '--help'], ['run', '--help', '--version']]) {
      const line = parseCommandLine(args);
      assert.equal(line.kind, 'help', args.join(' '));
      assert.match((line as { text: string }).text, /^eip-agent run \[flags\]\n/);
    }
  });
});

describe('--help', () => {
  const help = (args: string[]) => {
    const line = parseCommandLine(args);
    assert.equal(line.kind, 'help');
    return (line as { text: string }).text;
  };

  test('the top help lists every command with what it does', () => {
    const text = help(['--help']);
    assert.match(text, /^eip-agent <command> \[flags\]\n/);
    // Each command's line, its description continued (wrapped) under itself.
    const flat = text.replace(/\n {2,}(?!eip-agent )/g, ' ');
    for (const [name, describe] of COMMANDS) assert.ok(flat.includes(`  eip-agent ${name.padEnd(9)}  ${describe}\n`), `${name} in:\n${text}`);
    for (const line of text.split('\n')) assert.ok(line.length <= 100, line);
  });

  test('a command help lists each of its flags, its type, variable and default, and no other flag', () => {
    for (const [name] of COMMANDS) {
      const text = help([name, '--help']);
      const listed = [...text.matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]);
      assert.deepEqual(listed, [...flagsFor(name).map((f) => f.name), 'help'], name);
    }
    const run = help(['run', '--help']);
    assert.match(run, /^ {2}--drain-timeout +seconds to wait for workload pods to leave before releasing anyway \[number\]\n +\[env EIP_AGENT_DRAIN_TIMEOUT\] \[default: 300\]$/m);
    assert.match(run, /^ {2}--live-check .*\n? +.*\[choices: imds, egress, none\] \[default: "imds"\]$/m);
    assert.match(help(['release', '--help']), /^ {2}--force +skip the drain wait \[boolean\] \[env EIP_AGENT_FORCE\] \[default: false\]$/m);
  });

  test('lines stay within 100 columns, and a [note] is never broken', () => {
    for (const [name] of COMMANDS) {
      for (const line of help([name, '--help']).split('\n')) {
        if (line.startsWith('  ')) assert.ok(line.length <= 100, `${name}: ${line}`);
        assert.doesNotMatch(line, /\[[^\]]*$/, `${name}: a note broken: ${line}`);
      }
    }
  });
});
