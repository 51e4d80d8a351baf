// `eip-agent install` and `uninstall` as the built bundle runs them: --dry-run prints
// exactly the shipped files, --root writes under a directory and never calls systemctl.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BUNDLE, runToEnd } from '../helpers/agent.js';

const SERVICE = readFileSync('systemd/eip-agent.service', 'utf8');
const DROPIN = readFileSync('systemd/kubelet.service.d/10-eip-agent.conf', 'utf8');

/** `==> write PATH (mode M) <==` sections of a --dry-run, by path */
function sections(output: string): Map<string, string> {
  const found = new Map<string, string>();
  const parts = output.split(/^==> (.*) <==\n/m);
  for (let i = 1; i < parts.length; i += 2) found.set(parts[i]!, parts[i + 1]!);
  return found;
}

describe('install', () => {
  let dir: string;
  let env: Record<string, string>;
  let systemctlLog: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'eip-install-'));
    // A systemctl first on PATH that only records: the real one must never be reached.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    systemctlLog = join(dir, 'systemctl.log');
    writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho "$@" >> ${systemctlLog}\n`);
    chmodSync(join(bin, 'systemctl'), 0o755);
    env = { PATH: `${bin}:${process.env['PATH']}` };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--dry-run prints the shipped unit, the drop-in and an env file with the flags, and writes nothing', async () => {
    const { code, stdout, stderr } = await runToEnd(['install', '--dry-run', '--tag-key', 'color', '--tag-value', 'orange', '--drain-timeout', '600'], env);
    assert.equal(code, 0, stderr);
    const files = sections(`${stdout}\n`);
    assert.equal(files.get('write /etc/systemd/system/eip-agent.service (mode 0644)'), SERVICE);
    assert.equal(files.get('write /etc/systemd/system/kubelet.service.d/10-eip-agent.conf (mode 0644)'), DROPIN);
    const envFile = files.get('write /etc/eip-agent/env (mode 0644)') ?? '';
    assert.deepEqual(
      envFile.split('\n').filter((l) => l && !l.startsWith('#')),
      ['EIP_AGENT_TAG_KEY=color', 'EIP_AGENT_TAG_VALUE=orange', 'EIP_AGENT_DRAIN_TIMEOUT=600'],
    );
    assert.ok(files.has(`copy ${BUNDLE} to /usr/local/bin/eip-agent (mode 0755)`), [...files.keys()].join('\n'));
    assert.deepEqual(
      [...files.keys()].filter((k) => k.startsWith('run ')),
      ['run systemctl daemon-reload', 'run systemctl enable eip-agent.service', 'run systemctl start --no-block eip-agent.service'],
    );
    assert.equal(existsSync(systemctlLog), false, 'no systemctl call on a dry run');
  });

  test('--root writes the files under it, places the binary, and never calls systemctl; uninstall removes them', async () => {
    const root = join(dir, 'root');
    const installed = await runToEnd(['install', '--root', root, '--tag-key', 'color', '--tag-value', 'two words'], env);
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(installed.stderr, /on that system run: systemctl daemon-reload/);
    assert.equal(readFileSync(join(root, 'etc/systemd/system/eip-agent.service'), 'utf8'), SERVICE);
    assert.equal(readFileSync(join(root, 'etc/systemd/system/kubelet.service.d/10-eip-agent.conf'), 'utf8'), DROPIN);
    const envPath = join(root, 'etc/eip-agent/env');
    // What a shell (and systemd's EnvironmentFile parser, same quoting) reads back.
    const read = execFileSync('bash', ['-c', `set -a; . "${envPath}"; printf '%s|%s' "$EIP_AGENT_TAG_KEY" "$EIP_AGENT_TAG_VALUE"`], { encoding: 'utf8' });
    assert.equal(read, 'color|two words');
    const binary = join(root, 'usr/local/bin/eip-agent');
    assert.equal(readFileSync(binary, 'utf8'), readFileSync(BUNDLE, 'utf8'));
    assert.equal(statSync(binary).mode & 0o777, 0o755);
    assert.equal(statSync(envPath).mode & 0o777, 0o644);
    assert.equal(existsSync(systemctlLog), false, 'no systemctl call when --root is not /');

    // The placed binary installing again does not copy itself over itself.
    const again = await runToEnd(['install', '--root', root, '--tag-key', 'color'], env, binary);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /copy /);

    const removed = await runToEnd(['uninstall', '--root', root], env);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(readdirSync(join(root, 'etc/systemd/system')), []);
    assert.deepEqual(readdirSync(join(root, 'etc')), ['systemd']);
    assert.deepEqual(readdirSync(join(root, 'usr/local/bin')), []);
    assert.equal(existsSync(systemctlLog), false);
  });

  test('uninstall leaves other kubelet drop-ins alone', async () => {
    const root = join(dir, 'shared');
    assert.equal((await runToEnd(['install', '--root', root, '--tag-key', 'color'], env)).code, 0);
    const other = join(root, 'etc/systemd/system/kubelet.service.d/20-other.conf');
    writeFileSync(other, '[Service]\n');
    assert.equal((await runToEnd(['uninstall', '--root', root], env)).code, 0);
    assert.deepEqual(readdirSync(join(root, 'etc/systemd/system/kubelet.service.d')), ['20-other.conf']);
  });

  test('bad run flags fail at install time with the same one-line error as run, and nothing is written', async () => {
    const root = join(dir, 'bad');
    const cases: [string[], RegExp][] = [
      [['--tag-value', 'orange'], /^eip-agent: --tag-key: required/],
      [['--tag-key', 'color', '--drain-timeout', 'soon'], /^eip-agent: --drain-timeout: expected a number, got "soon"$/],
      [['--tag-key', 'color', '--region', 'mars'], /^eip-agent: --region: expected an AWS region/],
      [['--tag-key', 'color', '--tag-value', 'a\nb'], /^eip-agent: --tag-value: expected no control characters/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await runToEnd(['install', '--root', root, ...args], env);
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
      assert.match(stderr.trim(), message);
    }
    assert.equal(existsSync(root), false);
  });
});
