// What ends the node's life, decided from data: a signal (G5a), the notices IMDS carries.
import type { Notices } from '../shared/ports.js';

export interface Termination {
  source: 'signal' | 'spot' | 'asg' | 'request';
  detail: string;
  /** false: the process ends but the node does not (G5a); keep the address */
  release: boolean;
  /** skip the drain wait */
  force: boolean;
}

/**
 * G5a: what a SIGTERM/SIGINT means. Under systemd (`underSystemd`) only a system going
 * down (`systemStopping`) is the end of the node; `undefined` (systemctl could not tell) is
 * taken as "not stopping": keeping the address is safe (the next start resumes it, and EC2
 * frees it if the instance terminates); dropping it on an upgrade is not.
 */
export function signalTermination(signal: string, underSystemd: boolean, systemStopping: boolean | undefined, repeat: boolean): Termination {
  if (!underSystemd) return { source: 'signal', detail: signal, release: true, force: repeat };
  const stopping = systemStopping === true;
  return { source: 'signal', detail: `${signal}${stopping ? ' (system stopping)' : ''}`, release: stopping, force: repeat && stopping };
}

/** A spot interruption notice or an Auto Scaling move to Terminated ends the node. */
export function noticeTermination(notices: Notices): Termination | undefined {
  if (notices.spot !== undefined) {
    // A notice we cannot read is still a notice: the instance is being interrupted.
    const what = notices.spot === 'unreadable' ? 'unknown' : `${notices.spot.action} at ${notices.spot.time}`;
    return { source: 'spot', detail: `spot interruption: ${what}`, release: true, force: false };
  }
  const state = notices.lifecycle?.trim();
  // Warm pools use `Warmed:Terminated`; both end the instance.
  if (state?.match(/(^|:)Terminated$/)) {
    return { source: 'asg', detail: `auto scaling target lifecycle state ${state}`, release: true, force: false };
  }
  return undefined;
}
