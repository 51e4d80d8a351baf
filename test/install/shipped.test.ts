// The files shipped for real nodes (SPEC §6): systemd accepts the unit and the kubelet
// drop-in and rates the unit 3.5 or lower, every shell script passes shellcheck, and the IAM
// policy grants exactly the EC2 actions the code calls, associate/disassociate on the pool.
import assert from 'node:assert/strict';
import { mimeParts } from '../helpers/mime.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';

function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

const SYSTEMD_MISSING = hasTool('systemd-analyze') ? false : 'systemd-analyze not installed (apt-get install systemd)';
const SHELLCHECK_MISSING = hasTool('shellcheck') ? false : 'shellcheck not installed (apt-get install shellcheck)';


describe('systemd units', () => {
  test('systemd-analyze verify accepts the unit and the drop-in beside a stub kubelet, without a warning', { skip: SYSTEMD_MISSING }, () => {
    const root = mkdtempSync(join(tmpdir(), 'eip-units-'));
    try {
      mkdirSync(join(root, 'lib/systemd'), { recursive: true });
      cpSync('/lib/systemd/system', join(root, 'lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
      const etc = join(root, 'etc/systemd/system');
      mkdirSync(join(etc, 'kubelet.service.d'), { recursive: true });
      cpSync('systemd/eip-agent.service', join(etc, 'eip-agent.service'));
      cpSync('systemd/kubelet.service.d/10-eip-agent.conf', join(etc, 'kubelet.service.d/10-eip-agent.conf'));
      writeFileSync(join(etc, 'kubelet.service'), '[Unit]\nDescription=stub kubelet\n[Service]\nExecStart=/usr/bin/kubelet\n[Install]\nWantedBy=multi-user.target\n');
      // verify checks that every Exec* command exists and is executable under the root.
      for (const bin of ['usr/local/bin/eip-agent', 'usr/bin/kubelet']) {
        mkdirSync(join(root, bin, '..'), { recursive: true });
        writeFileSync(join(root, bin), '#!/bin/sh\n');
        chmodSync(join(root, bin), 0o755);
      }
      const result = spawnSync('systemd-analyze', ['verify', `--root=${root}`, 'eip-agent.service', 'kubelet.service'], { encoding: 'utf8' });
      // Unknown keys and bad values are only warnings with exit 0: any output is a failure.
      assert.equal(`${result.stderr}${result.stdout}`, '');
      assert.equal(result.status, 0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  // issue 15: the unit's exposure stays at "OK" or better. --offline reads the file itself,
  // with no systemd running; --threshold makes the command itself fail above 3.5.
  test('systemd-analyze security rates the unit 3.5 or lower', { skip: SYSTEMD_MISSING }, () => {
    const result = spawnSync('systemd-analyze', ['security', '--offline=true', '--threshold=35', '--no-pager', 'systemd/eip-agent.service'], { encoding: 'utf8' });
    const score = /Overall exposure level for eip-agent\.service: (\d+(?:\.\d+)?)/.exec(result.stdout)?.[1];
    assert.ok(score, `no overall exposure level in:\n${result.stdout}${result.stderr}`);
    assert.ok(Number(score) <= 3.5, `exposure ${score} is above 3.5:\n${result.stdout.split('\n').filter((l) => l.startsWith('✗')).join('\n')}`);
    assert.equal(result.status, 0, result.stderr);
  });

  test('the unit stops after kubelet, waits longer than the drain, and is notified by a child', () => {
    const unit = readFileSync('systemd/eip-agent.service', 'utf8');
    const key = (name: string) => [...unit.matchAll(new RegExp(`^${name}=(.*)$`, 'gm'))].map((m) => m[1]);
    assert.deepEqual(key('Before'), ['kubelet.service']);
    assert.deepEqual(key('Type'), ['notify']);
    assert.deepEqual(key('NotifyAccess'), ['all'], 'agent/adapters/notify.ts sends READY=1 from systemd-notify, a child');
    assert.deepEqual(key('ExecStart'), ['/usr/local/bin/eip-agent run']);
    // The lock file and the control socket live in /run/eip-agent: root's alone.
    assert.deepEqual(key('RuntimeDirectory'), ['eip-agent']);
    assert.deepEqual(key('RuntimeDirectoryMode'), ['0700']);
    assert.deepEqual(key('UMask'), ['0077']);
    // --drain-timeout defaults to 300 s, and the release has its own 120 s budget.
    assert.ok(Number(key('TimeoutStopSec')[0]) > 300 + 120);
    // Every ordering or requirement line says why, on the comment line above it.
    for (const file of ['systemd/eip-agent.service', 'systemd/kubelet.service.d/10-eip-agent.conf']) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (/^(After|Before|Requires|Wants)=/.test(line)) assert.match(lines[i - 1] ?? '', /^#|^(After|Before|Requires|Wants)=/, `${file}: ${line}`);
      });
    }
  });
});

describe('user_data scripts', () => {
  test('shellcheck passes on every script under scripts/ and .ci/', { skip: SHELLCHECK_MISSING }, () => {
    // Every file starting with a shell #! line, whatever its name (the image's entry point has none).
    const scripts = ['scripts', '.ci']
      .flatMap((dir) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f)))
      .filter((f) => statSync(f).isFile() && /^#!.*\b(ba)?sh\b/.test(readFileSync(f, 'utf8').split('\n', 1)[0]!));
    assert.ok(scripts.includes(join('scripts', 'vm-boot-test.sh')) && scripts.includes(join('scripts', 'image', 'eip-agent-container')), scripts.join(' '));
    for (const script of scripts) {
      execFileSync('shellcheck', [script], { encoding: 'utf8' });
      assert.ok(statSync(script).mode & 0o100, `${script} is executable`);
    }
  });

  test('the AL2023 user_data is a NodeConfig for nodeadm plus a shell part that installs and waits', () => {
    const parts = mimeParts(readFileSync('scripts/user-data-al2023.mime', 'utf8'));
    assert.deepEqual(parts.map((p) => p.headers['content-type']?.split(';')[0]), ['application/node.eks.aws', 'text/x-shellscript']);
    const nodeConfig = parseYaml(parts[0]!.body) as { apiVersion: string; kind: string; spec: { cluster: { name: string }; kubelet: { flags: string[] } } };
    assert.equal(nodeConfig.apiVersion, 'node.eks.aws/v1alpha1');
    assert.equal(nodeConfig.kind, 'NodeConfig');
    assert.ok(nodeConfig.spec.cluster.name);
    const shell = parts[1]!.body;
    assert.match(shell, /^#!\/usr\/bin\/env bash\n/);
    assert.match(shell, /eip-agent install --tag-key color --tag-value orange\n/);
    assert.ok(shell.indexOf('eip-agent install') < shell.indexOf('eip-agent wait'));
  });

  test('shellcheck passes on the shell part of the AL2023 user_data', { skip: SHELLCHECK_MISSING }, () => {
    const shell = mimeParts(readFileSync('scripts/user-data-al2023.mime', 'utf8'))[1]!.body;
    execFileSync('shellcheck', ['-'], { input: shell, encoding: 'utf8' });
  });
});

describe('IAM policy', () => {
  // Every EC2 command the agent sends, read from the code so that a new call fails here.
  const called = [
    ...new Set(
      readdirSync('agent', { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts'))
        .flatMap((f) => [...readFileSync(join('agent', f), 'utf8').matchAll(/new (\w+)Command\(/g)].map((m) => `ec2:${m[1]}`)),
    ),
  ].sort();
  const policy = JSON.parse(readFileSync('scripts/iam-policy.json', 'utf8')) as {
    Version: string;
    Statement: { Effect: string; Action: string | string[]; Resource: string | string[]; Condition?: Record<string, Record<string, string>> }[];
  };
  const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);

  // Granted whether or not the code calls it yet: read-only, and what the agent needs to read
  // its own IMDS hop limit at start and warn when pods could borrow the node role (README, IAM).
  const READ_ONLY_EXTRA = ['ec2:DescribeInstances'];

  test('names exactly the EC2 actions the code calls, plus DescribeInstances for the hop-limit check', () => {
    assert.deepEqual(
      called.filter((a) => !READ_ONLY_EXTRA.includes(a)),
      ['ec2:AssociateAddress', 'ec2:DescribeAddresses', 'ec2:DisassociateAddress'],
    );
    assert.equal(policy.Version, '2012-10-17');
    assert.ok(policy.Statement.every((s) => s.Effect === 'Allow'));
    assert.deepEqual([...new Set(policy.Statement.flatMap((s) => list(s.Action)))].sort(), [...new Set([...called, ...READ_ONLY_EXTRA])].sort());
    for (const action of READ_ONLY_EXTRA) {
      const statements = policy.Statement.filter((s) => list(s.Action).includes(action));
      assert.deepEqual(statements.map((s) => [list(s.Action), s.Resource]), [[[action], '*']], `${action} alone, on * (it cannot be scoped)`);
    }
  });

  test('associate and disassociate touch only elastic IPs carrying the pool tag', () => {
    for (const action of ['ec2:AssociateAddress', 'ec2:DisassociateAddress']) {
      const statements = policy.Statement.filter((s) => list(s.Action).includes(action));
      const resources = statements.flatMap((s) => list(s.Resource));
      assert.ok(!resources.includes('*'), `${action} is not granted on every resource`);
      const onAddresses = statements.filter((s) => list(s.Resource).some((r) => r.includes(':elastic-ip/')));
      assert.equal(onAddresses.length, 1, action);
      assert.deepEqual(onAddresses[0]!.Condition, { StringEquals: { 'aws:ResourceTag/color': 'orange' } });
      // The other resources a call touches (EC2 checks each one) carry no tag condition,
      // which would deny them: they are not tagged with the pool tag.
      for (const s of statements.filter((x) => x !== onAddresses[0])) {
        assert.ok(list(s.Resource).every((r) => /:(network-interface|instance)\/\*$/.test(r)), JSON.stringify(s));
      }
    }
  });
});
