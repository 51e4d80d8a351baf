// The simulated EC2 endpoint: an HTTP server on 127.0.0.1 speaking the EC2 Query protocol
// (API 2016-11-15) over a World, so that the unmodified @aws-sdk/client-ec2 works against it.
// Requests must carry a valid SigV4 signature. Faults (latency, error rates, throttling,
// stale reads, lost races, scripted wire failures) are mutable controls on `faults`.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { SimError } from './world.js';
import type { World } from './world.js';
import { ACTIONS, booleanParam } from './ec2-actions.js';
import { verifySigV4 } from './ec2-auth.js';
import type { SimCredentials } from './ec2-auth.js';
import { defaultFaults, statusOf, unauthorizedMessage } from './ec2-faults.js';
import type { ErrorFault, Faults, ScriptedFault } from './ec2-faults.js';
import { parseForm } from './ec2-query.js';
import type { Params } from './ec2-query.js';
import { errorXml, successXml } from './ec2-xml.js';
import { EC2_BUCKETS, TokenBucket } from './throttle.js';

export interface Ec2Call {
  /** when the request arrived (ms since epoch) */
  at: number;
  action: string;
  params: Params;
  /** the instance owning the signing key, when there is one */
  caller?: string;
  /** `ok`, the EC2 error code answered, or the wire fault (`hang`, `reset`, `malformed`, …) */
  outcome: string;
  /** HTTP status sent; 0 when no answer was sent */
  status: number;
  /** the action changed or read the world (true for afterApply faults too) */
  applied: boolean;
}

export interface CallQuery {
  action?: string;
  caller?: string;
  outcome?: string;
}

export interface Ec2SimOptions {
  faults?: Partial<Faults>;
  /** random source for error rates, races and latency; default Math.random */
  random?: () => number;
}

