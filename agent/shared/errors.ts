// Every failure the agent can meet, typed once at the adapter edge. The core decides by
// `kind` only; it never parses SDK or HTTP error text.

export type ErrorKind =
  /** the service asked us to slow down (EC2 RequestLimitExceeded, IMDS 429/503) */
  | 'throttled'
  /** 5xx, timeouts, resets, truncated or malformed answers: worth trying again */
  | 'transient'
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

/** Throttling and transient faults are retried; everything else (and every bug) is not. */
export function isRetryable(error: unknown): boolean {
  return isAgentError(error, 'throttled', 'transient');
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
