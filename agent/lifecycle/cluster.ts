// What the cluster sees (SPEC §4a): while this node holds its address live, its Node
// carries the public IP as a label (what IP-bound workloads select on) and the allocation,
// association and pool as annotations; and Kubernetes Events say what an operator needs to
// know. Both go through the kubelet's own credentials. Nothing here ever blocks the claim
// or the release: an API server that does not answer costs a warning, and a try later.
import type { Claimed } from '../core/claim-decision.js';
import { mayRecord, type Sent } from '../core/event-limit.js';
import type { Fact } from '../core/status.js';
import { errorMessage, isAgentError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { KubePort, NodeEvent, NodeMetadataPatch, NodeView } from '../shared/ports.js';
import type { Timing } from '../shared/time.js';

/** Keys under the project's own domain: NodeRestriction lets a node set them on itself. */
export const NODE_LABEL = 'eip-agent.io/public-ip';
export const NODE_ANNOTATIONS = {
  allocationId: 'eip-agent.io/allocation-id',
  associationId: 'eip-agent.io/association-id',
  pool: 'eip-agent.io/pool',
} as const;

export interface Cluster {
  /** follows the facts the lifecycle reports: the label while the address is live, events */
  observe(fact: Fact): void;
  event(event: NodeEvent): void;
  /** takes the label off now (the release, before the disassociation); bounded by `signal` */
  withdraw(signal: AbortSignal): Promise<void>;
  /** the background loop that applies the label and sends the events */
  run(signal: AbortSignal): Promise<void>;
  /** sends the events queued so far now (the daemon ends); bounded by `signal` */
  flush(signal: AbortSignal): Promise<void>;
}

export const noCluster: Cluster = { observe: () => {}, event: () => {}, withdraw: async () => {}, run: async () => {}, flush: async () => {} };

export interface ClusterDeps {
  kube: KubePort;
  nodeName: string;
  /** the pool's name, e.g. color=orange */
  pool: string;
  log: Logger;
  timing: Timing;
  /** how often the loop looks while it has something to do (and asks for the Node until kubelet registers it); default 1 s */
  intervalMs?: number;
}

type Desired = Claimed | null;

function patchFor(desired: Desired, pool: string): NodeMetadataPatch {
  if (!desired) {
    return { labels: { [NODE_LABEL]: null }, annotations: { [NODE_ANNOTATIONS.allocationId]: null, [NODE_ANNOTATIONS.associationId]: null, [NODE_ANNOTATIONS.pool]: null } };
  }
  return {
    labels: { [NODE_LABEL]: desired.publicIp },
    annotations: { [NODE_ANNOTATIONS.allocationId]: desired.allocationId, [NODE_ANNOTATIONS.associationId]: desired.associationId, [NODE_ANNOTATIONS.pool]: pool },
  };
}

export function kubeCluster(deps: ClusterDeps): Cluster {
  return new KubeCluster(deps);
}

const same = (a: Desired | undefined, b: Desired) => (a === undefined ? false : a?.associationId === b?.associationId && a?.publicIp === b?.publicIp);

class KubeCluster implements Cluster {
  private node: NodeView | undefined;
  private claimed: Claimed | undefined;
  private desired: Desired = null;
  /** what the Node carries as far as we know: undefined until we have looked */
  private applied: Desired | undefined;
  private readonly queue: NodeEvent[] = [];
  private readonly sent: Sent[] = [];
  private failures = 0;
  /** ends the loop's wait while nothing is left to do */
  private wake: (() => void) | undefined;

  constructor(private readonly deps: ClusterDeps) {}

  observe(fact: Fact): void {
    this.observeFact(fact);
    this.wake?.();
  }

  private observeFact(fact: Fact): void {
    switch (fact.type) {
      case 'claimed':
        this.claimed = fact.claimed;
        break;
      case 'ready':
        this.desired = this.claimed ?? null;
        break;
      case 'back':
        if (this.claimed && this.claimed.associationId !== fact.associationId) {
          // Put back by hand under a new association: adopted (G3); the annotation follows it.
          this.event({ type: 'Normal', reason: 'AddressReadopted', message: `${this.claimed.publicIp} (${this.claimed.allocationId}) is back on this node under ${fact.associationId} (was ${this.claimed.associationId}): adopted, released at the end like any other` });
          this.claimed = { ...this.claimed, associationId: fact.associationId };
        }
        this.desired = this.claimed ?? null;
        break;
      case 'lost':
      case 'releasing':
      case 'released':
        this.desired = null;
        break;
      case 'exhausted':
        this.event({ type: 'Warning', reason: 'PoolExhausted', message: `pool ${this.deps.pool}: 0 of ${fact.size} addresses free; waiting for one` });
        break;
      case 'foreign':
        this.event({ type: 'Warning', reason: 'ForeignElasticIP', message: fact.reason });
        break;
      case 'held-elsewhere':
        this.event({ type: 'Warning', reason: 'PoolAddressHeldElsewhere', message: fact.reason });
        break;
    }
  }

  event(e: NodeEvent): void {
    const now = this.deps.timing.clock.now();
    if (!mayRecord(this.sent, e.reason, now) || this.queue.length >= 10) return;
    this.sent.push({ reason: e.reason, at: now });
    while (this.sent.length > 100) this.sent.shift();
    this.queue.push(e);
    this.wake?.();
  }

  async withdraw(signal: AbortSignal): Promise<void> {
    this.desired = null;
    if (!this.node || same(this.applied, null)) return;
    try {
      await this.apply(signal);
    } catch (error) {
      if (signal.aborted) return;
      this.trouble('unlabel node', error);
    }
  }

  async flush(signal: AbortSignal): Promise<void> {
    if (this.queue.length > 0) await this.step(signal).catch((error: unknown) => (signal.aborted ? undefined : Promise.reject(error)));
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.step(signal).catch((error: unknown) => {
        if (!signal.aborted) throw error;
      });
      // In line with the facts: nothing to ask the API server until a fact or an event comes
      // (an idle agent wakes rarely, issue 22). Otherwise: look again after the interval.
      if (signal.aborted) return;
      if (this.node && same(this.applied, this.desired) && this.queue.length === 0) {
        await new Promise<void>((resolve) => {
          const done = () => {
            signal.removeEventListener('abort', done);
            this.wake = undefined;
            resolve();
          };
          this.wake = done;
          signal.addEventListener('abort', done, { once: true });
        });
        continue;
      }
      try {
        await this.deps.timing.sleep(this.deps.intervalMs ?? 1000, signal);
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
    }
  }

  /** One look: find the Node, bring its label in line, send what events may go. */
  private async step(signal: AbortSignal): Promise<void> {
    const { kube, nodeName, log } = this.deps;
    try {
      if (!this.node) {
        this.node = await kube.getNode(nodeName, signal);
        if (!this.node) return; // kubelet has not registered it yet
        log.info('cluster.node', { nodeName, uid: this.node.uid });
        this.applied = this.node.labels[NODE_LABEL] ? undefined : null;
      }
      if (!same(this.applied, this.desired)) await this.apply(signal);
      while (this.queue.length > 0) {
        await kube.recordEvent(this.node, this.queue[0]!, signal);
        this.queue.shift();
      }
      this.failures = 0;
    } catch (error) {
      this.trouble('talk to the API server', error);
    }
  }

  private async apply(signal: AbortSignal): Promise<void> {
    const { kube, nodeName, log, pool } = this.deps;
    const desired = this.desired;
    this.node = await kube.patchNode(nodeName, patchFor(desired, pool), signal);
    this.applied = desired;
    log.info(desired ? 'cluster.labelled' : 'cluster.unlabelled', { nodeName, label: NODE_LABEL, publicIp: desired?.publicIp });
  }

  private trouble(what: string, error: unknown): void {
    if (!isAgentError(error)) throw error;
    this.failures += 1;
    // An unreachable API server is a warning, once in a while; nothing else waits for it.
    if (this.failures === 1 || this.failures % 60 === 0) this.deps.log.warn('cluster.unreachable', { what, failures: this.failures, error: errorMessage(error) });
  }
}
