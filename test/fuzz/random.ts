// A seeded random source for the fuzz tests, so that every run tries the same cases and a
// failure names the seed and case that reproduce it.

export interface Rng {
  /** [0, 1) */
  next(): number;
  int(max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

/** mulberry32: tiny, fast, good enough to spread cases. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number) => Math.floor(next() * max);
  return { next, int, pick: (items) => items[int(items.length)]!, chance: (p) => next() < p };
}

/** Nasty strings: empty, whitespace, control characters, quotes, unicode, huge, numbers-ish. */
export const NASTY: readonly string[] = [
  '',
  ' ',
  '\t',
  '\n',
  '\r\n',
  '\0',
  '\u001b[31m',
  '"',
  "'",
  '\\',
  '`rm -rf /`',
  '$(id)',
  '${HOME}',
  '%s%n',
  '-1',
  '-0',
  '0',
  '1e309',
  'NaN',
  'Infinity',
  '0x10',
  '1_000',
  ' 5 ',
  '3.5',
  '99999999999999999999',
  'true',
  'false',
  'null',
  'undefined',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'aws:x',
  'é',
  '\u202e',
  '\ud800',
  '😀',
  '\uFEFF',
  '127.0.0.1:',
  ':80',
  '[::1]:8099',
  '[::1:8099',
  '0.0.0.0:99999',
  'localhost:8099',
  'http://',
  'https://x',
  'ftp://x/',
  'eu-west-1',
  'EU-WEST-1',
  '10.0.0.1',
  '10.0.0.256',
  '::1',
  'x'.repeat(129),
  'y'.repeat(257),
  'z'.repeat(10_000),
];

/** A random string: a nasty one, a mutation of one, or random code points. */
export function nastyString(r: Rng): string {
  switch (r.int(4)) {
    case 0:
      return r.pick(NASTY);
    case 1:
      return r.pick(NASTY) + r.pick(NASTY);
    case 2: {
      let s = '';
      const n = r.int(20);
      for (let i = 0; i < n; i++) s += String.fromCodePoint(r.chance(0.7) ? 32 + r.int(95) : r.int(0x2ffff));
      return s;
    }
    default:
      return String(r.chance(0.5) ? r.int(100_000) - 50_000 : r.next() * 10 ** r.int(12));
  }
}
