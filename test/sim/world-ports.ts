// The agent's ports straight over the simulated World, for the in-process tier: no HTTP,
// and every wait on the test's (fake) clock, so that a claim or a release with latency,
// throttling, lost races, lost answers and stale reads runs in milliseconds and the same
// way for the same seed. Errors are typed as the adapters type EC2's answers
// (adapters/ec2-errors.ts); the HTTP tier (test/e2e, test/adapters) covers the adapters.
import { serviceKind } from '../../agent/adapters/ec2-errors.js';
import { inPool } from '../../agent/core/pool.js';
import { AgentError, kindOfStatus, type ErrorKind } from '../../agent/shared/errors.js';
import type { AddressView, Ec2CallRecord, Ec2Port, Identity, ImdsPort, Notices } from '../../agent/shared/ports.js';
import type { Timing } from '../../agent/shared/time.js';
import { statusOf, unauthorizedMessage, type Faults as HttpFaults } from './ec2-faults.js';
import { EC2_BUCKETS, TokenBucket, type BucketSize } from './throttle.js';
import { SimError, type Address, type World } from './world.js';

export interface InProcessFaults {
  /** [min, max] ms each call takes, uniform */
  latencyMs: [number, number];
  /** EC2's buckets, shared by the whole account: true for the published sizes, or these */
  throttle: boolean | { read: BucketSize; write: BucketSize };
  /** per-call probability of each EC2 error, before the action applies (as the HTTP simulator's) */
  errorRate: Pick<HttpFaults['errorRate'], 'RequestLimitExceeded' | 'InternalError'>;
  /** DescribeAddresses answers from the state this many ms ago */
  staleReadMs: number;
  /** the next this-many AssociateAddress calls on a free address lose to a foreign one */
  raceNext: number;
}

export interface InProcessCall {
  at: number;
  action: string;
  caller: string;
  /** `ok`, the EC2 code answered, or `lost-answer` (applied, answer lost) */
  outcome: string;
  /** AssociateAddress only: what the agent sent (G1: always false) */
  allowReassociation?: boolean;
  /** AssociateAddress only: the address asked for */
  allocationId?: string;
}

type Scripted = { before: 'throttled' | 'transient' | 'malformed' } | { after: 'transient' | 'malformed' };

/** Typed as the EC2 adapter types the same code over HTTP (adapters/ec2-errors.ts), with EC2's status for it. */
function typed(action: string, code: string, message = code): AgentError {
  if (code === 'malformed') return new AgentError('malformed', 'ec2.malformed', `EC2 ${action}: ${code}: ${message}`);
  if (code === 'network') return new AgentError('transient', 'ec2.network', `EC2 ${action}: no answer (ECONNRESET): ${message}`);
  const status = statusOf(code);
  return new AgentError(serviceKind(code, status, status >= 500 ? 'server' : 'client'), code, `EC2 ${action}: ${code} (HTTP ${status}): ${message}`);
}

function view(a: Address): AddressView {
  const association = a.association;
  return {
    allocationId: a.allocationId,
    publicIp: a.publicIp,
    ...(association
      ? {
          associationId: association.associationId,
          networkInterfaceId: association.networkInterfaceId,
          privateIp: association.privateIp,
          ...(association.instanceId ? { instanceId: association.instanceId } : {}),
        }
      : {}),
    tags: { ...a.tags },
  };
}

/** One account's EC2, in process: ports for each instance, shared buckets, one call log. */
export class InProcessEc2 {
  readonly calls: InProcessCall[] = [];
  readonly faults: InProcessFaults;
  private readonly scripts = new Map<string, Scripted[]>();
  /** action → the answer every call of it gets (an EC2 code, `network` or `malformed`) */
  private readonly served = new Map<string, string>();
  private readonly buckets;

  constructor(
    readonly world: World,
    private readonly time: Timing,
    faults: Partial<InProcessFaults> = {},
  ) {
    this.faults = { latencyMs: [0, 0], throttle: false, errorRate: {}, staleReadMs: 0, raceNext: 0, ...faults };
    const now = time.clock.now();
    const sizes = typeof this.faults.throttle === 'object' ? this.faults.throttle : EC2_BUCKETS;
    this.buckets = {
      read: new TokenBucket(sizes.read, now),
      write: new TokenBucket(sizes.write, now),
    };
  }

  /** Every call of `action` from now on is answered `code` (an EC2 code, `network`, `malformed`), the world unchanged. */
  serve(action: string, code: string): void {
    this.served.set(action, code);
  }

  /** The next call of `action` meets this fault: before the world changes, or after (answer lost). */
  script(action: string, fault: Scripted): void {
    this.scripts.set(action, [...(this.scripts.get(action) ?? []), fault]);
  }

  count(query: Partial<Pick<InProcessCall, 'action' | 'caller' | 'outcome'>> = {}): number {
    return this.calls.filter((c) => Object.entries(query).every(([k, v]) => c[k as keyof InProcessCall] === v)).length;
  }

