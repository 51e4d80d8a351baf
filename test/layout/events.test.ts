// The log's vocabulary is closed (LOG_EVENTS) and documented: README's "Log events" table
// names every event the agent may log, and nothing else.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { LOG_EVENTS } from '../../agent/shared/log.js';

test('README lists exactly the events of LOG_EVENTS', () => {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.split('### Log events')[1]?.split(/\n#/)[0];
  assert.ok(section, 'README has a "Log events" section');
  const documented = section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...line.split('|')[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
  assert.deepEqual([...documented].sort(), [...LOG_EVENTS].sort());
});
