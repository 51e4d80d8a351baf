// Each storm drawn: nodes ready over time for the agent and the baselines, the buckets' floor
// marked. Vega-Lite compiles the spec, Vega renders it headless to SVG (no browser, no canvas).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { FleetRow } from './scenarios.js';

/** The file name of a storm's chart: its size and the account's load. */
export function chartName(row: Pick<FleetRow, 'nodes' | 'load'>): string {
  const scale = row.load?.scale ?? 1;
  const neighbour = row.load?.neighbour?.mutating ?? 0;
  const load = `${scale === 1 ? 'published' : `buckets-${scale}`}${neighbour > 0 ? `-neighbour-${neighbour}` : ''}`;
  return `storm-${row.nodes}-${load}.svg`;
}

/** The Vega-Lite spec of one storm: a step line per strategy, a rule at the floor. */
export function stormSpec(rows: readonly FleetRow[]): vegaLite.TopLevelSpec {
  const first = rows[0]!;
  const values = rows.flatMap((r) => [{ strategy: r.strategy, s: 0, ready: 0 }, ...r.readyAtS.map((s, i) => ({ strategy: r.strategy, s: Math.round(s * 100) / 100, ready: i + 1 }))]);
  const scale = first.load?.scale ?? 1;
  const neighbour = first.load?.neighbour?.mutating ?? 0;
  const account = `${scale === 1 ? 'published buckets' : `buckets at ${scale}×`}${neighbour > 0 ? `, a neighbour taking ${Math.round(neighbour * 100)} % of each refill` : ''}`;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `${first.nodes} nodes boot at once on ${first.pool} addresses`, subtitle: `${account}; floor ${first.floorS.toFixed(0)} s` },
    width: 560,
    height: 300,
    layer: [
      {
        data: { values },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x: { field: 's', type: 'quantitative', title: 's since boot' },
          y: { field: 'ready', type: 'quantitative', title: 'nodes ready' },
          color: { field: 'strategy', type: 'nominal', sort: ['agent', 'random', 'first-free'] },
        },
      },
      {
        data: { values: [{ floor: first.floorS }] },
        mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' },
        encoding: { x: { field: 'floor', type: 'quantitative' } },
      },
      {
        data: { values: [{ floor: first.floorS, label: 'floor' }] },
        mark: { type: 'text', align: 'left', dx: 4, dy: -130, color: 'gray' },
        encoding: { x: { field: 'floor', type: 'quantitative' }, text: { field: 'label' } },
      },
    ],
  };
}

export async function renderSvg(spec: vegaLite.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Writes one chart per storm size and load (the agent's storm with whatever baselines ran beside it). */
export async function writeCharts(fleets: readonly FleetRow[], dir: string): Promise<string[]> {
  const storms = fleets.filter((r) => r.scenario === 'storm' || r.scenario === 'strategy');
  const groups = new Map<string, FleetRow[]>();
  for (const row of storms) {
    const name = chartName(row);
    const group = groups.get(name) ?? [];
    if (!group.some((r) => r.strategy === row.strategy)) group.push(row);
    groups.set(name, group);
  }
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, rows] of groups) {
    const path = join(dir, name);
    await writeFile(path, await renderSvg(stormSpec(rows)));
    written.push(path);
  }
  return written;
}
