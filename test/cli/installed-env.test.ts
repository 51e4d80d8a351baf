// The doctor reads back what install wrote: every value survives the round trip.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFlags } from '../../agent/cli/config.js';
import { envFile } from '../../agent/cli/install-plan.js';
import { parseEnvFile } from '../../agent/cli/installed-env.js';

test('parseEnvFile reads back envFile, quoting and escapes included', () => {
  const values = ['orange', 'two words', 'a"quote', 'back\\slash', 'dollar$HOME', 'tick`x`', ''];
  for (const tagValue of values) {
    const flags = readFlags('install', { tagKey: 'color', tagValue, drainTimeout: '600' }, {});
    assert.ok(flags.ok);
    const text = envFile(flags.value);
    assert.ok(text.ok);
    assert.deepEqual(parseEnvFile(text.value), { EIP_AGENT_TAG_KEY: 'color', EIP_AGENT_TAG_VALUE: tagValue, EIP_AGENT_DRAIN_TIMEOUT: '600' }, JSON.stringify(tagValue));
  }
});

test('parseEnvFile ignores comments, blank lines and variables that are not ours', () => {
  assert.deepEqual(parseEnvFile('# a comment\n\nPATH=/bin\nEIP_AGENT_TAG_KEY=color\n  EIP_AGENT_REGION=eu-west-1  \n'), { EIP_AGENT_TAG_KEY: 'color', EIP_AGENT_REGION: 'eu-west-1' });
});
