// The deployment examples stay in step with the code (issue 14): the Karpenter EC2NodeClass
// runs the same shell part as the shipped AL2023 user_data, the launch template carries that
// user_data as it is, the Bottlerocket settings and the image's entry point name only
// settings, commands and paths the agent has, and every example sets IMDS to one hop.
import assert from 'node:assert/strict';
import { mimeParts } from '../helpers/mime.js';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';
import { EC2NodeClass } from '@kubernetes-models/karpenter/karpenter.k8s.aws/v1/EC2NodeClass';
import { NodePool } from '@kubernetes-models/karpenter/karpenter.sh/v1/NodePool';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { PATHS } from '../../agent/cli/install-plan.js';
import { FLAGS, envName } from '../../agent/cli/flags.js';

/** The flags a command takes, from the one flag table ([] for no such command). */
const flagsOf = (command: string): string[] =>
  Object.entries(FLAGS)
    .filter(([, spec]) => (spec.commands as readonly string[]).includes(command))
    .map(([name]) => name);

const read = (path: string) => readFileSync(path, 'utf8');

/** The parts of a MIME document: content type and body. */
const typedParts = (text: string) => mimeParts(text).map((p) => ({ type: p.headers['content-type'] ?? '', body: p.body }));

const shellPart = (mime: string) => {
  const shells = typedParts(mime).filter((p) => p.type.startsWith('text/x-shellscript'));
  assert.equal(shells.length, 1, 'one shell part');
  return shells[0]!;
};

/** Every `eip-agent COMMAND --flag …` in a script: the flags must belong to the command. */
function checkAgentCalls(script: string, where: string): number {
  let calls = 0;
  for (const [, command, args] of script.matchAll(/eip-agent (\w[\w-]*)((?: --[\w-]+(?: [^\s-][^\s]*)?)*)/g)) {
    calls++;
    const known = flagsOf(command!);
    assert.ok(known.length > 0, `${where}: eip-agent ${command} is not a command with flags in agent/cli/flags.ts`);
    for (const [, flag] of args!.matchAll(/--([\w-]+)/g)) {
      assert.ok(known.includes(flag!), `${where}: eip-agent ${command} --${flag} is not a flag of ${command} in agent/cli/flags.ts`);
    }
  }
  return calls;
}

/** EIP_AGENT_<FLAG>=value lines (the format of the image's entry point), checked against the flag table. */
function checkSettings(text: string, where: string, command = 'run'): Map<string, string> {
  const flags = new Set(flagsOf(command).map(envName));
  const settings = new Map<string, string>();
  text.split('\n').forEach((line, i) => {
    if (line === '' || line.startsWith('#')) return;
    const m = /^(EIP_AGENT_[A-Z0-9_]+)=(.*)$/.exec(line);
    assert.ok(m, `${where} line ${i + 1}: expected EIP_AGENT_<FLAG>=value, got ${JSON.stringify(line)}`);
    // `claim` takes the same flags as `run` (issue 14).
    assert.ok(flags.has(m[1]!), `${where} line ${i + 1}: ${m[1]} is not the variable of a ${command} flag (agent/cli/flags.ts)`);
    settings.set(m[1]!, m[2]!);
  });
  return settings;
}