export interface Ec2Sim {
  /** base URL, e.g. http://127.0.0.1:PORT */
  readonly url: string;
  readonly faults: Faults;
  /** one entry per HTTP request, in the order their outcome was decided */
  readonly calls: Ec2Call[];
  count(query?: CallQuery): number;
  /** queue a fault for the next call of `action` (`*`: any action) that passes authentication */
  script(action: string, fault: ScriptedFault): void;
  /** register a static key pair (not an instance role); `caller` names it in the call log */
  addStaticCredentials(caller?: string): { accessKeyId: string; secretAccessKey: string };
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function isErrorFault(fault: ScriptedFault): fault is ErrorFault {
  return typeof fault === 'object' && 'error' in fault;
}

export async function startEc2(world: World, options: Ec2SimOptions = {}): Promise<Ec2Sim> {
  const random = options.random ?? Math.random;
  const faults: Faults = { ...defaultFaults(), ...options.faults };
  const calls: Ec2Call[] = [];
  const scripts = new Map<string, ScriptedFault[]>();
  const timers = new Set<NodeJS.Timeout>();
  // Keys stay valid until they expire even after the instance's credentials rotate, as STS keys do.
  const keys = new Map<string, { credentials: SimCredentials; caller?: string }>();
  let buckets: { key: string; read: TokenBucket; write: TokenBucket } | undefined;

  function lookup(accessKeyId: string): SimCredentials | undefined {
    for (const instance of world.instances.values()) {
      if (!keys.has(instance.credentials.accessKeyId)) {
        keys.set(instance.credentials.accessKeyId, { credentials: instance.credentials, caller: instance.instanceId });
      }
    }
    return keys.get(accessKeyId)?.credentials;
  }

  function takeToken(mutating: boolean, now: number): boolean {
    const throttle = faults.throttle;
    if (throttle === false) return true;
    const sizes = {
      read: (throttle === true ? undefined : throttle.read) ?? EC2_BUCKETS.read,
      write: (throttle === true ? undefined : throttle.write) ?? EC2_BUCKETS.write,
    };
    const key = JSON.stringify(sizes);
    if (buckets?.key !== key) buckets = { key, read: new TokenBucket(sizes.read, now), write: new TokenBucket(sizes.write, now) };
    return (mutating ? buckets.write : buckets.read).take(now);
  }

  function takeScript(action: string): ScriptedFault | undefined {
    return scripts.get(action)?.shift() ?? scripts.get('*')?.shift();
  }

  function delay(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const requestId = randomUUID();
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const params: Params = { ...Object.fromEntries(url.searchParams), ...parseForm(body) };
    const action = params.Action ?? '';
    let caller: string | undefined;
    let applied = false;

    const log = (outcome: string, status: number): void => {
      calls.push({ at, action, params, ...(caller ? { caller } : {}), outcome, status, applied });
    };
    const send = (status: number, xml: string): void => {
      res.writeHead(status, {
        'content-type': 'text/xml;charset=UTF-8',
        'content-length': Buffer.byteLength(xml),
        'x-amzn-requestid': requestId,
        // EC2's own clock: the SDK (and the doctor) read their skew from it.
        date: new Date(Date.now() + faults.clockOffsetMs).toUTCString(),
        server: 'AmazonEC2',
      });
      res.end(xml);
    };
    const sendError = (code: string, message: string, status = statusOf(code)): void => {
      log(code, status);
      send(status, errorXml(code, message, requestId));
    };
    const fail = (fault: 'hang' | 'reset' | ErrorFault): void => {
      if (fault === 'hang') {
        log('hang', 0); // the socket stays open until the client gives up or close()
      } else if (fault === 'reset') {
        log('reset', 0);
        req.socket.destroy();
      } else {
        sendError(fault.error, fault.message ?? `Scripted ${fault.error}`, fault.status);
      }
    };

    try {
      const [min, max] = faults.latencyMs;
      await delay(min + random() * (max - min));
      const accessKeyId = await verifySigV4(
        { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body },
        { region: world.region, now: Date.now() + faults.clockOffsetMs, lookup },
      );
      caller = keys.get(accessKeyId)?.caller;
      if (!action) throw new SimError('MissingAction', 'The request must contain the parameter Action');
      const spec = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
      if (!spec) throw new SimError('InvalidAction', `The action ${action} is not valid for this web service.`);

      const scripted = takeScript(action);
      if (scripted !== undefined && !(typeof scripted === 'object' && 'afterApply' in scripted)) {
        if (scripted === 'hang' || scripted === 'reset' || isErrorFault(scripted)) return fail(scripted);
        if (typeof scripted === 'object') {
          log('raw', scripted.status ?? 200);
          return send(scripted.status ?? 200, scripted.raw);
        }
        const xml = successXml(action, requestId, '<return>true</return>');
        log(scripted, 200);
        if (scripted === 'empty') return send(200, '');
        if (scripted === 'malformed') return send(200, xml.slice(0, xml.length - 20) + '<<</ >&&');
        // truncated: announce the whole answer, deliver half, drop the connection
        res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8', 'content-length': Buffer.byteLength(xml) });
        res.write(xml.slice(0, Math.floor(xml.length / 2)), () => req.socket.destroy());
        return;
      }
      if (!takeToken(spec.mutating, world.now())) throw new SimError('RequestLimitExceeded', 'Request limit exceeded.', 503);
      for (const code of ['RequestLimitExceeded', 'InternalError', 'Unavailable'] as const) {
        if (random() < (faults.errorRate[code] ?? 0)) {
          throw new SimError(code, code === 'InternalError' ? 'An internal error has occurred' : `Simulated ${code}`, statusOf(code));
        }
      }
      // DryRun: "Checks whether you have the required permissions for the action, without
      // actually making the request": the IAM hook answers, the world never changes.
      const dryRun = booleanParam(params, 'DryRun') === true;
      if (faults.deny?.(action, params, caller)) {
        throw new SimError('UnauthorizedOperation', unauthorizedMessage(action, caller), 403);
      }
      if (dryRun) throw new SimError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);

      const xml = successXml(action, requestId, spec.run({ world, params, now: world.now(), faults, random }));
      applied = true;
      if (scripted !== undefined && typeof scripted === 'object' && 'afterApply' in scripted) return fail(scripted.afterApply);
      log('ok', 200);
      send(200, xml);
    } catch (error) {
      if (error instanceof SimError) return sendError(error.code, error.message, error.status);
      // A simulator bug must still look like EC2 to the client, and be visible in the call log.
      sendError('InternalError', `simulator: ${error instanceof Error ? error.message : String(error)}`, 500);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    faults,
    calls,
    count(query = {}) {
      return calls.filter(
        (c) =>
          (query.action === undefined || c.action === query.action) &&
          (query.caller === undefined || c.caller === query.caller) &&
          (query.outcome === undefined || c.outcome === query.outcome),
      ).length;
    },
    script(action, fault) {
      scripts.set(action, [...(scripts.get(action) ?? []), fault]);
    },
    addStaticCredentials(caller) {
      const credentials = { accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(20).toString('hex') };
      keys.set(credentials.accessKeyId, { credentials, ...(caller ? { caller } : {}) });
      return credentials;
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive sockets and hanging requests alike: close() alone would wait for them.
        server.closeAllConnections();
      });
    },
  };
}
