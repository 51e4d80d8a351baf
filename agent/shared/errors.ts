// Every failure the agent can meet, typed once at the adapter edge. The core and the
// lifecycle decide by `kind` only; they never parse SDK or HTTP error text.
//
// One rule at every adapter edge (EC2, IMDS, Kubernetes, egress):
// - The service named an error (EC2's code, an HTTP status): EC2 codes are mapped in
//   adapters/ec2-errors.ts; HTTP statuses by `kindOfStatus` below, the same for IMDS,
//   Kubernetes and the echo service.
// - No answer (refused, reset, timed out, name not resolved): `transient`, by the one list
//   NETWORK_CODES below and the timeouts of adapters/http.ts.
// - An answer that does not parse or lacks what it must carry (XML or JSON cut short, an
//   instance id that is not `i-…`): `malformed`, from every service alike. In the field it
//   comes from something in the path (a proxy, a captive portal at boot, a body cut short)
//   more often than from the service, so it is asked again within the caller's budget
//   like a transient fault, and never acted upon; if it outlives the budget it ends the
//   command as bad input (exit 2, G6), naming the path or field.
// - Anything else thrown (a TypeError, a RangeError) is a bug: not an AgentError, never
//   retried, and it fails loudly with its stack.

export type ErrorKind =
  /** the service asked us to slow down (EC2 RequestLimitExceeded, HTTP 429) */
  | 'throttled'
  /** 5xx, timeouts, resets: worth trying again */
  | 'transient'
  /** an answer that does not parse or lacks a field it must carry */
  | 'malformed'
  /** a compare-and-swap lost: the address is already associated elsewhere */
  | 'conflict'
  /** the thing named no longer exists (address released, stale association id) */
  | 'not-found'
  /** credentials refused or IAM denies the action: retrying will not help */
  | 'auth'
  /** a flag, env variable, file or request the operator gave is wrong */
  | 'bad-input'
  /** a request the service refused for a reason that retrying will not change */
  | 'rejected';

export class AgentError extends Error {
  override readonly name = 'AgentError';

  constructor(
    readonly kind: ErrorKind,
    /** stable machine-readable code, e.g. the EC2 error code or `imds.unreachable` */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Bad operator input: names the input and what was expected. */
export class InputError extends AgentError {
  constructor(
    readonly input: string,
    expected: string,
    options?: { cause?: unknown },
  ) {
    super('bad-input', 'bad-input', `${input}: ${expected}`, options);
  }
}

export function isAgentError(error: unknown, ...kinds: ErrorKind[]): error is AgentError {
  return error instanceof AgentError && (kinds.length === 0 || kinds.includes(error.kind));
}

/** Throttling, transient faults and malformed answers are asked again; nothing else is. */
export function isRetryable(error: unknown): boolean {
  return isAgentError(error, 'throttled', 'transient', 'malformed');
}

/** Kinds that end a command with exit 2 (G6): the operator's input, or an answer we cannot use. */
export function isBadInput(error: unknown): boolean {
  return isAgentError(error, 'bad-input', 'malformed');
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Node's codes of a connection that failed, was refused, reset or timed out. */
export const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** The socket code of a Node error, when it carries one. */
export function networkCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && NETWORK_CODES.has(code) ? code : undefined;
}

/** The one HTTP status → kind map (IMDS, Kubernetes, the echo service). */
export function kindOfStatus(status: number): ErrorKind {
  if (status === 429) return 'throttled';
  if (status >= 500) return 'transient';
  if (status === 401 || status === 403) return 'auth';
  if (status === 404 || status === 410) return 'not-found';
  return 'rejected';
}
