// SPEC §5: which pods still hold the node. Pure: the Kubernetes adapter lists, this decides.
import type { PodView } from '../shared/ports.js';

/**
 * A pod is workload unless a DaemonSet owns it (it runs on every node and would never
 * leave), it is a mirror of a static pod (kubelet's own, gone only with kubelet), or it
 * has finished.
 */
export function isWorkload(pod: PodView): boolean {
  if (pod.mirror || pod.ownerKinds.includes('DaemonSet')) return false;
  return pod.phase !== 'Succeeded' && pod.phase !== 'Failed';
}

export function workloadPods(pods: readonly PodView[]): PodView[] {
  return pods.filter(isWorkload);
}

export function isDrained(pods: readonly PodView[]): boolean {
  return !pods.some(isWorkload);
}
