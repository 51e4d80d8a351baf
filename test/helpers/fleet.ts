// Starting real agent processes against a simulated world, and reading them back.
import { request } from 'undici';
import { Sim, type SimNode, type SimOptions } from '../sim/sim.js';
import { runBundle, type AgentProcess } from './agent.js';

export interface Started {
  agent: AgentProcess;
  /** the health endpoint's HOST:PORT, once the agent says where it listens */
  listen(): Promise<string>;
  get(path: string): Promise<{ status: number; body: string; json: () => any }>;
}

/** Flags that keep the tests quick: short re-list interval and drain polling. */
export const FAST = ['--relist-interval', '0.2'];

export async function startAgent(sim: Sim, node: SimNode, args: string[] = [], env: Record<string, string> = {}): Promise<Started> {
  // Port 0: the agent binds a free port and logs it; picking one ahead would race other tests.
  const agent = runBundle(['run', '--tag-key', 'color', '--tag-value', 'orange', '--health-listen', '127.0.0.1:0', ...FAST, ...args], {
    ...sim.env(node),
    ...env,
  });
  const listen = async () => String((await agent.waitFor('health.listening'))['listen']);
  return {
    agent,
    listen,
    get: async (path) => {
      const res = await request(`http://${await listen()}${path}`);
      const body = await res.body.text();
      return { status: res.statusCode, body, json: () => JSON.parse(body) };
    },
  };
}

export function associateCalls(sim: Sim, node: SimNode): number {
  return sim.ec2.count({ action: 'AssociateAddress', caller: node.instance.instanceId });
}

/** Polls a condition every 50 ms until it holds, or fails after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A simulated AWS of its own for one test, closed whatever happens. */
export async function withSim(options: SimOptions, body: (sim: Sim) => Promise<void>): Promise<void> {
  const sim = await Sim.start(options);
  try {
    await body(sim);
  } finally {
    await sim.close();
  }
}
