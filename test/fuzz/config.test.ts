// Fuzz: random flag values and EIP_AGENT_*/AWS_* environment values through readFlags and
// runConfig/clientConfig (pure, in-process). Whatever comes in, they never throw; they
// return a configuration or errors, each one line starting with the name of an input that
// was actually given (`--flag:`, `EIP_AGENT_…:`, `AWS_…:`), or `--tag-key:` when it is missing (G6).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clientConfig, readConfig, readFlags, runConfig, type Env, type RunConfig } from '../../agent/cli/config.js';
import { FLAGS, camel, envName, flagsFor, type CommandName } from '../../agent/cli/flags.js';
import { nastyString, rng, type Rng } from './random.js';

const CASES = 600;
const AWS_VARS = ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_EC2_METADATA_SERVICE_ENDPOINT', 'AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE'];
const OTHER_VARS = ['KUBECONFIG', 'INVOCATION_ID', 'NOTIFY_SOCKET'];

/** A plausible good value for a flag, so that cases mix good and bad inputs. */
function goodValue(name: string, r: Rng): string {
  const good: Record<string, string[]> = {
    'tag-key': ['color', 'eip-pool', 'a'.repeat(128)],
    'tag-value': ['orange', '', 'b'.repeat(256)],
    'device-index': ['0', '1', '31'],
    'private-ip': ['10.0.0.5'],
    region: ['eu-west-1', 'us-gov-west-1', 'ap-southeast-4'],
    'live-check': ['imds', 'egress', 'none'],
    'egress-check-url': ['https://checkip.amazonaws.com', 'http://127.0.0.1:9/ip'],
    'claim-timeout': ['0', '30', '2.5'],
    'relist-interval': ['0.05', '5'],
    'drain-timeout': ['0', '300', '604800'],
    'health-listen': ['127.0.0.1:8099', '[::1]:0', 'localhost:1', '0.0.0.0:8099', ':8099'],
    'log-format': ['json', 'text'],
    'log-level': ['debug', 'info', 'warn', 'error'],
    timeout: ['1', '600'],
    format: ['json', 'text'],
  };
  return r.pick(good[name] ?? ['x']);
}

interface Case {
  command: CommandName;
  argv: Record<string, unknown>;
  env: Record<string, string | undefined>;
}

