// `eip-agent doctor`: the verdict of each check from what was observed, as data. Pure: the
// observations are made by lifecycle/doctor.ts; here only what they mean and what to do.
import { decodeCommand } from '../shared/errors.js';
import type { AddressView, MetadataOptions, PoolSelector, Target } from '../shared/ports.js';
import { describePool, inPool, isFree, isOn, rank } from './pool.js';
import { emptyPoolHint } from './pool-report.js';

/** skip: the check cannot apply where it runs (not a failure). */
export type Level = 'pass' | 'warn' | 'fail' | 'skip';

export interface Check {
  name: string;
  level: Level;
  detail: string;
  /** what to do, for a warning or a failure */
  fix?: string;
}

const pass = (name: string, detail: string): Check => ({ name, level: 'pass', detail });
const warn = (name: string, detail: string, fix: string): Check => ({ name, level: 'warn', detail, fix });
const fail = (name: string, detail: string, fix: string): Check => ({ name, level: 'fail', detail, fix });
const skip = (name: string, detail: string): Check => ({ name, level: 'skip', detail });

// --- IMDS -----------------------------------------------------------------------------

export function imdsCheck(seen: { target: Target; availabilityZone: string; region: string } | { error: string }, endpoint: string): Check {
  if ('error' in seen) {
    return fail('imds', seen.error, `on EC2: the instance's metadata endpoint must be enabled with IMDSv2 (aws ec2 modify-instance-metadata-options --http-endpoint enabled); off EC2: set AWS_EC2_METADATA_SERVICE_ENDPOINT (now ${endpoint})`);
  }
  const t = seen.target;
  return pass('imds', `IMDSv2 token and identity: ${t.instanceId} in ${seen.availabilityZone}, interface ${t.networkInterfaceId}, private IP ${t.privateIp}`);
}

/** DescribeInstances' view of the instance's IMDS settings. */
export function hopLimitCheck(seen: MetadataOptions | undefined | { error: string }): Check {
  const name = 'imds-settings';
  if (seen === undefined) return skip(name, 'DescribeInstances does not show this instance yet');
  if ('error' in seen) return warn(name, `could not read the IMDS settings: ${seen.error}`, 'allow ec2:DescribeInstances (scripts/iam-policy.json has it)');
  const problems: string[] = [];
  if (seen.httpTokens !== undefined && seen.httpTokens !== 'required') problems.push(`HttpTokens=${seen.httpTokens}: IMDSv1 answers without a token`);
  if ((seen.hopLimit ?? 1) > 1) {
    problems.push(`HttpPutResponseHopLimit=${seen.hopLimit}: pods in their own network namespace reach IMDS and can borrow the node role, which may move pool addresses`);
  }
  const detail = `HttpTokens=${seen.httpTokens ?? '?'}, HttpPutResponseHopLimit=${seen.hopLimit ?? '?'}`;
  if (problems.length) return warn(name, problems.join('; '), 'set HttpTokens=required and HttpPutResponseHopLimit=1 in the launch template (MetadataOptions); the agent runs on the host and needs no more');
  return pass(name, detail);
}

// --- credentials ----------------------------------------------------------------------

export type CredentialSource = 'environment' | 'shared-files' | 'web-identity' | 'container' | 'imds-disabled' | 'instance-profile';

export interface CredentialFacts {
  env: Readonly<Record<string, string | undefined>>;
  /** shared config/credentials files that exist (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, ~/.aws/…) */
  sharedFiles: readonly string[];
}

