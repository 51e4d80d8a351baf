import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { acquireLock } from '../../agent/adapters/lock.js';
import { isAgentError } from '../../agent/shared/errors.js';

test('lock: one holder; a live holder refuses a second; a dead one is stale', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eip-lock-'));
  const path = join(dir, 'run', 'eip-agent.pid');
  try {
    const lock = acquireLock(path);
    assert.equal(readFileSync(path, 'utf8').trim(), String(process.pid));

    // Another live process holds it: a second agent must not start.
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    lock.release();
    assert.equal(existsSync(path), false);
    writeFileSync(path, `${sleeper.pid}\n`);
    assert.throws(() => acquireLock(path), (e) => isAgentError(e, 'rejected') && /another eip-agent \(pid \d+\) already runs/.test(e.message));

    // Its process is gone (SIGKILL leaves the file behind): the lock is stale and taken over.
    sleeper.kill('SIGKILL');
    await new Promise((r) => sleeper.on('exit', r));
    const again = acquireLock(path);
    assert.equal(readFileSync(path, 'utf8').trim(), String(process.pid));
    // Release never removes a successor's file.
    writeFileSync(path, '999999\n');
    again.release();
    assert.equal(readFileSync(path, 'utf8').trim(), '999999');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
