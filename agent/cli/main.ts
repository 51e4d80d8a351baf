// The command line. The only place that reads argv and the environment, and the only place
// that exits.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { errorMessage, isAgentError, isBadInput } from '../shared/errors.js';
import { createLogger } from '../shared/log.js';
import { sleep, systemClock } from '../shared/time.js';
import type { Out } from './commands/client.js';
import { clientConfig, controlConfig, describeConfig, poolConfig, readConfig, readFlags, regionInput, runConfig, type Env, type Result, type RunConfig } from './config.js';
import { VERSION } from './embedded.js';
import { envName, flagsFor, type CommandName } from './flags.js';
import { PATHS } from './install-plan.js';
import { parseEnvFile } from './installed-env.js';

// Each command loads only the code it runs (import() below): the AWS SDK, the Kubernetes
// client and YAML are evaluated when first used, not at every start (issue 22: a cold start
// to the first IMDS request near a bare Node's).
const daemon = () => import('../lifecycle/daemon.js');
const clientCommands = () => import('./commands/client.js');
const installCommands = () => import('./commands/install.js');
const doctorCommands = () => import('./commands/doctor.js');
const poolCommands = () => import('./commands/pool.js');

const out: Out = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

class UsageError extends Error {}

function options(y: Argv, command: CommandName): Argv {
  for (const { name, spec } of flagsFor(command)) {
    // yargs only collects strings (and booleans); config.ts converts and validates them so
    // that a flag and its variable get the same one-line error (G6).
    y.option(name, {
      type: spec.type === 'boolean' ? 'boolean' : 'string',
      requiresArg: spec.type !== 'boolean',
      describe: `${spec.describe} [env ${envName(name)}]`,
      ...(spec.default !== undefined ? { defaultDescription: JSON.stringify(spec.default) } : {}),
    });
    // --help labels it [number]; parsing keeps the text (a key also declared a string stays one).
    if (spec.type === 'number') y.number(name);
  }
  return y;
}

function valid<T>(result: Result<T>): T {
  if (!result.ok) throw new UsageError(result.errors.map((e) => `eip-agent: ${e}`).join('\n'));
  return result.value;
}

/** `run` and `claim`: the lock, the logger, the production dependencies. */
async function withAgent(config: RunConfig, body: 'runDaemon' | 'claimOnce'): Promise<number> {
  const log = createLogger(config.log);
  log.info('config', { version: VERSION, ...describeConfig(config) });
  const [{ acquireLock }, { productionDeps }, lifecycle] = await Promise.all([import('../adapters/lock.js'), import('./wiring.js'), daemon()]);
  const lock = acquireLock(config.lockFile);
  try {
    return await lifecycle[body](await productionDeps(config, log));
  } finally {
    lock.release();
  }
}

function installedEnv(argv: Record<string, unknown>, env: Env): Record<string, string> {
  const root = typeof argv['root'] === 'string' ? argv['root'] : env['EIP_AGENT_ROOT'] || '/';
  try {
    return parseEnvFile(readFileSync(join(root, PATHS.env), 'utf8'));
  } catch {
    return {}; // not installed (or not readable): flags and the environment alone
  }
}

async function dispatch(command: CommandName, argv: Record<string, unknown>, env: Env): Promise<number> {
  const flags = () => valid(readFlags(command, argv, env));
  const client = () => valid(readConfig(command, argv, env, clientConfig));
  const daemonConfig = () => valid(readConfig(command, argv, env, (f) => runConfig(f, env)));
  switch (command) {
    case 'run':
      return withAgent(daemonConfig(), 'runDaemon');
    case 'claim':
      return withAgent(daemonConfig(), 'claimOnce');
    case 'wait':
      return (await clientCommands()).waitCommand(client(), flags().get('timeout'), { ...out, clock: systemClock, sleep });
    case 'status':
      return (await clientCommands()).statusCommand(client(), flags().get('format') ?? 'json', out);
    case 'release':
      return (await clientCommands()).releaseCommand(valid(readConfig(command, argv, env, controlConfig)), flags().get('force'), out);
    case 'install': {
      // The same checks as `run`: bad flags fail now, not at the next boot (G6).
      daemonConfig();
      const { installCommand, runSystemctl } = await installCommands();
      return installCommand(flags(), { ...out, self: process.argv[1] ?? process.execPath, systemctl: runSystemctl });
    }
    case 'uninstall': {
      const { uninstallCommand, runSystemctl } = await installCommands();
      return uninstallCommand(flags(), { ...out, systemctl: runSystemctl });
    }
    case 'doctor': {
      // On an installed node, the settings install wrote stand in for missing variables.
      env = { ...installedEnv(argv, env), ...env };
      const config = valid(readConfig(command, argv, env, (f) => runConfig(f, env)));
      const f = valid(readFlags(command, argv, env));
      const options = { config, region: regionInput(f, env), format: f.get('format') ?? 'text', root: f.get('root'), env };
      const { doctorCommand, productionDoctorDeps } = await doctorCommands();
      return doctorCommand(options, productionDoctorDeps(options), out);
    }
    case 'pool': {
      const config = valid(readConfig(command, argv, env, (f) => poolConfig(f, env)));
      const { poolCommand, productionPoolDeps } = await poolCommands();
      return poolCommand(config, flags().get('format') ?? 'text', productionPoolDeps(config, out));
    }
  }
}

const COMMANDS: [CommandName, string][] = [
  ['run', 'the daemon: claim or resume an address, prove it live, serve health, release at the end of the node'],
  ['claim', 'one shot: claim or resume an address, wait until it is live, exit (a later run resumes it)'],
  ['wait', 'the gate: wait until the daemon is ready (exit 0), or time out (exit 1)'],
  ['status', "print the daemon's status"],
  ['release', 'ask the daemon to drain-wait and release now'],
  ['install', 'write the systemd unit, the kubelet gate and the settings, then enable and start the agent'],
  ['uninstall', 'remove what install wrote'],
  ['doctor', 'check on this node everything the claim needs (IMDS, credentials, region, pool, IAM by DryRun, clock, Kubernetes, systemd); changes nothing'],
  ['pool', 'show the pool: each address with its holder, then size and free (read-only: Describe* calls only)'],
];

async function main(): Promise<number> {
  // The SDK prints a multi-line Node-version notice to stderr on Node 20, which would break
  // the one-JSON-object-a-line log; the supported runtime is the bundled Node 22 anyway.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  let chosen: { command: CommandName; argv: Record<string, unknown> } | undefined;
  const cli = yargs(hideBin(process.argv))
    .scriptName('eip-agent')
    .usage('$0 <command> [flags]\n\nGives this Kubernetes node a static public IP from a tagged Elastic IP pool.')
    .strict()
    .demandCommand(1, `expected a command (${COMMANDS.map(([name]) => name).join(', ')})`)
    .fail((message, error) => {
      throw error ?? new UsageError(`eip-agent: ${message}`);
    })
    .version(VERSION)
    .help();
  for (const [name, describe] of COMMANDS) {
    cli.command(name, describe, (y) => options(y, name), (argv) => {
      chosen = { command: name, argv };
    });
  }
  await cli.parseAsync();
  if (!chosen) return 0; // --help, --version
  return dispatch(chosen.command, chosen.argv, process.env);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    // One line naming the input and what was expected (G6); no stack for known faults, and
    // the whole stack for anything else: that is a bug.
    process.stderr.write(`eip-agent: ${errorMessage(error)}\n`);
    if (!isAgentError(error)) process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(isBadInput(error) ? 2 : 1);
  },
);
