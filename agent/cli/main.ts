// The command line. The only place that reads argv and the environment, and the only place
// that exits.
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { clientConfig, readConfig, readFlags, runConfig, type Env, type Result } from './config.js';
import { releaseCommand, statusCommand, waitCommand, type Out } from './commands/client.js';
import { installCommand, runSystemctl, uninstallCommand } from './commands/install.js';
import { runDaemon } from '../lifecycle/daemon.js';
import { isAgentError, errorMessage } from '../shared/errors.js';
import { envName, flagsFor, type CommandName } from './flags.js';
import { acquireLock } from '../adapters/lock.js';
import { createLogger } from '../shared/log.js';
import { sleep, systemClock } from '../shared/time.js';
import { productionDeps } from './wiring.js';

const out: Out = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

class UsageError extends Error {}

function options(y: Argv, command: CommandName): Argv {
  for (const flag of flagsFor(command)) {
    // yargs only collects strings (and booleans); config.ts converts and validates them so
    // that a flag and its variable get the same one-line error (G6).
    y.option(flag.name, {
      type: flag.type === 'boolean' ? 'boolean' : 'string',
      requiresArg: flag.type !== 'boolean',
      describe: `${flag.describe} [env ${envName(flag.name)}]`,
      ...(flag.default !== undefined ? { defaultDescription: JSON.stringify(flag.default) } : {}),
    });
  }
  return y;
}

function valid<T>(result: Result<T>): T {
  if (!result.ok) throw new UsageError(result.errors.map((e) => `eip-agent: ${e}`).join('\n'));
  return result.value;
}

async function dispatch(command: CommandName, argv: Record<string, unknown>, env: Env): Promise<number> {
  const flags = () => valid(readFlags(command, argv, env));
  const client = () => valid(readConfig(command, argv, env, clientConfig));
  switch (command) {
    case 'run': {
      const config = valid(readConfig(command, argv, env, (f) => runConfig(f, env)));
      const log = createLogger(config.log);
      const lock = acquireLock(config.lockFile);
      try {
        return await runDaemon(await productionDeps(config, log));
      } finally {
        lock.release();
      }
    }
    case 'wait':
      return waitCommand(client(), flags().values['timeout'] as number, { ...out, clock: systemClock, sleep });
    case 'status':
      return statusCommand(client(), flags().values['format'] as string, out);
    case 'release':
      return releaseCommand(client(), flags().values['force'] as boolean, out);
    case 'install':
      // The same checks as `run`: bad flags fail now, not at the next boot (G6).
      valid(readConfig(command, argv, env, (f) => runConfig(f, env)));
      return installCommand(flags(), { ...out, self: process.argv[1] ?? process.execPath, systemctl: runSystemctl });
    case 'uninstall':
      return uninstallCommand(flags(), { ...out, systemctl: runSystemctl });
    default:
      throw new UsageError(`eip-agent ${command}: not available in this build`);
  }
}

async function main(): Promise<number> {
  // The SDK prints a multi-line Node-version notice to stderr on Node 20, which would break
  // the one-JSON-object-a-line log; the supported runtime is the bundled Node 22 anyway.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  let chosen: { command: CommandName; argv: Record<string, unknown> } | undefined;
  const cli = yargs(hideBin(process.argv))
    .scriptName('eip-agent')
    .usage('$0 <command> [flags]\n\nGives this Kubernetes node a static public IP from a tagged Elastic IP pool.')
    .strict()
    .demandCommand(1, 'eip-agent: expected a command (run, wait, status, release, install, uninstall)')
    .fail((message, error) => {
      throw error ?? new UsageError(`eip-agent: ${message}`);
    })
    .version(false)
    .help();
  const commands: [CommandName, string][] = [
    ['run', 'the daemon: claim or resume an address, prove it live, serve health, release at the end of the node'],
    ['wait', 'the gate: wait until the daemon is ready (exit 0), or time out (exit 1)'],
    ['status', "print the daemon's status"],
    ['release', 'ask the daemon to drain-wait and release now'],
    ['install', 'write the systemd unit, the kubelet gate and the settings, then enable and start the agent'],
    ['uninstall', 'remove what install wrote'],
  ];
  for (const [name, describe] of commands) {
    cli.command(name, describe, (y) => options(y, name), (argv) => {
      chosen = { command: name, argv: argv as Record<string, unknown> };
    });
  }
  await cli.parseAsync();
  if (!chosen) return 0; // --help
  return dispatch(chosen.command, chosen.argv, process.env);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    // One line naming the input and what was expected (G6); no stack for known faults.
    process.stderr.write(`eip-agent: ${isAgentError(error) ? error.message : errorMessage(error)}\n`);
    if (!isAgentError(error)) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
    process.exit(isAgentError(error, 'bad-input') ? 2 : 1);
  },
);