/** Where the SDK's default chain takes credentials from, in its own order (environment, files, web identity, container, IMDS). */
export function credentialSource(facts: CredentialFacts): { source: CredentialSource; detail: string } {
  const set = (name: string) => Boolean(facts.env[name]);
  if (set('AWS_ACCESS_KEY_ID') && set('AWS_SECRET_ACCESS_KEY')) return { source: 'environment', detail: 'the environment (AWS_ACCESS_KEY_ID)' };
  if (set('AWS_PROFILE') || facts.sharedFiles.length > 0) {
    const where = set('AWS_PROFILE') ? `profile ${facts.env['AWS_PROFILE']}` : facts.sharedFiles.join(', ');
    return { source: 'shared-files', detail: `shared config files (${where}), which the SDK reads before the instance profile` };
  }
  if (set('AWS_WEB_IDENTITY_TOKEN_FILE') && set('AWS_ROLE_ARN')) return { source: 'web-identity', detail: `a web identity (IRSA: AWS_ROLE_ARN=${facts.env['AWS_ROLE_ARN']})` };
  if (set('AWS_CONTAINER_CREDENTIALS_FULL_URI') || set('AWS_CONTAINER_CREDENTIALS_RELATIVE_URI')) {
    return { source: 'container', detail: 'a container credential endpoint (EKS Pod Identity or ECS: AWS_CONTAINER_CREDENTIALS_*)' };
  }
  const disabled = facts.env['AWS_EC2_METADATA_DISABLED'];
  if (disabled && disabled !== 'false') return { source: 'imds-disabled', detail: 'nowhere: AWS_EC2_METADATA_DISABLED turns the instance profile off' };
  return { source: 'instance-profile', detail: "the instance profile (the node role, through IMDS)" };
}

export function credentialsCheck(source: { source: CredentialSource; detail: string }, resolved: { ok: true } | { error: string }): Check {
  const name = 'credentials';
  if ('error' in resolved) {
    return fail(name, `no credentials from ${source.detail}: ${resolved.error}`, 'attach an instance profile whose role carries scripts/iam-policy.json to the launch template');
  }
  if (source.source === 'instance-profile') return pass(name, `from ${source.detail}`);
  return warn(
    name,
    `from ${source.detail}, not the instance role: only credentials EC2 delivers to this instance carry ec2:SourceInstanceARN and aws:Ec2InstanceSourceVpc, and the shipped policy's conditions (scripts/iam-policy.json) deny AssociateAddress without them`,
    'run the agent on the host with the instance profile: unset AWS_ACCESS_KEY_ID/AWS_PROFILE/AWS_ROLE_ARN/AWS_CONTAINER_CREDENTIALS_* for it, or grant these credentials a policy of their own (and lose the node-scoped conditions)',
  );
}

// --- region ---------------------------------------------------------------------------

/** `configured`: --region or AWS_REGION (with the input it came from); `imds`: the instance's region. */
export function regionCheck(configured: { region: string; input: string } | undefined, imds: string | undefined): Check {
  const name = 'region';
  if (imds === undefined) return configured ? warn(name, `${configured.region} from ${configured.input}; IMDS did not say which region this is`, 'run the doctor on the node itself') : skip(name, 'no region from IMDS');
  if (!configured) return pass(name, `${imds} (from IMDS)`);
  if (configured.region !== imds) {
    return fail(name, `${configured.input} says ${configured.region} but this instance is in ${imds}: an Elastic IP is associated only within its own region`, `drop ${configured.input}, or set it to ${imds}`);
  }
  return pass(name, `${imds} (${configured.input} agrees with IMDS)`);
}

// --- pool -----------------------------------------------------------------------------

/** `carrying`: a `tag-key` listing — every address carrying the key, whatever its value. */
export function poolCheck(pool: PoolSelector, carrying: readonly AddressView[], target: Target | undefined): Check {
  const name = 'pool';
  const label = describePool(pool);
  const members = carrying.filter((a) => inPool(a, pool));
  if (members.length === 0) {
    return fail(name, `pool ${label} is empty: ${emptyPoolHint(pool, carrying)}`, `tag the pool's Elastic IPs ${pool.tagKey}=${pool.tagValue ?? '<any value>'} (aws ec2 create-tags), or fix --tag-key/--tag-value`);
  }
  const free = members.filter(isFree).length;
  const held = target && members.find((a) => isOn(a, target));
  const counts = `pool ${label}: ${members.length} address${members.length === 1 ? '' : 'es'}, ${free} free`;
  if (held) return pass(name, `${counts}; this node holds ${held.publicIp} (${held.allocationId})`);
  if (free === 0) return warn(name, `${counts}: this node would wait for one to be released`, `allocate and tag more addresses (${pool.tagKey}=${pool.tagValue ?? '…'}), or see who holds them: eip-agent pool`);
  return pass(name, counts);
}

