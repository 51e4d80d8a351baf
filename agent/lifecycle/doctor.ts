// `eip-agent doctor`: asks IMDS, EC2 (Describe* and DryRun only), the API server (reviews
// and dryRun=All only) and the host what the claim will need, and hands each observation to
// core/doctor.ts for its verdict. Changes nothing. Every question is asked once (reads
// through the one retry layer, a few attempts): a doctor answers in seconds.
import {
  accessCheck,
  apiServerCheck,
  clockCheck,
  credentialsCheck,
  dryRunCandidate,
  dryRunCheck,
  hopLimitCheck,
  imdsCheck,
  kubeconfigCheck,
  poolCheck,
  regionCheck,
  systemdChecks,
  type Access,
  type Check,
  type CredentialSource,
  type SystemdFacts,
} from '../core/doctor.js';
import { inPool, isOn } from '../core/pool.js';
import type { Ec2Probe, KubeProbe } from '../shared/doctor-ports.js';
import { errorMessage, isAgentError } from '../shared/errors.js';
import { EC2_READ_RETRY } from '../shared/pacing.js';
import type { AddressView, ImdsPort, PoolSelector } from '../shared/ports.js';
import { retrying } from '../shared/retry.js';
import type { Timing } from '../shared/time.js';
import { NODE_LABEL } from './cluster.js';
import { identify, type Me } from './identify.js';

export interface DoctorSettings {
  pool: PoolSelector;
  deviceIndex: number;
  privateIp: string | undefined;
  /** --region or AWS_REGION, with the input it came from */
  region: { region: string; input: string } | undefined;
  nodeName: string | undefined;
  kubeconfig: string;
  imdsEndpoint: string;
}

export interface DoctorDeps {
  settings: DoctorSettings;
  timing: Timing;
  imds: ImdsPort;
  ec2For(region: string): Ec2Probe;
  /** `resolve`: the default chain's credentials, as the agent's EC2 client would get them */
  credentials: { source: { source: CredentialSource; detail: string }; resolve(region: string | undefined): Promise<void> };
  /** the kubeconfig's probe; 'missing' when there is no file */
  kube(): Promise<{ probe: KubeProbe; server: string } | 'missing'>;
  systemd(): Promise<SystemdFacts>;
}

// IMDS is local: a doctor does not wait for a busy boot as the daemon does.
const IDENTITY_BUDGET_MS = 5_000;
const READS = { ...EC2_READ_RETRY, attempts: 3, budgetMs: 10_000 };

/** The value or the message of a typed failure; a bug (not an AgentError) is thrown on. */
async function settle<T>(fn: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await fn();
  } catch (error) {
    if (!isAgentError(error)) throw error;
    return { error: errorMessage(error) };
  }
}

const failed = (value: unknown): value is { error: string } => typeof value === 'object' && value !== null && 'error' in value;

export async function runDoctor(deps: DoctorDeps, signal: AbortSignal): Promise<Check[]> {
  const { settings, timing } = deps;
  const checks: Check[] = [];

  // IMDS: the token, the identity, and this node's target (flags checked against it).
  const me = await settle<Me>(() =>
    identify(deps.imds, timing, { deviceIndex: settings.deviceIndex, privateIp: settings.privateIp, region: undefined, nodeName: settings.nodeName, imdsEndpoint: settings.imdsEndpoint }, signal, IDENTITY_BUDGET_MS),
  );
  const node = failed(me) ? undefined : me;
  checks.push(imdsCheck(node ?? (me as { error: string }), settings.imdsEndpoint));

  const region = settings.region?.region ?? node?.region;
  const resolved = await settle(() => deps.credentials.resolve(region));
  checks.push(credentialsCheck(deps.credentials.source, failed(resolved) ? resolved : { ok: true }));

  checks.push(regionCheck(settings.region, node?.region));
  const ec2 = region ? await ec2Checks(deps, deps.ec2For(region), node, signal) : { checks: [{ name: 'pool', level: 'skip', detail: 'no region: pass --region (or AWS_REGION) off EC2' } satisfies Check] };
  checks.push(...ec2.checks);

  // Without a pool address to try, the dry-run label carries a documentation address (RFC 5737).
  checks.push(...(await kubeChecks(deps, node?.nodeName ?? settings.nodeName, ec2.labelIp ?? '192.0.2.1')));
  checks.push(...systemdChecks(await deps.systemd()));
  return checks;
}

/** `labelIp`: the address the dry-run association tried, for the dry-run label. */
async function ec2Checks(deps: DoctorDeps, ec2: Ec2Probe, me: Me | undefined, signal: AbortSignal): Promise<{ checks: Check[]; labelIp?: string }> {
  const { pool } = deps.settings;
  const read = <T>(fn: () => Promise<T>) => settle(() => retrying(fn, { policy: READS, timing: deps.timing, signal }));
  const checks: Check[] = [];
  if (me) checks.push(hopLimitCheck(await read(() => ec2.metadataOptions(me.target.instanceId))));

  const listing = await read(() => ec2.listCarrying(pool.tagKey));
  if (failed(listing)) {
    checks.push({ name: 'pool', level: 'fail', detail: `DescribeAddresses: ${listing.error}`, fix: 'the node role needs ec2:DescribeAddresses (scripts/iam-policy.json); check the region and the endpoint' });
    return { checks };
  }
  checks.push(poolCheck(pool, listing.addresses, me?.target));
  checks.push(clockCheck(listing.clock));
  if (!me) {
    checks.push({ name: 'iam-associate', level: 'skip', detail: 'no identity from IMDS: no interface to try the association on' });
    return { checks };
  }
  checks.push(...(await dryRuns(ec2, pool, listing.addresses, me)));
  const held = listing.addresses.find((a) => inPool(a, pool) && isOn(a, me.target));
  const tried = held ?? dryRunCandidate(pool, listing.addresses, me.target);
  return { checks, ...(tried ? { labelIp: tried.publicIp } : {}) };
}

