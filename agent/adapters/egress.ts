// --live-check egress: an echo service (checkip.amazonaws.com) answers with the public IP
// our traffic leaves from.
import { request } from 'undici';
import type { LiveProbe } from '../live.js';

const TIMEOUT_MS = 5000;

export function egressProbe(url: string): LiveProbe {
  return async (publicIp, signal) => {
    const res = await request(url, {
      method: 'GET',
      signal: AbortSignal.any([signal, AbortSignal.timeout(TIMEOUT_MS)]),
      headersTimeout: TIMEOUT_MS,
      bodyTimeout: TIMEOUT_MS,
    });
    const body = (await res.body.text()).trim();
    return res.statusCode === 200 && body === publicIp;
  };
}
