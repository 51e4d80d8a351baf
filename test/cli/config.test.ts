import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientConfig, parseListen, readFlags, runConfig, type Env } from '../../agent/cli/config.js';

function run(argv: Record<string, unknown>, env: Env = {}) {
  const flags = readFlags('run', argv, env);
  if (!flags.ok) return flags;
  return runConfig(flags.value, env);
}

test('run config: defaults, and a flag wins over its variable', () => {
  const result = run({ tagKey: 'color' }, { EIP_AGENT_TAG_VALUE: 'orange', EIP_AGENT_TAG_KEY: 'ignored', EIP_AGENT_DRAIN_TIMEOUT: '60' });
  assert.ok(result.ok, JSON.stringify(result));
  const config = result.value;
  assert.deepEqual(config.pool, { tagKey: 'color', tagValue: 'orange' });
  assert.equal(config.deviceIndex, 0);
  assert.equal(config.liveCheck, 'imds');
  assert.equal(config.drainTimeoutMs, 60_000);
  assert.equal(config.claimTimeoutMs, 0);
  assert.equal(config.kubeconfig, '/var/lib/kubelet/kubeconfig');
  assert.deepEqual(config.health, { host: '127.0.0.1', port: 8099, loopback: true });
  assert.equal(config.imdsEndpoint, 'http://169.254.169.254');
  assert.equal(config.region, undefined);
  assert.ok(Object.isFrozen(config));
});

test('run config: environment of the platform', () => {
  const result = run(
    { tagKey: 'color' },
    { AWS_REGION: 'eu-central-1', KUBECONFIG: '/a:/b', AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:1234/', INVOCATION_ID: 'x', NOTIFY_SOCKET: '/run/n' },
  );
  assert.ok(result.ok);
  assert.equal(result.value.region, 'eu-central-1');
  assert.equal(result.value.kubeconfig, '/a');
  assert.equal(result.value.imdsEndpoint, 'http://127.0.0.1:1234');
  assert.equal(result.value.underSystemd, true);
  assert.equal(result.value.notifySocket, '/run/n');
  const v6 = run({ tagKey: 'color' }, { AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'IPv6' });
  assert.ok(v6.ok);
  assert.equal(v6.value.imdsEndpoint, 'http://[fd00:ec2::254]');
});

test('run config: every bad input is named, all at once (G6)', () => {
  const cases: [Record<string, unknown>, Env, RegExp[]][] = [
    [{}, {}, [/^--tag-key: required/]],
    [{ tagKey: 'c', liveCheck: 'ping' }, {}, [/^--live-check: expected one of imds, egress, none, got "ping"/]],
    [{ tagKey: 'c' }, { EIP_AGENT_LIVE_CHECK: 'ping' }, [/^EIP_AGENT_LIVE_CHECK: expected one of imds, egress, none/]],
    [{ tagKey: 'c', healthListen: 'localhost' }, {}, [/^--health-listen: expected HOST:PORT/]],
    [{ tagKey: 'c', healthListen: 'nohost.example:80' }, {}, [/^--health-listen: expected an IP address or localhost/]],
    [{ tagKey: 'c', privateIp: '10.0.0' }, {}, [/^--private-ip: expected a private IPv4/]],
    [{ tagKey: 'c', deviceIndex: 1.5 }, {}, [/^--device-index: expected an integer from 0 to 31/]],
    [{ tagKey: 'c' }, { EIP_AGENT_DRAIN_TIMEOUT: 'soon' }, [/^EIP_AGENT_DRAIN_TIMEOUT: expected a number, got "soon"/]],
    [{ tagKey: 'c', claimTimeout: -1 }, {}, [/^--claim-timeout: expected seconds/]],
    [{ tagKey: 'c' }, { AWS_REGION: 'Europe' }, [/^AWS_REGION: expected an AWS region/]],
    [{ tagKey: 'c', egressCheckUrl: 'ftp://x' }, {}, [/^--egress-check-url: expected an http\(s\) URL/]],
    [{ tagKey: 'aws:x' }, {}, [/^--tag-key: expected a tag key/]],
    [{ tagKey: 'c' }, { AWS_EC2_METADATA_SERVICE_ENDPOINT: 'not a url' }, [/^AWS_EC2_METADATA_SERVICE_ENDPOINT: expected an http URL/]],
    [{ privateIp: 'x', deviceIndex: -1 }, {}, [/^--tag-key/, /^--device-index/, /^--private-ip/]],
  ];
  for (const [argv, env, expected] of cases) {
    const result = run(argv, env);
    assert.equal(result.ok, false, JSON.stringify(argv));
    if (result.ok) continue;
    assert.equal(result.errors.length, expected.length, result.errors.join('\n'));
    expected.forEach((re, i) => assert.match(result.errors[i]!, re));
  }
});

test('parseListen', () => {
  assert.deepEqual(parseListen('127.0.0.1:8099'), { host: '127.0.0.1', port: 8099, loopback: true });
  assert.deepEqual(parseListen('[::1]:9'), { host: '::1', port: 9, loopback: true });
  assert.deepEqual(parseListen('0.0.0.0:8099'), { host: '0.0.0.0', port: 8099, loopback: false });
  assert.deepEqual(parseListen(':8099'), { host: '0.0.0.0', port: 8099, loopback: false });
  assert.deepEqual(parseListen('localhost:1'), { host: 'localhost', port: 1, loopback: true });
  assert.equal(typeof parseListen('127.0.0.1:70000'), 'string');
  assert.equal(typeof parseListen('127.0.0.1'), 'string');
});

test('client config reads only what clients need', () => {
  const flags = readFlags('wait', { timeout: 5 }, { EIP_AGENT_HEALTH_LISTEN: '127.0.0.1:9000' });
  assert.ok(flags.ok);
  assert.equal(flags.value.get('timeout'), 5);
  const config = clientConfig(flags.value);
  assert.ok(config.ok);
  assert.equal(config.value.health.port, 9000);
  const bad = readFlags('wait', { timeout: 'x' }, {});
  assert.equal(bad.ok, false);
});
