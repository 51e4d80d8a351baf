// --live-check egress: an echo service (checkip.amazonaws.com) answers with the public IP
// our traffic leaves from. Failures are typed by the one rule of shared/errors.ts.
import { AgentError, kindOfStatus } from '../shared/errors.js';
import type { EgressProbe } from '../shared/ports.js';
import { httpRequest, noAnswerError } from './http.js';

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
      throw noAnswerError(error, url, 'egress');
    }
    if (res.status !== 200) throw new AgentError(kindOfStatus(res.status), 'egress.status', `${url}: answered ${res.status}`);
    return res.body.trim() === publicIp;
  };
}
