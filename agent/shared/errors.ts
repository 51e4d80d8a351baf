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

/**
 * What the one pacing layer (shared/retry.ts, shared/pacing.ts and the claim's decision) does
 * with every answer: no answer is ever asked again at once, and none ends a wait silently.
 *
 * - `retry` — throttled, transient, malformed: asked again after a backoff (pacing.ts
 *   EC2_READ_RETRY, IMDS_RETRY); a throttled answer spreads over the bucket's refill.
 * - `refused` — auth, rejected: IAM changes take seconds to propagate, and an answer the agent
 *   does not know may pass; asked again only after a long wait (pacing.ts refusedDelay: seconds,
 *   doubling to a minute) and reported in `/status` and the log, with the command that decodes
 *   an encoded authorization message. Callers that must not wait (the hop-limit note) stop.
 * - `answer` — conflict, not-found: a fact about the world for the caller's decision. A lost
 *   race spreads and lists again; a vanished allocation lists again, paced when it repeats;
 *   an interface or instance EC2 does not know yet (UNKNOWN_TARGET_CODES) is eventual
 *   consistency at boot: paced retries for UNKNOWN_TARGET_BUDGET_MS, then one clear error.
 * - `stop` — bad input, and anything that is not an AgentError (a bug): never asked again.
 */
export type Meaning = 'retry' | 'refused' | 'answer' | 'stop';

const MEANINGS: Readonly<Record<ErrorKind, Meaning>> = {
  throttled: 'retry',
  transient: 'retry',
  malformed: 'retry',
  auth: 'refused',
  rejected: 'refused',
  conflict: 'answer',
  'not-found': 'answer',
  'bad-input': 'stop',
};

export function meaningOf(error: unknown): Meaning {
  return error instanceof AgentError ? MEANINGS[error.kind] : 'stop';
}

/**
 * EC2 codes that name our own interface or instance as unknown. At boot EC2 is eventually
 * consistent: a new interface may not be visible to the API for a moment. Not the address's
 * fault, so the node never gives up an address for it; it waits, paced, then says so.
 */
export const UNKNOWN_TARGET_CODES: ReadonlySet<string> = new Set(['InvalidNetworkInterfaceID.NotFound', 'InvalidInstanceID.NotFound']);

/** Throttling, transient faults and malformed answers are asked again; nothing else is. */
export function isRetryable(error: unknown): boolean {
  return meaningOf(error) === 'retry';
}

/**
 * The encoded authorization message EC2 puts in an UnauthorizedOperation's text ("…
 * Encoded authorization failure message: X"), for the operator to decode; never used to
 * decide anything.
 */
export function encodedAuthorization(error: unknown): string | undefined {
  if (!isAgentError(error, 'auth')) return undefined;
  return /Encoded authorization failure message: ([A-Za-z0-9_\-+/=]+)/.exec(error.message)?.[1];
}

/** The command that explains an encoded authorization failure (needs sts:DecodeAuthorizationMessage). */
export function decodeCommand(encoded: string): string {
  return `aws sts decode-authorization-message --encoded-message '${encoded}' --query DecodedMessage --output text`;
}

/** How the operator learns why IAM refused: the command that decodes the message, when EC2 gave one. */
export function authorizationHint(error: unknown): string | undefined {
  const encoded = encodedAuthorization(error);
  return encoded === undefined ? undefined : decodeCommand(encoded);
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