function makeCase(r: Rng): Case {
  const command = r.pick<CommandName>(['run', 'run', 'run', 'install', 'wait', 'status', 'release']);
  const argv: Record<string, unknown> = {};
  const env: Record<string, string | undefined> = {};
  for (const flag of flagsFor(command)) {
    const roll = r.next();
    if (roll < 0.35) continue;
    const value = r.chance(0.5) ? goodValue(flag.name, r) : nastyString(r);
    if (roll < 0.7) {
      // As the command line (args.ts) hands them over: a string, or a boolean for boolean
      // flags. (A repeated flag, an array, has its own test below.)
      argv[camel(flag.name)] = flag.spec.type === 'boolean' && r.chance(0.5) ? r.chance(0.5) : value;
    } else {
      env[envName(flag.name)] = value;
    }
  }
  if (command === 'run' && r.chance(0.9) && argv['tagKey'] === undefined) argv['tagKey'] = 'color';
  for (const name of [...AWS_VARS, ...OTHER_VARS]) {
    if (r.chance(0.25)) env[name] = r.chance(0.5) ? { AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'us-east-1', AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:1', AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'IPv6' }[name] ?? 'x' : nastyString(r);
  }
  return { command, argv, env };
}

/** The inputs a case gave: `--flag` for argv keys, variable names for non-empty env values. */
function given(c: Case): Set<string> {
  const names = new Set<string>();
  for (const name of Object.keys(FLAGS)) if (c.argv[camel(name)] !== undefined) names.add(`--${name}`);
  for (const [name, value] of Object.entries(c.env)) if (value !== undefined && value !== '') names.add(name);
  return names;
}

/** As main.ts does: readConfig (every error of both stages at once); readFlags alone must not throw either. */
function run(c: Case): { ok: true; value: unknown } | { ok: false; errors: string[] } {
  const env = c.env as Env;
  const flags = readFlags(c.command, c.argv, env);
  if (c.command === 'run' || c.command === 'install') return readConfig(c.command, c.argv, env, (f) => runConfig(f, env));
  if (c.command === 'wait' || c.command === 'status' || c.command === 'release') return readConfig(c.command, c.argv, env, clientConfig);
  return flags;
}

function checkErrors(c: Case, errors: string[]): void {
  assert.ok(errors.length > 0, 'not ok means at least one error');
  const inputs = given(c);
  for (const error of errors) {
    assert.doesNotMatch(error, /[\n\r]/, `one line: ${JSON.stringify(error)}`);
    const name = /^(--[a-z-]+|EIP_AGENT_[A-Z_]+|AWS_[A-Z0-9_]+): \S/.exec(error)?.[1];
    assert.ok(name, `starts with an input's name: ${JSON.stringify(error.slice(0, 200))}`);
    assert.ok(inputs.has(name) || (name === '--tag-key' && error.includes('required')), `${name} was given by this case: ${error.slice(0, 200)}`);
  }
}

function checkRunConfig(value: unknown): void {
  const config = value as RunConfig;
  assert.ok(Object.isFrozen(config));
  assert.ok(config.pool.tagKey.length > 0 && config.pool.tagKey.length <= 128);
  assert.ok(Number.isInteger(config.deviceIndex) && config.deviceIndex >= 0 && config.deviceIndex <= 31);
  for (const ms of [config.claimTimeoutMs, config.drainTimeoutMs, config.relistIntervalMs]) assert.ok(Number.isFinite(ms) && ms >= 0);
  assert.ok(Number.isInteger(config.health.port) && config.health.port >= 0 && config.health.port <= 65535);
  assert.ok(['imds', 'egress', 'none'].includes(config.liveCheck));
}

describe('fuzz: flags and environment', () => {
  test(`${CASES} random cases: never a throw; a config, or one-line errors naming a given input`, () => {
    const r = rng(0x5eed_c0f1);
    const seen = { ok: 0, errors: 0 };
    for (let i = 0; i < CASES; i++) {
      const c = makeCase(r);
      let result: ReturnType<typeof run>;
      try {
        result = run(c);
      } catch (error) {
        assert.fail(`case ${i} threw ${String(error)}: ${JSON.stringify(c).slice(0, 500)}`);
      }
      try {
        seen[result.ok ? 'ok' : 'errors'] += 1;
        if (result.ok) {
          if (c.command === 'run' || c.command === 'install') checkRunConfig(result.value);
        } else {
          checkErrors(c, result.errors);
        }
      } catch (error) {
        throw new Error(`case ${i}: ${JSON.stringify(c).slice(0, 500)}\n${(error as Error).message}`);
      }
    }
    // The generator must exercise both sides.
    assert.ok(seen.ok > CASES / 10 && seen.errors > CASES / 10, JSON.stringify(seen));
  });

  test('a bad AWS_DEFAULT_REGION (AWS_REGION unset) is reported under its own name', () => {
    const env = { AWS_DEFAULT_REGION: 'moon-base-1' };
    const flags = readFlags('run', { tagKey: 'color' }, env);
    assert.ok(flags.ok);
    const result = runConfig(flags.value, env);
    assert.deepEqual(result, { ok: false, errors: ['AWS_DEFAULT_REGION: expected an AWS region such as eu-west-1, got "moon-base-1"'] });
  });

  test('a flag given twice is an error naming the flag, not the values joined with a comma', () => {
    const flags = readFlags('run', { tagKey: ['color', 'colour'] }, {});
    assert.equal(flags.ok, false, `accepted as ${JSON.stringify(flags.ok && flags.value.get('tag-key'))}`);
    assert.ok(!flags.ok && flags.errors.every((e) => e.startsWith('--tag-key: ')));
  });

  test('every flag given twice: exactly one error, naming that flag (as main.ts reads them, with readConfig)', () => {
    for (const command of ['run', 'wait'] as const) {
      for (const flag of flagsFor(command)) {
        const argv = { tagKey: 'color', [camel(flag.name)]: flag.spec.type === 'boolean' ? [true, false] : [goodValue(flag.name, rng(1)), goodValue(flag.name, rng(2))] };
        const result = command === 'run' ? readConfig(command, argv, {}, (f) => runConfig(f, {})) : readConfig(command, argv, {}, clientConfig);
        assert.deepEqual(result.ok ? [] : result.errors, [`--${flag.name}: expected once, given 2 times`], `${command} --${flag.name} twice`);
      }
    }
  });
});
