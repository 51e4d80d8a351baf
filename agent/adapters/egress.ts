// --live-check egress: an echo service (checkip.amazonaws.com) answers with the public IP
// our traffic leaves from.
import type { LiveProbe } from '../lifecycle/live.js';
import { httpRequest } from './http.js';

const TIMEOUT_MS = 5000;

export function egressProbe(url: string): LiveProbe {
  return async (publicIp, signal) => {
    const res = await httpRequest({ url, method: 'GET', signal, timeoutMs: TIMEOUT_MS });
    return res.status === 200 && res.body.trim() === publicIp;
  };
}