/**
 * The pool address a DryRun AssociateAddress is tried with: the first this node would try
 * (a free one); else any pool address — DryRun only asks IAM, which does not look at
 * whether the address is associated.
 */
export function dryRunCandidate(pool: PoolSelector, carrying: readonly AddressView[], target: Target): AddressView | undefined {
  const members = carrying.filter((a) => inPool(a, pool));
  return rank(target.instanceId, members.filter(isFree))[0] ?? members[0];
}

// --- IAM by DryRun --------------------------------------------------------------------

export type DryRunOutcome =
  /** DryRunOperation: "Request would have succeeded" */
  | { allowed: true }
  /** UnauthorizedOperation (with EC2's encoded message, when it gave one) or another auth code */
  | { allowed: false; code: string; message: string; encoded?: string }
  /** anything else: no answer, a refusal that says nothing about IAM */
  | { error: string };


export function dryRunCheck(name: string, what: string, outcome: DryRunOutcome): Check {
  if ('error' in outcome) return fail(name, `${what}: ${outcome.error}`, 'see the error; run the doctor again once EC2 answers');
  if (outcome.allowed) return pass(name, `${what}: DryRun says it would succeed (DryRunOperation)`);
  const decode = outcome.encoded ? `; to see which statement refused it: ${decodeCommand(outcome.encoded)}` : '';
  return fail(
    name,
    `${what}: ${outcome.code}: the node role may not do this`,
    `attach scripts/iam-policy.json (with your tag key and value) to the node role, and run the agent with the instance profile${decode}`,
  );
}

// --- clock ----------------------------------------------------------------------------

/** SigV4: EC2 refuses requests signed more than 5 minutes away from its clock. */
const SIGV4_SKEW_MS = 5 * 60_000;
const WARN_SKEW_MS = 60_000;

/** `skewMs`: EC2's Date header minus this host's clock at the middle of the request; `uncertaintyMs`: half the round trip plus half the header's 1 s resolution. */
export function clockCheck(seen: { skewMs: number; uncertaintyMs: number } | undefined): Check {
  const name = 'clock';
  if (!seen) return skip(name, "EC2's answer carried no Date header");
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const side = seen.skewMs > 0 ? 'behind' : 'ahead of';
  const detail = `this host's clock is ${seconds(Math.abs(seen.skewMs))} ${side} EC2's (±${seconds(seen.uncertaintyMs)})`;
  const fix = 'fix time sync: chronyd with the Amazon Time Sync Service (169.254.169.123, AL2023 default); `chronyc tracking` shows the offset';
  const least = Math.abs(seen.skewMs) - seen.uncertaintyMs;
  if (least > SIGV4_SKEW_MS) return fail(name, `${detail}: EC2 refuses SigV4 requests signed more than 5 minutes away (RequestExpired/SignatureDoesNotMatch)`, fix);
  if (least > WARN_SKEW_MS) return warn(name, `${detail}: tokens (aws eks get-token) and SigV4 fail past 5 minutes`, fix);
  return pass(name, detail);
}

// --- Kubernetes -----------------------------------------------------------------------

export type Access = { allowed: true } | { allowed: false; reason: string } | { error: string };

export function kubeconfigCheck(path: string, seen: { server: string } | 'missing' | { error: string }): Check {
  const name = 'kubeconfig';
  if (seen === 'missing') return warn(name, `no kubeconfig at ${path} yet (kubelet writes it when it joins): the agent would skip the drain wait and the Node label`, `run the doctor again after the node joined, or pass --kubeconfig`);
  if ('error' in seen) return fail(name, `${path}: ${seen.error}`, "run the doctor as root, as the agent runs (the kubelet's kubeconfig is root's); else fix the kubeconfig: the agent refuses to start with this one");
  return pass(name, `${path} → ${seen.server}`);
}

export function apiServerCheck(seen: { username: string } | { error: string }): Check {
  if ('error' in seen) return fail('kube-api', `the API server does not answer: ${seen.error}`, "check the kubeconfig's server and credentials (on EKS: `aws eks get-token` works on this node)");
  return pass('kube-api', `the API server answers; this node's credentials are ${seen.username}`);
}

