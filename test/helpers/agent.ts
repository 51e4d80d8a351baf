// Runs the built bundle (dist/eip-agent.cjs), or the self-contained executable
// (dist/eip-agent), as a separate process, as systemd would, and reads its JSON log events.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const BUNDLE = resolve('dist/eip-agent.cjs');
export const EXECUTABLE = resolve('dist/eip-agent');
/** Two missed looks 5 s apart (live.ts WATCH_MS) make a loss: ~10 s, more on a loaded machine. */
export const LOST_WAIT_MS = 30_000;

export interface LogLine {
  time: string;
  level: string;
  event: string;
  [key: string]: unknown;
}

export interface AgentProcess {
  proc: ChildProcess;
  events: LogLine[];
  /** every stderr line that was not a JSON event */
  plain: string[];
  stdout: string[];
  waitFor(event: string, match?: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `binary`: an executable to run instead of the bundle under this Node (e.g. EXECUTABLE). */
export function runBundle(args: string[], env: Record<string, string>, binary?: string): AgentProcess {
  const proc = spawn(binary ?? process.execPath, binary ? args : [BUNDLE, ...args], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: LogLine[] = [];
  const plain: string[] = [];
  const stdout: string[] = [];
  const waiters = new Set<() => void>();
  const lines = (stream: NodeJS.ReadableStream, onLine: (line: string) => void) => {
    let buffer = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        onLine(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
    });
    stream.on('end', () => buffer && onLine(buffer));
  };
  lines(proc.stderr!, (line) => {
    try {
      events.push(JSON.parse(line) as LogLine);
    } catch {
      plain.push(line);
    }
    for (const wake of waiters) wake();
  });
  lines(proc.stdout!, (line) => stdout.push(line));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    proc.on('close', (code, signal) => {
      done({ code, signal });
      for (const wake of waiters) wake();
    }),
  );

  const waitFor = (event: string, match: (line: LogLine) => boolean = () => true, timeoutMs = 15_000) =>
    new Promise<LogLine>((resolvePromise, reject) => {
      const check = () => {
        const found = events.find((e) => e.event === event && match(e));
        if (found) {
          finish();
          resolvePromise(found);
        } else if (proc.exitCode !== null || proc.signalCode !== null) {
          finish();
          reject(new Error(`agent exited (${proc.exitCode ?? proc.signalCode}) before ${event}; stderr:\n${[...plain, ...events.map((e) => JSON.stringify(e))].slice(-15).join('\n')}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no ${event} within ${timeoutMs} ms; last events:\n${events.slice(-10).map((e) => JSON.stringify(e)).join('\n')}\n${plain.slice(-5).join('\n')}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  return {
    proc,
    events,
    plain,
    stdout,
    waitFor,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Runs a short command of the bundle to its end. */
export async function runToEnd(args: string[], env: Record<string, string>, binary?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const agent = runBundle(args, env, binary);
  const { code } = await agent.exited;
  return { code, stdout: agent.stdout.join('\n'), stderr: [...agent.plain, ...agent.events.map((e) => JSON.stringify(e))].join('\n') };
}
