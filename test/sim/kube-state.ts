// The Kubernetes side of the world: Nodes and Events as stored objects, one resourceVersion
// counter for every change (pods included), and a short history of changes so that a watch
// can start from a resourceVersion, as it does against etcd's watch cache.
import { randomUUID } from 'node:crypto';
import { kubeTime, type Json } from './kube-objects.js';

export type KubeResource = 'pods' | 'nodes' | 'events';

export interface KubeChange {
  rv: number;
  resource: KubeResource;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  /** the object after the change (for DELETED, as it was, with the deletion's resourceVersion) */
  object: Json;
  /** the object before a MODIFIED */
  previous?: Json;
}

// The watch cache keeps a window of recent changes; a watch from before it is 410 Gone.
const HISTORY = 2000;

export class KubeStore {
  private revision = 1000;
  /** Node objects by name */
  readonly nodes = new Map<string, Json>();
  /** core/v1 Event objects by namespace/name */
  readonly events = new Map<string, Json>();
  private readonly history: KubeChange[] = [];
  private readonly listeners = new Set<(change: KubeChange) => void>();

  /** the resourceVersion of the latest change */
  get resourceVersion(): string {
    return String(this.revision);
  }

  nextRevision(): string {
    this.revision += 1;
    return String(this.revision);
  }

  /** Records a change whose object already carries its new resourceVersion. */
  emit(resource: KubeResource, type: KubeChange['type'], object: Json, previous?: Json): void {
    const change: KubeChange = { rv: Number(object.metadata.resourceVersion), resource, type, object: structuredClone(object), ...(previous ? { previous: structuredClone(previous) } : {}) };
    this.history.push(change);
    if (this.history.length > HISTORY) this.history.shift();
    for (const listener of this.listeners) listener(change);
  }

  /** Changes after `rv`, or undefined when they are no longer all known (410 Gone). */
  since(rv: number): KubeChange[] | undefined {
    const oldest = this.history[0];
    if (oldest && rv < oldest.rv - 1 && this.history.length >= HISTORY) return undefined;
    return this.history.filter((c) => c.rv > rv);
  }

  subscribe(listener: (change: KubeChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stores a new Node or Event: uid, creationTimestamp and resourceVersion set here. */
  create(resource: 'nodes' | 'events', key: string, object: Json): Json {
    const stored = structuredClone(object);
    stored.metadata = { ...stored.metadata, uid: stored.metadata?.uid ?? randomUUID(), creationTimestamp: kubeTime(), resourceVersion: this.nextRevision() };
    this.map(resource).set(key, stored);
    this.emit(resource, 'ADDED', stored);
    return structuredClone(stored);
  }

  /** Replaces a stored object (a patch or update already judged); bumps its resourceVersion. */
  replace(resource: 'nodes' | 'events', key: string, object: Json): Json {
    const previous = this.map(resource).get(key);
    if (!previous) throw new Error(`no ${resource} ${key}`);
    const stored = structuredClone(object);
    stored.metadata = { ...stored.metadata, uid: previous.metadata.uid, creationTimestamp: previous.metadata.creationTimestamp, resourceVersion: this.nextRevision() };
    this.map(resource).set(key, stored);
    this.emit(resource, 'MODIFIED', stored, previous);
    return structuredClone(stored);
  }

  remove(resource: 'nodes' | 'events', key: string): void {
    const previous = this.map(resource).get(key);
    if (!previous) return;
    this.map(resource).delete(key);
    this.emit(resource, 'DELETED', { ...previous, metadata: { ...previous.metadata, resourceVersion: this.nextRevision() } });
  }

  /** Events as stored (core/v1), oldest first; filtered by the involved object's name and the reason. */
  eventList(filter: { name?: string; kind?: string; reason?: string } = {}): Json[] {
    return [...this.events.values()]
      .filter(
        (e) =>
          (filter.name === undefined || e.involvedObject?.name === filter.name) &&
          (filter.kind === undefined || e.involvedObject?.kind === filter.kind) &&
          (filter.reason === undefined || e.reason === filter.reason),
      )
      .map((e) => structuredClone(e));
  }

  private map(resource: 'nodes' | 'events'): Map<string, Json> {
    return resource === 'nodes' ? this.nodes : this.events;
  }
}
