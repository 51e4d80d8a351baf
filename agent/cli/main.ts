// The command line. The only place that reads argv and the environment, and the only place
// that exits.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, isAgentError, isBadInput } from '../shared/errors.js';
import { createLogger } from '../shared/log.js';
import { sleep, systemClock } from '../shared/time.js';
import type { Out } from './commands/client.js';
import { parseCommandLine } from './args.js';
import { clientConfig, controlConfig, describeConfig, poolConfig, readConfig, readFlags, regionInput, runConfig, type Env, type Result, type RunConfig } from './config.js';
import { VERSION } from './embedded.js';
import type { CommandName } from './flags.js';
import { PATHS } from './install-plan.js';
import { parseEnvFile } from './installed-env.js';
import { acquireLock } from '../adapters/lock.js';
import { claimOnce, runDaemon } from '../lifecycle/daemon.js';
import { productionDeps } from './wiring.js';

// The daemon's own code is imported statically: its modules' bodies are then top-level code,
// which the executable's V8 code cache holds (a lazily imported module is compiled at its first
// use: ~25 ms before the first IMDS request). What else each command needs loads when used
// (import() below): the AWS SDK, the Kubernetes client and YAML are evaluated when first used,
// not at every start (issue 22: a cold start to the first IMDS request near a bare Node's).
const clientCommands = () => import('./commands/client.js');
const installCommands = () => import('./commands/install.js');
const doctorCommands = () => import('./commands/doctor.js');
const poolCommands = () => import('./commands/pool.js');

const out: Out = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

class UsageError extends Error {}

function valid<T>(result: Result<T>): T {
  if (!result.ok) throw new UsageError(result.errors.map((e) => `eip-agent: ${e}`).join('\n'));
  return result.value;
}

/** `run` and `claim`: the lock, the logger, the production dependencies. */
async function withAgent(config: RunConfig, body: 'runDaemon' | 'claimOnce'): Promise<number> {
  const log = createLogger(config.log);
  log.info('config', { version: VERSION, ...describeConfig(config) });
  const lock = acquireLock(config.lockFile);
  try {
    return await { runDaemon, claimOnce }[body](await productionDeps(config, log));
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

async function main(): Promise<number> {
  // The SDK prints a multi-line Node-version notice to stderr on Node 20, which would break
  // the one-JSON-object-a-line log; the supported runtime is the bundled Node 22 anyway.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const line = parseCommandLine(process.argv.slice(2));
  switch (line.kind) {
    case 'help':
      process.stdout.write(line.text);
      return 0;
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case 'usage':
      throw new UsageError(`eip-agent: ${line.message}`);
  }
  return dispatch(line.command, line.argv, process.env);
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
