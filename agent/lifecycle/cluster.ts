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
  /** how often the loop looks (and asks for the Node until kubelet registers it); default 1 s */
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
  const { kube, nodeName, log, timing } = deps;
  let node: NodeView | undefined;
  let claimed: Claimed | undefined;
  let desired: Desired = null;
  /** what the Node carries as far as we know: undefined until we have looked */
  let applied: Desired | undefined;
  const queue: NodeEvent[] = [];
  const sent: Sent[] = [];
  let failures = 0;
  const same = (a: Desired | undefined, b: Desired) => (a === undefined ? false : a?.associationId === b?.associationId && a?.publicIp === b?.publicIp);

  const trouble = (what: string, error: unknown) => {
    if (!isAgentError(error)) throw error;
    failures += 1;
    // An unreachable API server is a warning, once in a while; nothing else waits for it.
    if (failures === 1 || failures % 60 === 0) log.warn('cluster.unreachable', { what, failures, error: errorMessage(error) });
  };

  /** One look: find the Node, bring its label in line, send what events may go. */
  const step = async (signal: AbortSignal) => {
    if (!node) {
      try {
        node = await kube.getNode(nodeName, signal);
      } catch (error) {
        return trouble('get node', error);
      }
      if (!node) return; // kubelet has not registered it yet
      log.info('cluster.node', { nodeName, uid: node.uid });
      applied = node.labels[NODE_LABEL] ? undefined : null;
    }
    if (!same(applied, desired)) {
      try {
        node = await kube.patchNode(nodeName, patchFor(desired, deps.pool), signal);
        applied = desired;
        failures = 0;
        log.info(desired ? 'cluster.labelled' : 'cluster.unlabelled', { nodeName, label: NODE_LABEL, publicIp: desired?.publicIp });
      } catch (error) {
        return trouble('label node', error);
      }
    }
    while (queue.length > 0) {
      const event = queue[0]!;
      try {
        await kube.recordEvent(node, event, signal);
        queue.shift();
      } catch (error) {
        return trouble(`record event ${event.reason}`, error);
      }
    }
  };

  const event = (e: NodeEvent) => {
    const now = timing.clock.now();
    if (!mayRecord(sent, e.reason, now) || queue.length >= 10) return;
    sent.push({ reason: e.reason, at: now });
    while (sent.length > 100) sent.shift();
    queue.push(e);
  };

  return {
    observe(fact) {
      switch (fact.type) {
        case 'claimed':
          claimed = fact.claimed;
          break;
        case 'ready':
        case 'back':
          desired = claimed ?? null;
          break;
        case 'lost':
        case 'releasing':
        case 'released':
          desired = null;
          break;
        case 'exhausted':
          event({ type: 'Warning', reason: 'PoolExhausted', message: `pool ${deps.pool}: 0 of ${fact.size} addresses free; waiting for one` });
          break;
        case 'foreign':
          event({ type: 'Warning', reason: 'ForeignElasticIP', message: fact.reason });
          break;
      }
    },
    event,
    async withdraw(signal) {
      desired = null;
      if (!node || same(applied, null)) return;
      try {
        node = await kube.patchNode(nodeName, patchFor(null, deps.pool), signal);
        applied = null;
        log.info('cluster.unlabelled', { nodeName, label: NODE_LABEL });
      } catch (error) {
        if (signal.aborted) return;
        trouble('unlabel node', error);
      }
    },
    async flush(signal) {
      if (queue.length > 0) await step(signal).catch((error: unknown) => (signal.aborted ? undefined : Promise.reject(error)));
    },
    async run(signal) {
      while (!signal.aborted) {
        await step(signal).catch((error: unknown) => {
          if (!signal.aborted) throw error;
        });
        try {
          await timing.sleep(deps.intervalMs ?? 1000, signal);
        } catch (error) {
          if (signal.aborted) return;
          throw error;
        }
      }
    },
  };
}
