// One agent per node: a second one started by mistake would claim a second address for the
// same interface's neighbours or fight over the health port. A pid file created with O_EXCL
// under /run (tmpfs: gone after a reboot) is the lock; a file left by a dead process is stale.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AgentError, errorMessage } from '../shared/errors.js';

export interface Lock {
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else — alive all the same.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireLock(path: string, pid = process.pid): Lock {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${pid}\n`, { flag: 'wx', mode: 0o644 });
      return {
        release: () => {
          // Only remove our own file: a successor may already hold the lock.
          if (readFileSync(path, 'utf8').trim() === String(pid)) rmSync(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new AgentError('bad-input', 'lock.io', `--lock-file ${path}: cannot create it: ${errorMessage(error)}`, { cause: error });
      }
    }
    const holder = Number(readFileSync(path, 'utf8').trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== pid && alive(holder)) {
      throw new AgentError('rejected', 'lock.held', `another eip-agent (pid ${holder}) already runs on this node (lock ${path}); not starting a second`);
    }
    rmSync(path, { force: true }); // stale: its process is gone
  }
  throw new AgentError('rejected', 'lock.held', `--lock-file ${path}: another eip-agent keeps taking the lock; not starting a second`);
}
