// Logs are events: one JSON object a line, a stable `event` name and its facts. The set of
// event names is closed (LOG_EVENTS; README's "Log events" names each) so that operators can alert on them.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'text';

export const LOG_EVENTS = [
  'config',
  'phase',
  'identity',
  'pool.listed',
  'pool.exhausted',
  'claim.attempt',
  'claim.conflict',
  'claim.vanished',
  'claim.refused',
  'claim.target-unknown',
  'region.mismatch',
  'claim.unconfirmed',
  'claim.associated',
  'claim.resumed',
  'claim.uncertain',
  'claim.foreign-eip',
  'claim.held-elsewhere',
  'claim.wait',
  'live.waiting',
  'ready',
  'address.lost',
  'address.back',
  'address.readopted',
  'health.listening',
  'health.exposed',
  'notify.sent',
  'notify.failed',
  'termination',
  'rebalance',
  'restart.keep',
  'drain.waiting',
  'drain.skipped',
  'drain.done',
  'drain.timeout',
  'release.start',
  'release.skipped',
  'release.failed',
  'released',
  'monitor.error',
  'cluster.node',
  'cluster.labelled',
  'cluster.unlabelled',
  'cluster.unreachable',
  'gate.open',
  'imds.hop-limit',
  'release.refused',
  'retry',
] as const;

export type LogEvent = (typeof LOG_EVENTS)[number];

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(event: LogEvent, fields?: Fields): void;
  info(event: LogEvent, fields?: Fields): void;
  warn(event: LogEvent, fields?: Fields): void;
  error(event: LogEvent, fields?: Fields): void;
}

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  write?: (line: string) => void;
  now?: () => Date;
}

function textValue(value: unknown): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const min = ORDER[options.level];
  const emit = (level: LogLevel, event: LogEvent, fields: Fields = {}): void => {
    if (ORDER[level] < min) return;
    const time = now().toISOString();
    if (options.format === 'json') {
      write(JSON.stringify({ time, level, event, ...fields }));
    } else {
      const facts = Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${textValue(v)}`)
        .join(' ');
      write(`${time} ${level.toUpperCase().padEnd(5)} ${event}${facts ? ` ${facts}` : ''}`);
    }
  };
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
  };
}

export interface LoggedEvent {
  /** epoch ms, from the clock handed in */
  at: number;
  level: LogLevel;
  event: LogEvent;
  fields: Fields;
}

/** For tests, the benchmark and the soak: a logger that keeps what it was told, from `level` up. */
export function memoryLogger(options: { now?: () => number; level?: LogLevel } = {}): Logger & { events: LoggedEvent[] } {
  const events: LoggedEvent[] = [];
  const now = options.now ?? Date.now;
  const min = ORDER[options.level ?? 'debug'];
  const push = (level: LogLevel) => (event: LogEvent, fields: Fields = {}) => {
    if (ORDER[level] >= min) events.push({ at: now(), level, event, fields });
  };
  return { events, debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
}
