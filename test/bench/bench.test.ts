// The benchmark itself must not rot: a tiny run of every scenario completes, every row is
// there, every node became ready and nothing was claimed twice. No timing assertions.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runBench, render, SCENARIOS, STRATEGIES } from './run.js';

test('a tiny bench (N = 5) runs every scenario to the end with 0 double claims', { timeout: 240_000 }, async () => {
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
  const charts = mkdtempSync(join(tmpdir(), 'eip-bench-charts-'));
  after(() => rmSync(charts, { recursive: true, force: true }));
  const result = await runBench({
    scenarios: [...SCENARIOS],
    nodes: [5],
    strategyNodes: 5,
    oversubNodes: 5,
    handoffs: 1,
    windowS: 2,
    capS: 120,
    baselineCapS: 120,
    reps: 1,
    idleS: 1,
    settleS: 1,
    spreadNodes: 5,
    spreadS: 1,
    trioRuns: 1,
    modelNodes: [20],
    modelSeeds: 1,
    modelTrioSeeds: 3,
    // A busy account: every bucket at half, a neighbour taking a fifth of each refill.
    buckets: 0.5,
    neighbour: 0.2,
    unknownNodes: 2,
    unknownS: 1,
    chartsDir: charts,
    strategies: STRATEGIES,
  });
  const rows = result.fleets.map((r) => `${r.scenario}/${r.strategy}`);
  assert.deepEqual(rows, ['storm/agent', 'over-subscribed/agent', 'strategy/agent', 'strategy/first-free', 'strategy/random', 'spread/agent', 'spread/first-free', 'spread/random', 'unknown-eni/agent']);
  // The storm's chart: one SVG with a line for each strategy.
  assert.deepEqual(readdirSync(charts), ['storm-5-buckets-0.5-neighbour-0.2.svg']);
  const svg = readFileSync(join(charts, 'storm-5-buckets-0.5-neighbour-0.2.svg'), 'utf8');
  assert.match(svg, /^<svg/);
  for (const strategy of ['agent', 'random', 'first-free']) assert.match(svg, new RegExp(`>${strategy}<`));
  assert.deepEqual(result.trio.map((t) => [t.strategy, t.runs, t.doubleClaims, t.failures.length, Number.isFinite(t.allReadyS.max)]), [
    ['agent', 1, 0, 0, true],
    ['first-free', 1, 0, 0, true],
    ['random', 1, 0, 0, true],
  ]);
  for (const row of result.fleets) {
    const name = `${row.scenario}/${row.strategy}`;
    assert.deepEqual(row.failures, [], name);
    assert.equal(row.doubleClaims.total, 0, `${name}: ${JSON.stringify(row.doubleClaims)}`);
    // Over-subscribed: the pool's worth at first, plus one waiting node per hand-off.
    const expected = row.scenario === 'over-subscribed' ? row.pool + 1 : row.nodes;
    assert.equal(row.ready, expected, `${name}: nodes ready`);
    assert.ok(row.allReadyS !== undefined, `${name}: all ready`);
  }
  assert.equal(result.fleets[1]!.oversub?.handoffS.n, 1);
  assert.ok(result.footprint && result.footprint.bundleBytes > 0 && result.footprint.idleRssMb > 0);
  const text = render(result);
  assert.deepEqual(result.model.map((m) => [m.nodes, m.ready, m.doubleClaims]), [[20, 20, 0]]);
  assert.deepEqual([result.modelTrio?.seeds, result.modelTrio?.allReadyS.n, result.modelTrio?.doubleClaims, result.modelTrio?.notReady], [3, 3, 0, []]);
  // Where the model's calls go: the breakdown adds up to the calls a node.
  const m = result.model[0]!;
  const byKind = Object.values(m.byKind).reduce((sum, n) => sum + n, 0);
  assert.ok(Math.abs(byKind - m.calls.reduce((sum, n) => sum + n, 0) / m.calls.length) < 1e-9, `${byKind}`);
  assert.ok((m.byKind['AssociateAddress ok'] ?? 0) > 0);
  for (const heading of ['by action and answer', 'Fleets', 'Strategies', 'Over-subscribed', 'Faulty trio', 'In-process model', 'In-process faulty trio', 'Footprint']) assert.match(text, new RegExp(heading));
});