async function dryRuns(ec2: Ec2Probe, pool: PoolSelector, carrying: readonly AddressView[], me: Me): Promise<Check[]> {
  const { target } = me;
  const checks: Check[] = [];
  const candidate = dryRunCandidate(pool, carrying, target);
  if (!candidate) {
    checks.push({ name: 'iam-associate', level: 'skip', detail: 'the pool is empty: no address to try' });
  } else {
    const what = `AssociateAddress ${candidate.publicIp} (${candidate.allocationId}) → ${target.networkInterfaceId} ${target.privateIp}, AllowReassociation=false`;
    checks.push(dryRunCheck('iam-associate', what, await settle(() => ec2.dryRunAssociate({ allocationId: candidate.allocationId, networkInterfaceId: target.networkInterfaceId, privateIp: target.privateIp }))));
  }
  const held = carrying.find((a) => inPool(a, pool) && isOn(a, target));
  if (held?.associationId) {
    const what = `DisassociateAddress ${held.associationId} (${held.publicIp}, held by this node)`;
    checks.push(dryRunCheck('iam-disassociate', what, await settle(() => ec2.dryRunDisassociate(held.associationId!))));
  }
  return checks;
}

async function kubeChecks(deps: DoctorDeps, nodeName: string | undefined, labelIp: string): Promise<Check[]> {
  const path = deps.settings.kubeconfig;
  const loaded = await settle(() => deps.kube());
  if (loaded === 'missing' || failed(loaded)) return [kubeconfigCheck(path, loaded)];
  const { probe, server } = loaded;
  try {
    const checks: Check[] = [kubeconfigCheck(path, { server })];
    const who = await settle(() => probe.whoAmI());
    checks.push(apiServerCheck(failed(who) ? who : { username: who }));
    if (failed(who)) return checks;
    if (!nodeName) return [...checks, { name: 'kube-node', level: 'skip', detail: 'no node name (IMDS did not answer): pass --node-name' }];
    const ask = async (q: Parameters<KubeProbe['canI']>[0]): Promise<Access> => {
      const answer = await settle(() => probe.canI(q));
      return failed(answer) ? answer : answer.allowed ? { allowed: true } : { allowed: false, reason: answer.reason };
    };
    checks.push(accessCheck('kube-node-read', `get node ${nodeName}`, await ask({ verb: 'get', group: '', resource: 'nodes', name: nodeName }), 'required', 'on EKS the kubelet credentials read their own Node (Node authorizer); check --node-name against `kubectl get nodes`'));
    checks.push(await labelCheck(probe, nodeName, labelIp, ask));
    const pods = await ask({ verb: 'list', group: '', resource: 'pods', fieldSelector: `spec.nodeName=${nodeName}` });
    checks.push(accessCheck('kube-pods-list', `list pods with spec.nodeName=${nodeName}`, pods, 'required', 'the drain wait lists the pods bound to this node; without it the release waits out --drain-timeout'));
    const events = await ask({ verb: 'create', group: '', resource: 'events', namespace: 'default' });
    checks.push(accessCheck('kube-events', 'create events in namespace default', events, 'optional', 'Events are optional (they never block the claim or the release)'));
    return checks;
  } finally {
    await probe.close();
  }
}

/**
 * The label the agent sets, tried with dryRun=All: authorization and NodeRestriction
 * judge it, nothing is stored. Before kubelet registers the Node there is nothing to
 * patch: the access review answers instead.
 */
async function labelCheck(probe: KubeProbe, nodeName: string, ip: string, ask: (q: Parameters<KubeProbe['canI']>[0]) => Promise<Access>): Promise<Check> {
  const name = 'kube-node-label';
  const fix = `the agent labels its own Node (${NODE_LABEL}) with the kubelet's credentials; NodeRestriction allows labels outside kubernetes.io and k8s.io`;
  try {
    await probe.dryRunLabel(nodeName, { [NODE_LABEL]: ip });
    return { name, level: 'pass', detail: `label node ${nodeName} ${NODE_LABEL}: admitted (dryRun=All, nothing stored)` };
  } catch (error) {
    if (!isAgentError(error)) throw error;
    if (error.kind !== 'not-found') return accessCheck(name, `label node ${nodeName} ${NODE_LABEL} (dryRun=All)`, { allowed: false, reason: errorMessage(error) }, 'required', fix);
  }
  const review = await ask({ verb: 'patch', group: '', resource: 'nodes', name: nodeName });
  const check = accessCheck(name, `patch node ${nodeName} (not registered yet: asked by review)`, review, 'required', fix);
  return check.level === 'pass' ? { ...check, level: 'warn', fix: 'kubelet has not registered the Node yet; run the doctor again after it joins to try the label itself' } : check;
}
