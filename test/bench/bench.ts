// `npm run bench`: fleet performance of eip-agent on the simulated AWS. Flags:
//   --nodes 50,200,500     storm sizes            --strategy-nodes N   strategies fleet size
//   --oversub-nodes N      over-subscribed fleet  --handoffs N         releases to time
//   --window S             steady window          --idle S             idle-ready seconds
//   --settle S             footprint: from the last start to the idle window
//   --reps N               cold starts            --baseline-cap S     naive baselines give up
//   --cap S                any fleet gives up     --only storm,oversub,strategies,spread,trio,footprint,model
//   --spread-nodes N       spread storm size      --spread S           its boot window
//   --trio-runs N          seeded faulty-trio runs per strategy
//   --model-nodes 200,500  in-process model sizes --model-seeds N     seeds of each
//   --model-trio-seeds N   the faulty trio in the model (0: none)
//   --buckets F            every bucket's size and refill × F (0.4: a busy account)
//   --neighbour F          a neighbour takes this share of each refill while the fleet boots
//   --unknown-nodes N      the `unknown` scenario: N nodes whose interface EC2 does not know
//   --unknown-s S          … for their first S seconds
//   --strategies agent,first-free,random   which strategies the strategies, spread and trio scenarios run
//   --charts DIR           write each storm as an SVG chart (nodes ready over time) into DIR
//   --json                 print the result as JSON instead of tables
import { DEFAULTS, SCENARIOS, STRATEGIES, render, runBench, type BenchOptions, type Scenario } from './run.js';

function parse(argv: string[]): { options: BenchOptions; json: boolean } {
  const options: BenchOptions = { ...DEFAULTS };
  let json = false;
  const positive = (flag: string, text: string | undefined): number => {
    const n = Number(text);
    if (!(n > 0)) throw new Error(`${flag}: expected a positive number, got ${JSON.stringify(text)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => argv[++i];
    switch (flag) {
      case '--json':
        json = true;
        break;
      case '--nodes':
        options.nodes = String(value()).split(',').map((n) => Math.round(positive('--nodes', n)));
        break;
      case '--strategy-nodes':
        options.strategyNodes = Math.round(positive(flag, value()));
        break;
      case '--oversub-nodes':
        options.oversubNodes = Math.max(2, Math.round(positive(flag, value())));
        break;
      case '--handoffs':
        options.handoffs = Math.round(positive(flag, value()));
        break;
      case '--window':
        options.windowS = positive(flag, value());
        break;
      case '--idle':
        options.idleS = positive(flag, value());
        break;
      case '--settle':
        options.settleS = positive(flag, value());
        break;
      case '--reps':
        options.reps = Math.round(positive(flag, value()));
        break;
      case '--cap':
        options.capS = positive(flag, value());
        break;
      case '--baseline-cap':
        options.baselineCapS = positive(flag, value());
        break;
      case '--spread-nodes':
        options.spreadNodes = Math.round(positive(flag, value()));
        break;
      case '--spread':
        options.spreadS = positive(flag, value());
        break;
      case '--trio-runs':
        options.trioRuns = Math.round(positive(flag, value()));
        break;
      case '--model-nodes':
        options.modelNodes = String(value()).split(',').map((n) => Math.round(positive('--model-nodes', n)));
        break;
      case '--model-seeds':
        options.modelSeeds = Math.round(positive(flag, value()));
        break;
      case '--model-trio-seeds': {
        const text = value();
        options.modelTrioSeeds = text === '0' ? 0 : Math.round(positive(flag, text));
        break;
      }
      case '--buckets':
        options.buckets = positive(flag, value());
        break;
      case '--neighbour': {
        const share = Number(value());
        if (!(share >= 0 && share < 1)) throw new Error(`--neighbour: expected a share from 0 to below 1, got ${share}`);
        options.neighbour = share;
        break;
      }
      case '--unknown-nodes':
        options.unknownNodes = Math.round(positive(flag, value()));
        break;
      case '--unknown-s':
        options.unknownS = positive(flag, value());
        break;
      case '--strategies': {
        const chosen = String(value()).split(',');
        const unknown = chosen.filter((c) => !(STRATEGIES as string[]).includes(c));
        if (unknown.length || chosen.length === 0) throw new Error(`--strategies: expected some of ${STRATEGIES.join(',')}, got ${unknown.join(',')}`);
        options.strategies = STRATEGIES.filter((s) => chosen.includes(s));
        break;
      }
      case '--charts':
        options.chartsDir = String(value());
        break;
      case '--only': {
        const chosen = String(value()).split(',');
        const bad = chosen.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
        if (bad.length) throw new Error(`--only: expected some of ${SCENARIOS.join(', ')}, got ${bad.join(', ')}`);
        options.scenarios = chosen as Scenario[];
        break;
      }
      default:
        throw new Error(`unknown flag ${flag} (see the head of test/bench/bench.ts)`);
    }
  }
  return { options, json };
}

async function main(): Promise<void> {
  const { options, json } = parse(process.argv.slice(2));
  // Every in-process agent gets explicit credentials and endpoint; keep ambient AWS files out.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
  process.env['AWS_CONFIG_FILE'] = '/nonexistent/eip-agent-bench/config';
  process.env['AWS_SHARED_CREDENTIALS_FILE'] = '/nonexistent/eip-agent-bench/credentials';
  const result = await runBench(options, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : render(result));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
