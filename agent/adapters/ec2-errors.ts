// EC2 failures typed once, here: by the SDK's `error.name` (the EC2 error code),
// `$metadata.httpStatusCode`, `$fault` and Node's network error codes — never by message text.
import { AgentError, kindOfStatus, networkCode, type ErrorKind } from '../shared/errors.js';

const THROTTLED = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'RequestThrottled', 'TooManyRequestsException']);
const TRANSIENT = new Set(['InternalError', 'InternalFailure', 'Unavailable', 'ServiceUnavailable', 'RequestTimeout', 'RequestTimeoutException']);
const CONFLICT = new Set(['Resource.AlreadyAssociated']);
const NOT_FOUND = new Set([
  'InvalidAllocationID.NotFound',
  'InvalidAssociationID.NotFound',
  'InvalidAddress.NotFound',
  'InvalidNetworkInterfaceID.NotFound',
  'InvalidInstanceID.NotFound',
]);
// RequestExpired: the signing clock or the session credentials are out of date; a retry
// with the same ones cannot help (the SDK already retried once with its clock corrected).
const AUTH = new Set(['AuthFailure', 'UnauthorizedOperation', 'InvalidClientTokenId', 'ExpiredToken', 'RequestExpired', 'SignatureDoesNotMatch']);

/** The SDK's request timeout (TimeoutError) and an aborted request (AbortError). */
const NETWORK_NAMES = new Set(['TimeoutError', 'AbortError']);

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $response?: unknown;
}

/** What happened to one HTTP attempt, for the call records (Ec2CallRecord.outcome). */
export type AttemptFailure =
  | { type: 'service'; code: string; status: number | undefined; fault: string }
  | { type: 'network'; code: string }
  | { type: 'malformed' }
  | { type: 'credentials' };

export function attemptFailure(error: unknown): AttemptFailure | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as SdkErrorShape;
  const name = typeof e.name === 'string' ? e.name : '';
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  if (e.$fault === 'client' || e.$fault === 'server') return { type: 'service', code: name, status, fault: e.$fault };
  // Checked before $response: a body cut off mid-way is a reset connection, not a bad answer.
  const network = networkCode(error) ?? (NETWORK_NAMES.has(name) ? name : undefined);
  if (network !== undefined) return { type: 'network', code: network };
  // The SDK's deserializer attaches the raw response to whatever it failed to parse.
  if (e.$response !== undefined) return { type: 'malformed' };
  if (name === 'CredentialsProviderError') return { type: 'credentials' };
  return undefined;
}

/** The outcome recorded for a failed attempt: the EC2 code, `network`, `malformed` or `error`. */
export function attemptOutcome(error: unknown): string {
  const failure = attemptFailure(error);
  if (!failure) return 'error';
  if (failure.type === 'service') return failure.code;
  return failure.type;
}

/** EC2's own code first (RequestLimitExceeded comes as a 503); then the one status map. */
export function serviceKind(code: string, status: number | undefined, fault: string): ErrorKind {
  if (THROTTLED.has(code)) return 'throttled';
  if (CONFLICT.has(code)) return 'conflict';
  if (NOT_FOUND.has(code)) return 'not-found';
  if (AUTH.has(code)) return 'auth';
  if (TRANSIENT.has(code)) return 'transient';
  if (status !== undefined) return kindOfStatus(status);
  return fault === 'server' ? 'transient' : 'rejected';
}

/**
 * The AgentError for an EC2 SDK failure, or undefined when the error is not one (a bug:
 * the caller rethrows it unchanged so that it is never retried).
 */
export function classifyEc2Error(action: string, error: unknown): AgentError | undefined {
  if (error instanceof AgentError) return error;
  const failure = attemptFailure(error);
  if (!failure) return undefined;
  const detail = (error as SdkErrorShape).message;
  const text = typeof detail === 'string' ? detail.split('\n')[0] : '';
  switch (failure.type) {
    case 'service': {
      const status = failure.status === undefined ? '' : ` (HTTP ${failure.status})`;
      return new AgentError(serviceKind(failure.code, failure.status, failure.fault), failure.code, `EC2 ${action}: ${failure.code}${status}: ${text}`, {
        cause: error,
      });
    }
    case 'network':
      return new AgentError('transient', 'ec2.network', `EC2 ${action}: no answer (${failure.code}): ${text}`, { cause: error });
    case 'malformed':
      return new AgentError('malformed', 'ec2.malformed', `EC2 ${action}: the answer could not be parsed: ${text}`, { cause: error });
    case 'credentials':
      // Transient on purpose: at boot IMDS may not serve the role yet, and an instance profile
      // attached later fixes it; the core keeps trying and shows the error in /status.
      return new AgentError('transient', 'ec2.credentials', `EC2 ${action}: no AWS credentials: ${text}`, { cause: error });
  }
}
