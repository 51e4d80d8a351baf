// A watch (`?watch=true`) as the API server streams it: chunked JSON lines of {type, object}.
// From no resourceVersion (or "0"): ADDED for every object that matches now, then changes.
// From a resourceVersion: the changes after it (410 Gone when they are no longer known).
// An object that starts or stops matching the selectors arrives as ADDED or DELETED, as the
// watch cache sends it.
import type { ServerResponse } from 'node:http';
import type { Json } from './kube-objects.js';
import type { KubeChange, KubeResource, KubeStore } from './kube-state.js';

export interface WatchOptions {
  store: KubeStore;
  resource: KubeResource;
  /** the objects that exist now, stored form */
  current: () => Json[];
  /** selectors, namespace and authorization, on the stored form */
  matches: (object: Json) => boolean;
  /** stored form → what the client asked for (events.k8s.io, a Table row) */
  render: (object: Json) => Json;
  resourceVersion?: string | null;
  timeoutSeconds?: number;
  /** closed by the sim: end every watch */
  onClose: (end: () => void) => void;
}

type Event = { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'ERROR'; object: Json };

function translate(change: KubeChange, matches: (o: Json) => boolean): Event | undefined {
  const now = matches(change.object);
  const before = change.type === 'MODIFIED' && change.previous !== undefined ? matches(change.previous) : change.type !== 'ADDED' && now;
  if (change.type === 'ADDED') return now ? { type: 'ADDED', object: change.object } : undefined;
  if (change.type === 'DELETED') return now ? { type: 'DELETED', object: change.object } : undefined;
  if (now && before) return { type: 'MODIFIED', object: change.object };
  if (now) return { type: 'ADDED', object: change.object };
  if (before) {
    // It left the selection: DELETED with its previous state at the new resourceVersion.
    const gone = structuredClone(change.previous);
    gone.metadata.resourceVersion = change.object.metadata.resourceVersion;
    return { type: 'DELETED', object: gone };
  }
  return undefined;
}

export function serveWatch(res: ServerResponse, options: WatchOptions): void {
  const { store, resource } = options;
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
  const write = (event: Event): void => {
    if (!res.writableEnded) res.write(`${JSON.stringify({ type: event.type, object: event.type === 'ERROR' ? event.object : options.render(event.object) })}\n`);
  };
  const rv = options.resourceVersion;
  const initial: Event[] = [];
  if (rv === undefined || rv === null || rv === '' || rv === '0') {
    for (const object of options.current()) if (options.matches(object)) initial.push({ type: 'ADDED', object });
  } else {
    const changes = /^\d+$/.test(rv) ? store.since(Number(rv)) : undefined;
    if (changes === undefined) {
      write({
        type: 'ERROR',
        object: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: /^\d+$/.test(rv) ? `too old resource version: ${rv} (${store.resourceVersion})` : `invalid resource version: ${rv}`,
          reason: 'Expired',
          code: 410,
        },
      });
      res.end();
      return;
    }
    for (const change of changes) {
      if (change.resource !== resource) continue;
      const event = translate(change, options.matches);
      if (event) initial.push(event);
    }
  }
  // Subscribing and replaying happen in one turn of the event loop: no change slips between.
  const unsubscribe = store.subscribe((change) => {
    if (change.resource !== resource) return;
    const event = translate(change, options.matches);
    if (event) write(event);
  });
  for (const event of initial) write(event);
  const timer = options.timeoutSeconds && options.timeoutSeconds > 0 ? setTimeout(() => end(), options.timeoutSeconds * 1000) : undefined;
  const end = (): void => {
    unsubscribe();
    if (timer) clearTimeout(timer);
    if (!res.writableEnded) res.end();
  };
  res.on('close', end);
  options.onClose(end);
}
