// SigV4 verification for the simulated EC2 endpoint: the signature is recomputed with the
// secret of the access key named in the Authorization header, over exactly the headers the
// caller signed, and compared in constant time.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { SimError } from './world.js';

export interface SimCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export interface SignedRequest {
  method: string;
  /** path and query as received */
  url: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: string;
}

/** SigV4 accepts requests dated within 5 minutes of the server clock. */
const MAX_SKEW_MS = 5 * 60_000;

const AUTH_PATTERN =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;

/** node:crypto behind the hash interface the signer expects (HMAC when given a secret). */
export class NodeSha256 {
  private hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;

  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = this.fresh();
  }

  private fresh(): ReturnType<typeof createHash> | ReturnType<typeof createHmac> {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(this.secret));
  }

  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBytes(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }

  reset(): void {
    this.hash = this.fresh();
  }
}

function toBytes(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

function authFailure(message = 'AWS was not able to validate the provided access credentials'): SimError {
  return new SimError('AuthFailure', message, 401);
}

function header(headers: SignedRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function parseAmzDate(value: string | undefined): Date | undefined {
  const m = value ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value) : null;
  if (!m) return undefined;
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

/**
 * Verifies the request's SigV4 signature; returns the access key that signed it.
 * Throws SimError AuthFailure (401) or RequestExpired (400), as EC2 does.
 */
export async function verifySigV4(
  request: SignedRequest,
  options: { region: string; now: number; lookup: (accessKeyId: string) => SimCredentials | undefined },
): Promise<string> {
  const authorization = header(request.headers, 'authorization');
  if (!authorization) throw authFailure();
  const match = AUTH_PATTERN.exec(authorization);
  if (!match) throw authFailure('The Authorization header is malformed');
  const [, accessKeyId, shortDate, region, service, signedHeaderList, signature] = match as unknown as string[];

  const credentials = options.lookup(accessKeyId!);
  if (!credentials) throw authFailure();
  if (region !== options.region || service !== 'ec2') {
    throw authFailure(`Credential should be scoped to a valid region and service 'ec2', not '${region}/${service}'`);
  }
  const signingDate = parseAmzDate(header(request.headers, 'x-amz-date'));
  if (!signingDate || !signingDate.toISOString().replaceAll('-', '').startsWith(shortDate!)) {
    throw authFailure('The request must carry an X-Amz-Date matching its credential scope');
  }
  if (Math.abs(options.now - signingDate.getTime()) > MAX_SKEW_MS) {
    throw new SimError('RequestExpired', 'Request has expired.', 400);
  }
  if (credentials.expiration && credentials.expiration.getTime() <= options.now) {
    throw new SimError('RequestExpired', 'Request has expired.', 400);
  }
  const token = header(request.headers, 'x-amz-security-token');
  if (credentials.sessionToken !== token) throw authFailure();
  const contentHash = header(request.headers, 'x-amz-content-sha256');
  if (contentHash !== undefined && contentHash !== createHash('sha256').update(request.body).digest('hex')) {
    throw authFailure("The provided 'x-amz-content-sha256' header does not match what was computed.");
  }

  const signedNames = signedHeaderList!.split(';');
  if (!signedNames.includes('host') || !signedNames.includes('x-amz-date')) throw authFailure();
  const headers: Record<string, string> = {};
  for (const name of signedNames) {
    const value = header(request.headers, name);
    if (value === undefined) throw authFailure(`Signed header '${name}' is missing`);
    headers[name] = value;
  }
  const url = new URL(request.url, 'http://sim.invalid');
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    query[key] = values.length === 1 ? values[0]! : values;
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId: accessKeyId!, secretAccessKey: credentials.secretAccessKey, ...(token ? { sessionToken: token } : {}) },
    region: region!,
    service: service!,
    sha256: NodeSha256,
    // The caller chose whether to sign a payload hash header; recompute exactly what it signed.
    applyChecksum: false,
  });
  const signed = await signer.sign(
    { method: request.method, protocol: 'http:', hostname: headers.host ?? '', path: url.pathname, query, headers, body: request.body },
    { signingDate, signingRegion: region!, signingService: service!, signableHeaders: new Set(signedNames) },
  );
  const expected = /Signature=([0-9a-f]{64})$/.exec(String(signed.headers.authorization ?? ''))?.[1] ?? '';
  const expectedList = /SignedHeaders=([^,]+),/.exec(String(signed.headers.authorization ?? ''))?.[1];
  if (
    expectedList !== signedHeaderList ||
    expected.length !== signature!.length ||
    !timingSafeEqual(Buffer.from(expected), Buffer.from(signature!))
  ) {
    throw authFailure('The request signature we calculated does not match the signature you provided.');
  }
  return accessKeyId!;
}