  portFor(caller: string, onCall?: (record: Ec2CallRecord) => void): Ec2Port {
    const call = async <T>(action: string, mutating: boolean, apply: () => T, extra: Partial<InProcessCall> = {}): Promise<T> => {
      const [min, max] = this.faults.latencyMs;
      await this.time.sleep(min + this.time.random() * (max - min));
      const at = this.time.clock.now();
      const record = (outcome: string, kind?: ErrorKind) => {
        this.calls.push({ at, action, caller, outcome, ...extra });
        onCall?.({ action, outcome, ...(kind ? { kind } : {}) });
      };
      const fail = (code: string, message?: string): never => {
        const error = typed(action, code, message);
        record(code, error.kind);
        throw error;
      };
      const served = this.served.get(action);
      if (served !== undefined) fail(served, served === 'UnauthorizedOperation' ? unauthorizedMessage(action, caller) : `Served ${served}`);
      const scripted = this.scripts.get(action)?.shift();
      if (scripted && 'before' in scripted) fail(scripted.before === 'throttled' ? 'RequestLimitExceeded' : scripted.before === 'transient' ? 'InternalError' : 'malformed');
      if (this.faults.throttle !== false && !(mutating ? this.buckets.write : this.buckets.read).take(at)) fail('RequestLimitExceeded');
      if (this.time.random() < (this.faults.errorRate.RequestLimitExceeded ?? 0)) fail('RequestLimitExceeded');
      if (this.time.random() < (this.faults.errorRate.InternalError ?? 0)) fail('InternalError');
      let result: T;
      try {
        result = apply();
      } catch (error) {
        if (error instanceof SimError) fail(error.code, error.message);
        throw error;
      }
      if (scripted && 'after' in scripted) {
        record('lost-answer', scripted.after);
        throw typed(action, scripted.after === 'transient' ? 'InternalError' : 'malformed', 'the answer was lost after the action applied');
      }
      record('ok');
      return result;
    };
    const world = this.world;
    const read = (): readonly Address[] => (this.faults.staleReadMs > 0 ? world.snapshotAt(this.time.clock.now() - this.faults.staleReadMs) : [...world.addresses.values()]);
    return {
      listPool: (pool) => call('DescribeAddresses', false, () => read().map(view).filter((a) => inPool(a, pool))),
      describeAllocation: (id) => call('DescribeAddresses', false, () => read().filter((a) => a.allocationId === id).map(view)[0]),
      describePublicIp: (ip) => call('DescribeAddresses', false, () => read().filter((a) => a.publicIp === ip).map(view)[0]),
      associate: (request) =>
        call(
          'AssociateAddress',
          true,
          () => {
            const target = world.addresses.get(request.allocationId);
            if (target && !target.association && this.faults.raceNext > 0) {
              this.faults.raceNext -= 1;
              world.associateForeign(target.allocationId);
            }
            // G1: what the agent's adapter always sends.
            return world.associate({ ...request, allowReassociation: false }).associationId;
          },
          { allowReassociation: false, allocationId: request.allocationId },
        ),
      // Idempotent as the API reference says: an association that existed and is gone answers ok.
      disassociate: (associationId) => call('DisassociateAddress', true, () => void world.disassociate(associationId)),
      metadataOptions: (instanceId) =>
        call('DescribeInstances', false, () => {
          const instance = world.instances.get(instanceId);
          return instance && { httpTokens: instance.metadataOptions.httpTokens, hopLimit: instance.metadataOptions.httpPutResponseHopLimit };
        }),
    };
  }
}

/** An IMDS answer served persistently: an HTTP status, or `network` (no answer). */
export type ImdsFault = { status: number } | 'network';

/** IMDS of one instance, in process: identity, the public IPs with the world's IMDS lag, notices. */
export function inProcessImds(world: World, instanceId: string, time: Timing, fault?: () => ImdsFault | undefined): ImdsPort {
  const instance = () => {
    const found = world.instances.get(instanceId);
    if (!found) throw new AgentError('transient', 'imds.unreachable', `IMDS of ${instanceId}: the instance is gone`);
    return found;
  };
  const local = async <T>(fn: () => T): Promise<T> => {
    await time.sleep(1); // a link-local service: a millisecond
    const f = fault?.();
    // Typed as adapters/imds.ts types them: by the one status map, or no answer.
    if (f === 'network') throw new AgentError('transient', 'imds.unreachable', `IMDS: no answer (ECONNREFUSED)`);
    if (f) throw new AgentError(kindOfStatus(f.status), `imds.${f.status}`, `IMDS: HTTP ${f.status}`);
    return fn();
  };
  return {
    identity: () =>
      local((): Identity => {
        const i = instance();
        return {
          instanceId: i.instanceId,
          region: i.region,
          availabilityZone: i.availabilityZone,
          localHostname: i.hostname,
          interfaces: i.enis.map((e) => ({ mac: e.mac, deviceIndex: e.deviceIndex, networkInterfaceId: e.networkInterfaceId, privateIps: [...e.privateIps] })),
        };
      }),
    publicIpsOn: (target) =>
      local(() => {
        const eni = instance().enis.find((e) => e.mac === target.mac);
        const ip = eni ? world.imdsPublicIpOf(eni, target.privateIp, time.clock.now()) : undefined;
        return ip ? [ip] : [];
      }),
    isLiveOn: (target, publicIp) =>
      local(() => {
        const eni = instance().enis.find((e) => e.mac === target.mac);
        return eni !== undefined && world.imdsPublicIpOf(eni, target.privateIp, time.clock.now()) === publicIp;
      }),
    notices: () =>
      local((): Notices => {
        const i = instance();
        return {
          ...(i.spotAction ? { spot: { action: i.spotAction.action, time: i.spotAction.time } } : {}),
          ...(i.lifecycleState ? { lifecycle: i.lifecycleState } : {}),
          ...(i.rebalanceNoticeTime ? { rebalance: i.rebalanceNoticeTime } : {}),
        };
      }),
  };
}
