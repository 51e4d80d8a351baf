// How often the agent may record a Kubernetes Event: a dry pool is seen at every re-list,
// and an API server must not hear about it every few seconds from every waiting node.
// Pure: the caller keeps the history.

/** The same reason at most once a minute; at most 30 events in ten minutes in all. */
export const EVENT_LIMITS = { perReasonMs: 60_000, windowMs: 600_000, perWindow: 30 } as const;

export interface Sent {
  reason: string;
  at: number;
}

export function mayRecord(history: readonly Sent[], reason: string, now: number, limits = EVENT_LIMITS): boolean {
  if (history.some((s) => s.reason === reason && now - s.at < limits.perReasonMs)) return false;
  return history.filter((s) => now - s.at < limits.windowMs).length < limits.perWindow;
}
