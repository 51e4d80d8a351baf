// Small statistics and table rendering for the benchmark. Pure.

export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of already-sorted values; NaN for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.length ? sorted.reduce((s, v) => s + v, 0) / sorted.length : NaN;
  return { n: sorted.length, mean, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.length ? sorted[sorted.length - 1]! : NaN };
}

// The mutating bucket's actions among the agent's calls.
const MUTATING: ReadonlySet<string> = new Set(['AssociateAddress', 'DisassociateAddress']);

/**
 * Each node's EC2 calls up to its ready (all of them if it never became ready), and how many
 * of them were mutating: one pass over the call log.
 */
export function callsUntilReady(
  calls: readonly { caller?: string | undefined; at: number; action: string }[],
  nodes: readonly { caller: string; readyAt: number | undefined }[],
): { all: number[]; mutating: number[] } {
  const index = new Map(nodes.map((n, i) => [n.caller, i]));
  const all = nodes.map(() => 0);
  const mutating = nodes.map(() => 0);
  for (const c of calls) {
    const i = c.caller === undefined ? undefined : index.get(c.caller);
    if (i === undefined) continue;
    const readyAt = nodes[i]!.readyAt;
    if (readyAt !== undefined && c.at > readyAt) continue;
    all[i]! += 1;
    if (MUTATING.has(c.action)) mutating[i]! += 1;
  }
  return { all, mutating };
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** A number for a table cell: fixed decimals, `-` for NaN or undefined. */
export function fmt(value: number | undefined, decimals = 1): string {
  return value === undefined || Number.isNaN(value) ? '-' : value.toFixed(decimals);
}

/** A plain-text table with a header rule; cells are left-aligned, padded to the widest. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
