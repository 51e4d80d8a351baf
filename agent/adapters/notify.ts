// sd_notify for Type=notify units. Node has no unix datagram sockets, so we ask
// systemd-notify to send it; the unit sets NotifyAccess=all because the sender is a child.
import { execFile } from 'node:child_process';

export type Notify = (state: string) => Promise<void>;

export function systemdNotify(notifySocket: string | undefined): Notify {
  if (!notifySocket) return async () => {};
  return (state) =>
    new Promise((resolve, reject) => {
      const args = state.split('\n').filter(Boolean);
      execFile('systemd-notify', [`--pid=${process.pid}`, ...args], { timeout: 5000 }, (error) => (error ? reject(error) : resolve()));
    });
}
