// --live-check egress: an echo service (checkip.amazonaws.com) answers with the public IP
// our traffic leaves from. Failures are typed by the one rule of shared/errors.ts.
import { AgentError, kindOfStatus, networkCode } from '../shared/errors.js';
import type { EgressProbe } from '../shared/ports.js';
import { HttpBodyTooLargeError, HttpTimeoutError, httpRequest } from './http.js';

const TIMEOUT_MS = 5000;
// An IPv4 address and a line break: anything longer is not an echo of our address.
const MAX_BODY_BYTES = 1024;

export function egressProbe(url: string): EgressProbe {
  return async (publicIp, signal) => {
    let res;
    try {
      res = await httpRequest({ url, method: 'GET', signal, timeoutMs: TIMEOUT_MS, maxBodyBytes: MAX_BODY_BYTES });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (error instanceof HttpTimeoutError) throw new AgentError('transient', 'egress.timeout', `${url}: no answer within ${TIMEOUT_MS} ms`, { cause: error });
      if (error instanceof HttpBodyTooLargeError) throw new AgentError('malformed', 'egress.malformed', `${url}: ${error.message}`, { cause: error });
      const code = networkCode(error);
      if (code !== undefined) throw new AgentError('transient', 'egress.network', `${url}: ${code}`, { cause: error });
      throw error;
    }
    if (res.status !== 200) throw new AgentError(kindOfStatus(res.status), 'egress.status', `${url}: answered ${res.status}`);
    return res.body.trim() === publicIp;
  };
}
