// `install` and `uninstall`: apply the plan of core/install.ts to a root directory, then
// (on the live system only) let systemd pick the units up.
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, realpath, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Flags } from '../flags.js';
import { PATHS, installPlan, renderPlan, uninstallPlan, type Step } from '../install-plan.js';
import { AgentError, errorMessage } from '../../shared/errors.js';
import { KUBELET_DROPIN, SERVICE_UNIT } from '../embedded.js';
import type { Out } from './client.js';

export interface InstallDeps extends Out {
  /** the running executable (single executable) or bundle, as started */
  self: string;
  systemctl: (args: string[]) => Promise<void>;
}

export async function installCommand(flags: Flags, deps: InstallDeps): Promise<number> {
  const root = flags.get('root');
  const self = await realpath(deps.self);
  const placed = await realpath(join(root, PATHS.binary)).catch(() => undefined);
  const plan = installPlan({ root, flags, service: SERVICE_UNIT, dropIn: KUBELET_DROPIN, binary: self === placed ? undefined : self });
  if (!plan.ok) throw new AgentError('bad-input', 'bad-input', plan.errors.join('; '));
  return apply(plan.value, flags.get('dry-run'), deps);
}

export async function uninstallCommand(flags: Flags, deps: Omit<InstallDeps, 'self'>): Promise<number> {
  return apply(uninstallPlan(flags.get('root')), flags.get('dry-run'), deps);
}

async function apply(steps: Step[], dryRun: boolean, deps: Omit<InstallDeps, 'self'>): Promise<number> {
  if (dryRun) {
    deps.stdout(renderPlan(steps));
    return 0;
  }
  for (const step of steps) {
    try {
      await perform(step, deps);
    } catch (error) {
      if (error instanceof AgentError) throw error;
      throw new AgentError('rejected', 'install.failed', `could not ${action(step)}: ${errorMessage(error)}`, { cause: error });
    }
  }
  return 0;
}

async function perform(step: Step, deps: Omit<InstallDeps, 'self'>): Promise<void> {
  switch (step.kind) {
    case 'write':
    case 'copy': {
      await mkdir(dirname(step.path), { recursive: true });
      // Write beside the target and rename over it: replacing a running binary in place
      // fails with ETXTBSY, and a reader never sees half a file.
      const partial = `${step.path}.partial`;
      if (step.kind === 'write') await writeFile(partial, step.content);
      else await copyFile(step.from, partial);
      await chmod(partial, step.mode);
      await rename(partial, step.path);
      break;
    }
    case 'remove':
      await rm(step.path, { force: true });
      break;
    case 'rmdir':
      await rmdir(step.path).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT' && error.code !== 'ENOTEMPTY') throw error;
      });
      return;
    case 'systemctl':
      await deps.systemctl(step.args);
      break;
    case 'note':
      deps.stderr(`eip-agent: ${step.text}\n`);
      return;
  }
  deps.stderr(`eip-agent: ${action(step)}: done\n`);
}

function action(step: Step): string {
  switch (step.kind) {
    case 'write':
      return `write ${step.path}`;
    case 'copy':
      return `copy ${step.from} to ${step.path}`;
    case 'remove':
    case 'rmdir':
      return `remove ${step.path}`;
    case 'systemctl':
      return `run systemctl ${step.args.join(' ')}`;
    case 'note':
      return step.text;
  }
}

export function runSystemctl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('systemctl', args, { timeout: 60_000 }, (error, _stdout, stderr) =>
      error ? reject(new Error(`systemctl ${args.join(' ')} failed: ${stderr.trim() || error.message}`)) : resolve(),
    ),
  );
}
