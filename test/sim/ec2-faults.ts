// The fault controls of the simulated EC2 endpoint, and the HTTP status EC2 gives each code.
import type { BucketSize } from './throttle.js';
import type { Params } from './ec2-query.js';

export interface ErrorFault {
  error: string;
  /** default: EC2's status for the code (see statusOf) */
  status?: number;
  message?: string;
}

/** How an answer can go wrong on the wire. */
export type WireFault =
  /** never answer; the socket stays open until the sim closes */
  | 'hang'
  /** destroy the socket without an answer */
  | 'reset'
  /** 200 with XML that does not parse */
  | 'malformed'
  /** 200 with an empty body */
  | 'empty'
  /** 200 announcing the full length, half the XML, then the socket is destroyed */
  | 'truncated';

export type ScriptedFault =
  | ErrorFault
  | WireFault
  /** 200 with this exact body (e.g. an answer missing a field) */
  | { raw: string; status?: number }
  /** apply the action to the world, then lose or fail the answer */
  | { afterApply: 'hang' | 'reset' | ErrorFault };

export interface ThrottleSizes {
  read?: BucketSize;
  write?: BucketSize;
}

export interface Faults {
  /** delay before each call is handled, uniformly in [min, max] ms */
  latencyMs: [number, number];
  /** per-call probability of each server-side error */
  errorRate: { RequestLimitExceeded?: number; InternalError?: number; Unavailable?: number };
  /** EC2 token buckets: true for the published sizes, or custom sizes */
  throttle: boolean | ThrottleSizes;
  /** DescribeAddresses answers from the state this many ms ago (eventual consistency) */
  staleReadMs: number;
  /** probability that a free address is taken by a foreign interface just before an AssociateAddress lands */
  raceProbability: number;
  /** the next this-many AssociateAddress calls on a free address lose the race for sure */
  raceNext: number;
  /** old EC2 answers carry `<instanceId/>` on free addresses; the SDK turns it into "" */
  emptyInstanceId: boolean;
  /**
   * DisassociateAddress of an association that existed and is already gone: `ok` (default)
   * as the API reference has it ("If you perform the operation more than once, Amazon EC2
   * doesn't return an error"), or `not-found` (InvalidAssociationID.NotFound), as tools in
   * the wild have met it.
   */
  staleDisassociate: 'ok' | 'not-found';
  /** EC2's clock minus the host's: it signs the Date header and judges SigV4's 5-minute window */
  clockOffsetMs: number;
  /** IAM: true denies the call with UnauthorizedOperation (403), with an encoded authorization failure message; DryRun asks it too */
  deny?: (action: string, params: Params, caller: string | undefined) => boolean;
}

export function defaultFaults(): Faults {
  return {
    latencyMs: [0, 0],
    errorRate: {},
    throttle: false,
    staleReadMs: 0,
    raceProbability: 0,
    raceNext: 0,
    emptyInstanceId: false,
    staleDisassociate: 'ok',
    clockOffsetMs: 0,
  };
}

const STATUS: Readonly<Record<string, number>> = {
  AuthFailure: 401,
  UnauthorizedOperation: 403,
  // A DryRun that would have succeeded is an error too, with 412 Precondition Failed.
  DryRunOperation: 412,
  InternalError: 500,
  RequestLimitExceeded: 503,
  Unavailable: 503,
};

/** EC2's HTTP status for an error code: 400 for every client error not listed. */
export function statusOf(code: string): number {
  return STATUS[code] ?? 400;
}

/**
 * EC2's text for an UnauthorizedOperation: mutating actions carry an encoded authorization
 * message (what `aws sts decode-authorization-message` decodes); here a base64url JSON of
 * the decision's gist, enough for the agent to hand the operator.
 */
export function unauthorizedMessage(action: string, caller: string | undefined): string {
  const text = 'You are not authorized to perform this operation.';
  if (action.startsWith('Describe')) return text;
  const encoded = Buffer.from(JSON.stringify({ allowed: false, explicitDeny: false, context: { action: `ec2:${action}`, principal: caller ?? 'unknown' } })).toString('base64url');
  return `${text} Encoded authorization failure message: ${encoded}`;
}
