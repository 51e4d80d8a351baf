// Footprint of the built agent, run as its own process the way systemd runs it:
// bundle size, cold start to the first IMDS request (against bare `node -e 0` measured in
// the same run), time to ready, and idle RSS and CPU from the kernel's own accounting
// (/proc/PID/status VmRSS/VmHWM, /proc/PID/stat utime+stime).
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { BUNDLE, runBundle } from '../helpers/agent.js';
import { freePort } from '../sim/sim.js';
import { REALISTIC, startWorld } from './fleet.js';
import { median } from './stats.js';

export interface FootprintRow {
  bundleBytes: number;
  reps: number;
  /** median ms from spawn to exit of `node -e 0` */
  bareNodeMs: number;
  /** median ms from spawn to the first request the node's IMDS sees */
  firstImdsMs: number;
  firstImdsRatio: number;
  /** median ms from spawn to the `ready` event (claim + live check included) */
  readyMs: number;
  /** median EC2 calls of one node alone (uncontended) until ready */
  uncontendedCalls: number;
  idleS: number;
  idleRssMb: number;
  peakRssMb: number;
  /** CPU time while idle-ready, as a share of one core */
  idleCpuPercent: number;
  idleCpuMs: number;
}

// Clock ticks per second for /proc/PID/stat (getconf CLK_TCK); 100 on every Linux we ship to.
const CLK_TCK = 100;

function procStatus(pid: number): { rssKb: number; hwmKb: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

function bareNode(): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve(Number(process.hrtime.bigint() - start) / 1e6));
  });
}

export async function footprint(options: { reps: number; idleS: number }): Promise<FootprintRow> {
  const bundleBytes = statSync(BUNDLE).size;
  const sim = await startWorld({ nodes: 0, pool: options.reps + 1, ...REALISTIC });
  const bare: number[] = [];
  const firstImds: number[] = [];
  const ready: number[] = [];
  const calls: number[] = [];
  let idle: Pick<FootprintRow, 'idleRssMb' | 'peakRssMb' | 'idleCpuPercent' | 'idleCpuMs'> | undefined;
  try {
    await bareNode(); // warm the page cache for the node binary, as the agent's runs will be
    for (let rep = 0; rep < options.reps; rep++) {
      bare.push(await bareNode());
      const node = await sim.addNode();
      const listen = `127.0.0.1:${await freePort()}`;
      const start = process.hrtime.bigint();
      const agent = runBundle(['run', '--tag-key', 'color', '--tag-value', 'orange', '--health-listen', listen], sim.env(node));
      const ms = () => Number(process.hrtime.bigint() - start) / 1e6;
      await new Promise<void>((resolve, reject) => {
        const timer = setInterval(() => {
          if (node.imds.requests.length > 0) {
            clearInterval(timer);
            resolve();
          } else if (agent.proc.exitCode !== null) {
            clearInterval(timer);
            reject(new Error(`agent exited ${agent.proc.exitCode} before asking IMDS: ${agent.plain.join('\n')}`));
          }
        }, 1);
      });
      firstImds.push(ms());
      try {
        await agent.waitFor('ready', undefined, 60_000);
        ready.push(ms());
        calls.push(sim.ec2.count({ caller: node.instance.instanceId }));
        if (rep === options.reps - 1) {
          const pid = agent.proc.pid!;
          await new Promise((r) => setTimeout(r, 1000)); // let start-up garbage settle
          const ticks = cpuTicks(pid);
          const startedIdle = Date.now();
          await new Promise((r) => setTimeout(r, options.idleS * 1000));
          const cpuMs = ((cpuTicks(pid) - ticks) * 1000) / CLK_TCK;
          const { rssKb, hwmKb } = procStatus(pid);
          idle = { idleRssMb: rssKb / 1024, peakRssMb: hwmKb / 1024, idleCpuMs: cpuMs, idleCpuPercent: (cpuMs / (Date.now() - startedIdle)) * 100 };
        }
      } finally {
        await agent.stop('SIGKILL');
      }
    }
  } finally {
    await sim.close();
  }
  const bareMs = median(bare);
  const imdsMs = median(firstImds);
  return {
    bundleBytes,
    reps: options.reps,
    bareNodeMs: bareMs,
    firstImdsMs: imdsMs,
    firstImdsRatio: imdsMs / bareMs,
    readyMs: median(ready),
    uncontendedCalls: median(calls),
    idleS: options.idleS,
    ...idle!,
  };
}