/** One permission the agent needs, as a SelfSubjectAccessReview (or a dryRun=All write) answered it. */
export function accessCheck(name: string, what: string, seen: Access, needed: 'required' | 'optional', fix: string): Check {
  if ('error' in seen) return fail(name, `${what}: could not ask: ${seen.error}`, fix);
  if (seen.allowed) return pass(name, `${what}: allowed`);
  const detail = `${what}: not allowed${seen.reason ? ` (${seen.reason})` : ''}`;
  return needed === 'required' ? fail(name, detail, fix) : warn(name, detail, fix);
}

// --- systemd --------------------------------------------------------------------------

export interface SystemdFacts {
  /** /run/systemd/system exists: systemd is the init system */
  underSystemd: boolean;
  unitFile: boolean;
  dropIn: boolean;
  /** `systemctl is-enabled eip-agent.service`; undefined when not asked (another root) */
  enabled?: string;
  /** the daemon's /readyz: undefined when no daemon answers */
  readiness?: { ready: boolean; phase: string; reason: string | null };
}

export function systemdChecks(f: SystemdFacts): Check[] {
  if (!f.underSystemd) return [skip('systemd', 'not under systemd: the unit, the kubelet gate and the daemon are not checked')];
  const checks: Check[] = [];
  if (!f.unitFile) {
    checks.push(warn('systemd-unit', 'eip-agent.service is not installed', 'eip-agent install --tag-key … (or your image/user_data installs it)'));
  } else if (f.enabled !== undefined && f.enabled !== 'enabled') {
    checks.push(fail('systemd-unit', `eip-agent.service is installed but ${f.enabled}: it will not start at boot`, 'systemctl enable eip-agent.service'));
  } else {
    checks.push(pass('systemd-unit', `eip-agent.service installed${f.enabled ? ' and enabled' : ''}`));
  }
  if (!f.dropIn) {
    const level = f.unitFile ? fail : warn;
    checks.push(level('kubelet-gate', 'the kubelet drop-in (10-eip-agent.conf) is missing: kubelet starts without waiting for the address', 'eip-agent install writes it'));
  } else {
    checks.push(pass('kubelet-gate', 'kubelet waits on `eip-agent wait` (10-eip-agent.conf)'));
  }
  if (f.unitFile) {
    const r = f.readiness;
    if (!r) checks.push(warn('daemon', 'no eip-agent daemon answers on --health-listen', 'systemctl status eip-agent; journalctl -u eip-agent'));
    else if (r.ready) checks.push(pass('daemon', 'the daemon is ready: the address is live'));
    else checks.push(warn('daemon', `the daemon is ${r.phase}${r.reason ? `: ${r.reason}` : ''}`, 'eip-agent status --format text; journalctl -u eip-agent'));
  }
  return checks;
}

// --- the whole ------------------------------------------------------------------------

export interface DoctorReport {
  ok: boolean;
  checks: (Check & { ok: boolean })[];
}

export function report(checks: readonly Check[]): DoctorReport {
  const all = checks.map((c) => ({ name: c.name, ok: c.level !== 'fail', level: c.level, detail: c.detail, ...(c.fix ? { fix: c.fix } : {}) }));
  return { ok: all.every((c) => c.ok), checks: all };
}

/** 0 when nothing failed (warnings allowed), 1 when a check failed. */
export function exitCode(r: DoctorReport): number {
  return r.ok ? 0 : 1;
}

const MARK: Record<Level, string> = { pass: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

export function reportText(r: DoctorReport): string {
  const width = Math.max(...r.checks.map((c) => c.name.length));
  const lines = r.checks.map((c) => `${MARK[c.level]} ${c.name.padEnd(width)}  ${c.detail}${c.fix ? `\n     ${' '.repeat(width)}  → ${c.fix}` : ''}`);
  const failed = r.checks.filter((c) => c.level === 'fail').length;
  const warned = r.checks.filter((c) => c.level === 'warn').length;
  lines.push(failed ? `${failed} check${failed === 1 ? '' : 's'} failed, ${warned} warning${warned === 1 ? '' : 's'}` : `nothing failed${warned ? ` (${warned} warning${warned === 1 ? '' : 's'})` : ''}`);
  return `${lines.join('\n')}\n`;
}