/** The subset of TOML the Bottlerocket example uses: tables, and string/boolean values. */
function parseToml(text: string): Record<string, Record<string, string | boolean>> {
  const tables: Record<string, Record<string, string | boolean>> = {};
  let table = '';
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[([\w.-]+)\]$/.exec(line);
    if (header) {
      table = header[1]!;
      tables[table] = {};
      continue;
    }
    const pair = /^("?)([\w.-]+)\1\s*=\s*(?:"([^"]*)"|(true|false))$/.exec(line);
    assert.ok(pair && table, `settings.toml line ${i + 1}: not understood: ${line}`);
    tables[table]![pair[2]!] = pair[3] ?? pair[4] === 'true';
  }
  return tables;
}

const al2023 = read('scripts/user-data-al2023.mime');

describe('Karpenter EC2NodeClass example', () => {
  const [nodeClass, nodePool] = parseAllDocuments(read('scripts/karpenter/ec2nodeclass.yaml')).map((d) => d.toJS()) as [
    { apiVersion: string; kind: string; metadata: { name: string }; spec: Record<string, unknown> & { userData: string; metadataOptions: Record<string, unknown> } },
    { kind: string; spec: { template: { metadata: { labels: Record<string, string> }; spec: { nodeClassRef: { kind: string; name: string } } } } },
  ];

  test('its userData shell part is exactly the shipped AL2023 one (no drift)', () => {
    assert.equal(nodeClass.kind, 'EC2NodeClass');
    assert.equal(nodeClass.apiVersion, 'karpenter.k8s.aws/v1');
    assert.deepEqual(shellPart(nodeClass.spec.userData), shellPart(al2023));
    // Karpenter adds the NodeConfig; a second one here would fight it.
    assert.deepEqual(typedParts(nodeClass.spec.userData).map((p) => p.type.split(';')[0]), ['text/x-shellscript']);
    assert.ok(checkAgentCalls(shellPart(nodeClass.spec.userData).body, 'ec2nodeclass.yaml') >= 2);
  });

  test('IMDSv2 with one hop, an AL2023 AMI, a node role, and a NodePool that labels its nodes as the AL2023 example does', () => {
    assert.deepEqual(nodeClass.spec.metadataOptions, { httpEndpoint: 'enabled', httpProtocolIPv6: 'disabled', httpPutResponseHopLimit: 1, httpTokens: 'required' });
    assert.match(JSON.stringify(nodeClass.spec['amiSelectorTerms']), /"alias":"al2023@/);
    assert.ok(typeof nodeClass.spec['role'] === 'string' && nodeClass.spec['role'] !== '');
    assert.equal(nodePool.kind, 'NodePool');
    assert.deepEqual(nodePool.spec.template.spec.nodeClassRef, { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: nodeClass.metadata.name });
    const nodeConfig = parseYaml(mimeParts(al2023)[0]!.body) as { spec: { kubelet: { flags: string[] } } };
    const labels = nodeConfig.spec.kubelet.flags.find((f) => f.startsWith('--node-labels='))!.slice('--node-labels='.length);
    assert.deepEqual(nodePool.spec.template.metadata.labels, Object.fromEntries(labels.split(',').map((l) => l.split('='))));
  });
});

describe('Karpenter example against the CRDs (@kubernetes-models/karpenter)', () => {
  const docs = () => parseAllDocuments(read('scripts/karpenter/ec2nodeclass.yaml')).map((d) => d.toJS() as Record<string, unknown>);
  /** The validator's complaint, or undefined when the object is valid. */
  const complaint = (validate: () => void): string | undefined => {
    try {
      validate();
      return undefined;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  };

  test('the EC2NodeClass and the NodePool are valid karpenter.k8s.aws/v1 and karpenter.sh/v1 objects', () => {
    const [nodeClass, nodePool] = docs();
    assert.equal(complaint(() => new EC2NodeClass(nodeClass as never).validate()), undefined);
    assert.equal(complaint(() => new NodePool(nodePool as never).validate()), undefined);
  });

  test('a planted error is caught: a hop limit as a string, an unknown requirement operator', () => {
    const [nodeClass, nodePool] = docs() as [{ spec: { metadataOptions: Record<string, unknown> } }, { spec: { template: { spec: { requirements: { operator: string }[] } } } }];
    nodeClass.spec.metadataOptions['httpPutResponseHopLimit'] = '1';
    assert.match(complaint(() => new EC2NodeClass(nodeClass as never).validate()) ?? '', /httpPutResponseHopLimit must be integer/);
    nodePool.spec.template.spec.requirements[0]!.operator = 'Within';
    assert.match(complaint(() => new NodePool(nodePool as never).validate()) ?? '', /operator must be equal to one of the allowed values/);
  });

  test('the NodePool allows both CPUs (amd64, arm64): the userData fetches the executable for the one it gets', () => {
    const [, nodePool] = docs() as [unknown, { spec: { template: { spec: { requirements: { key: string; operator: string; values: string[] }[] } } } }];
    const arch = nodePool.spec.template.spec.requirements.find((r) => r.key === 'kubernetes.io/arch');
    assert.deepEqual({ operator: arch?.operator, values: arch?.values.slice().sort() }, { operator: 'In', values: ['amd64', 'arm64'] });
  });
});

// botocore's EC2 model with the AWS CLI's own parameter validator (Debian's awscli, which
// .ci/run installs; a pip AWS CLI or boto3 serves as well).
const PYTHONS = ['/usr/bin/python3', 'python3'];
const botocorePython = PYTHONS.find(
  (python) => spawnSync(python, ['-c', 'import importlib.util as u, sys; sys.exit(0 if u.find_spec("awscli.botocore") or u.find_spec("botocore") else 1)']).status === 0,
);
const NO_BOTOCORE = botocorePython ? false : "no python3 with botocore (apt-get install awscli; .ci/run does)";

function validateEc2(operation: string, params: unknown): { ok: boolean; report: string } {
  const dir = mkdtempSync(join(tmpdir(), 'eip-botocore-'));
  try {
    writeFileSync(join(dir, 'params.json'), JSON.stringify(params));
    const run = spawnSync(botocorePython!, ['test/fixtures/validate-ec2-params.py', operation, join(dir, 'params.json')], { encoding: 'utf8' });
    assert.ok(run.status === 0 || run.status === 1, `the validator ran: ${run.stderr}`);
    return { ok: run.status === 0, report: `${run.stdout}${run.stderr}`.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('launch template example', () => {
  const template = JSON.parse(read('scripts/launch-template.json')) as { MetadataOptions: Record<string, unknown>; UserData: string };

  test('carries the shipped AL2023 user_data as it is, and IMDSv2 with one hop', () => {
    assert.equal(Buffer.from(template.UserData, 'base64').toString('utf8'), al2023);
    assert.deepEqual(template.MetadataOptions, { HttpEndpoint: 'enabled', HttpTokens: 'required', HttpPutResponseHopLimit: 1, HttpProtocolIpv6: 'disabled' });
  });

  test("is valid launch template data in botocore's EC2 model (CreateLaunchTemplate), and a planted error is caught", { skip: NO_BOTOCORE }, () => {
    const data = JSON.parse(read('scripts/launch-template.json')) as Record<string, unknown> & { MetadataOptions: Record<string, unknown> };
    const valid = validateEc2('CreateLaunchTemplate', { LaunchTemplateName: 'eip-agent', LaunchTemplateData: data });
    assert.ok(valid.ok, valid.report);
    data.MetadataOptions['HttpPutResponseHopLimit'] = '1';
    data['MetadataOption'] = { HttpTokens: 'required' };
    const planted = validateEc2('CreateLaunchTemplate', { LaunchTemplateName: 'eip-agent', LaunchTemplateData: data });
    assert.equal(planted.ok, false);
    assert.match(planted.report, /Unknown parameter in LaunchTemplateData: "MetadataOption"/);
    assert.match(planted.report, /Invalid type for parameter LaunchTemplateData\.MetadataOptions\.HttpPutResponseHopLimit/);
  });

  test("its UserData is the base64 of the AL2023 user_data byte for byte; a planted change is caught", () => {
    const encoded = (JSON.parse(read('scripts/launch-template.json')) as { UserData: string }).UserData;
    assert.equal(encoded, Buffer.from(al2023, 'utf8').toString('base64'));
    const planted = Buffer.from(al2023.replace('--tag-value orange', '--tag-value green'), 'utf8').toString('base64');
    assert.notEqual(encoded, planted);
  });

  test('the AL2023 user_data calls eip-agent with flags the commands have, at the installed path', () => {
    const shell = shellPart(al2023).body;
    assert.ok(checkAgentCalls(shell, 'user-data-al2023.mime') >= 2);
    const binaries = [...shell.matchAll(/(?<![\w:/.-])\/[\w/.-]*\/eip-agent(?![./\w-])/g)].map((m) => m[0]);
    assert.ok(binaries.length >= 2);
    for (const path of binaries) assert.equal(path, PATHS.binary);
    for (const [path] of shell.matchAll(/\/etc\/eip-agent\/\w+/g)) assert.equal(path, PATHS.env);
  });
});

describe('the user_data fetches the executable for the node\'s CPU (uname -m)', () => {
  /**
   * Runs the shell part with `uname`, `aws` and `sha256sum` from a stub directory, the install
   * path moved into a scratch directory; the "executable" it fetches records its arguments.
   */
  const fakeExecutable = (arch: string) => `#!/bin/sh\necho "${arch} $*" >> "$RAN"\n`;
  function boot(machine: string, edit: (shell: string) => string = (s) => s): { code: number | null; fetched: string[]; ran: string; stderr: string } {
    const dir = mkdtempSync(join(tmpdir(), 'eip-userdata-'));
    try {
      const bin = join(dir, 'bin');
      const bucket = join(dir, 'bucket');
      const installed = join(dir, 'usr-local-bin');
      for (const d of [bin, bucket, installed]) mkdirSync(d);
      for (const arch of ['x64', 'arm64']) writeFileSync(join(bucket, `eip-agent-linux-${arch}`), fakeExecutable(arch));
      const stub = (name: string, body: string) => {
        writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
        chmodSync(join(bin, name), 0o755);
      };
      stub('uname', `[ "$1" = -m ] && echo ${machine}`);
      // aws s3 cp --only-show-errors s3://my-bucket/eip-agent/0.1.0/FILE DEST
      stub('aws', `echo "$4" >> ${join(dir, 'fetched')}; cp "${bucket}/$(basename "$4")" "$5"`);
      const shell = edit(shellPart(al2023).body).replaceAll('/usr/local/bin', installed);
      // stdin not a socket: bash would read ~/.bashrc as if run by rshd.
      const run = spawnSync('bash', ['-c', shell], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: `${bin}:/usr/bin:/bin`, RAN: join(dir, 'ran') } });
      const text = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');
      return { code: run.status, fetched: text('fetched').trim().split('\n').filter(Boolean), ran: text('ran'), stderr: run.stderr };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test('x86_64 fetches eip-agent-linux-x64, aarch64 (Graviton) eip-agent-linux-arm64, and runs it as eip-agent', () => {
    for (const [machine, arch] of [['x86_64', 'x64'], ['aarch64', 'arm64']] as const) {
      const result = boot(machine);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(result.fetched, [`s3://my-bucket/eip-agent/0.1.0/eip-agent-linux-${arch}`]);
      assert.equal(result.ran, `${arch} install --tag-key color --tag-value orange\n${arch} wait --timeout 600\n`);
    }
  });

  test('another CPU stops the boot script with one line, before fetching anything', () => {
    const result = boot('s390x');
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'eip-agent: no executable for CPU s390x\n');
    assert.deepEqual(result.fetched, []);
  });

  test("a pinned sha256sum is checked against the file fetched for this CPU; a wrong one stops the boot", () => {
    const pin = (arch: string, value: string) => (shell: string) => shell.replace(`EIP_AGENT_SHA256_${arch.toUpperCase()}=""`, `EIP_AGENT_SHA256_${arch.toUpperCase()}="${value}"`);
    const right = boot('aarch64', pin('arm64', createHash('sha256').update(fakeExecutable('arm64')).digest('hex')));
    assert.equal(right.code, 0, right.stderr);
    assert.match(right.ran, /^arm64 install /);
    const wrong = boot('aarch64', pin('arm64', '0'.repeat(64)));
    assert.notEqual(wrong.code, 0);
    assert.equal(wrong.ran, '', 'nothing ran');
    // The x64 pin is not consulted on arm64.
    assert.equal(boot('aarch64', pin('x64', '0'.repeat(64))).code, 0);
  });
});

describe('Bottlerocket example', () => {
  const toml = parseToml(read('scripts/bottlerocket/settings.toml'));
  const bootstrap = toml['settings.bootstrap-containers.eip-agent'];
  const host = toml['settings.host-containers.eip-agent'];
  const decode = (value: unknown) => Buffer.from(String(value), 'base64').toString('utf8');
  const entrypoint = read('scripts/image/eip-agent-container');

  test('a bootstrap container (always, essential) and a superpowered host container of the same image', () => {
    assert.ok(bootstrap && host, 'both containers are defined');
    assert.deepEqual({ mode: bootstrap['mode'], essential: bootstrap['essential'] }, { mode: 'always', essential: true });
    assert.deepEqual({ enabled: host['enabled'], superpowered: host['superpowered'] }, { enabled: true, superpowered: true });
    assert.match(String(host['source']), /\/eip-agent:\d+\.\d+\.\d+$/);
    assert.equal(bootstrap['source'], host['source']);
    // Graceful node shutdown: kubelet ends the pods before the host containers stop.
    assert.match(String(toml['settings.kubernetes']?.['shutdown-grace-period']), /^\d+s$/);
  });

  test('their user-data are EIP_AGENT_* settings of run flags, for the same pool', () => {
    const claim = checkSettings(decode(bootstrap?.['user-data']), 'bootstrap user-data');
    const run = checkSettings(decode(host?.['user-data']), 'host user-data');
    for (const settings of [claim, run]) {
      assert.equal(settings.get(envName('tag-key')), 'color');
      assert.equal(settings.get(envName('tag-value')), 'orange');
    }
    assert.match(claim.get(envName('claim-timeout')) ?? '', /^[1-9]\d*$/, 'a bootstrap container that never ends would hang the boot silently');
    assert.equal(toml['settings.kubernetes.node-labels']?.['eip-pool'], 'orange');
  });

  test("the image's entry point runs the installed agent, reads the variables of real flags, and names the containers' directories", () => {
    assert.match(entrypoint, new RegExp(`^agent=${PATHS.binary}$`, 'm'));
    assert.match(read('scripts/image/build.sh'), new RegExp(`"\\$rootfs${PATHS.binary}"`));
    const known = new Set(Object.keys(FLAGS).map(envName));
    for (const [name] of entrypoint.matchAll(/EIP_AGENT_[A-Z][A-Z0-9_]*/g)) {
      if (name !== 'EIP_AGENT_') assert.ok(known.has(name), `eip-agent-container names ${name}, which is no flag's variable`);
    }
    assert.match(entrypoint, /\/\.bottlerocket\/bootstrap-containers\/current/);
    assert.match(entrypoint, /\/\.bottlerocket\/host-containers\/current/);
    assert.match(entrypoint, /kind=host-containers command=run$/m);
    // Containers get a fresh, writable /run: the lock file (and the control socket) live there.
    assert.match(FLAGS['lock-file'].default, /^\/run\//);
  });

  test('the bootstrap container runs `claim`, with settings `claim` takes', () => {
    assert.match(entrypoint, /kind=bootstrap-containers command=claim$/m);
    checkSettings(decode(bootstrap?.['user-data']), 'bootstrap user-data', 'claim');
  });
});

describe('systemd units named by the examples', () => {
  test('install writes the unit and the kubelet drop-in that systemd/ holds', () => {
    assert.ok(existsSync(`systemd/${basename(PATHS.service)}`), PATHS.service);
    assert.ok(existsSync(`systemd/${PATHS.dropIn.split('/').slice(-2).join('/')}`), PATHS.dropIn);
    // The README's Karpenter and Bottlerocket sections talk about these units by name.
    for (const unit of [basename(PATHS.service), 'kubelet.service']) assert.ok(read('README.md').includes(unit), unit);
  });
});
