import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadKubeconfig } from '../../agent/adapters/kubeconfig.js';
import type { KubeTarget } from '../../agent/adapters/kubeconfig.js';
import { InputError } from '../../agent/shared/errors.js';

const CA = '-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN EC PRIVATE KEY-----\nS0VZ\n-----END EC PRIVATE KEY-----\n';
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const SECRET = 'sekrit-token-value';

type User = Record<string, unknown>;
type Cluster = Record<string, unknown>;

/** A kubeconfig with one context `c` → cluster `k`, user `u`. */
function config(cluster: Cluster, user?: User): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'c',
    contexts: [{ name: 'other', context: { cluster: 'x', user: 'y' } }, { name: 'c', context: { cluster: 'k', ...(user ? { user: 'u' } : {}) } }],
    clusters: [{ name: 'k', cluster: { server: 'https://api.example:6443', ...cluster } }],
    ...(user ? { users: [{ name: 'u', user }] } : {}),
  };
}

describe('loadKubeconfig', () => {
  let dir: string;
  let n = 0;

  /** Writes a kubeconfig into its own folder (so relative paths are tested) and loads it. */
  async function load(content: string | Record<string, unknown>): Promise<{ path: string; target?: KubeTarget; error?: unknown }> {
    n += 1;
    const path = join(dir, `case-${n}`, 'kubeconfig');
    await mkdir(join(dir, `case-${n}`));
    await writeFile(path, typeof content === 'string' ? content : stringify(content));
    try {
      const target = await loadKubeconfig(path);
      return target ? { path, target } : { path };
    } catch (error) {
      return { path, error };
    }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eip-kubeconfig-'));
    await mkdir(join(dir, 'pki'));
    await writeFile(join(dir, 'pki', 'ca.crt'), CA);
    await writeFile(join(dir, 'pki', 'client.crt'), CERT);
    await writeFile(join(dir, 'pki', 'client.key'), KEY);
    await writeFile(join(dir, 'pki', 'token'), `${SECRET}\n`);
    await writeFile(join(dir, 'not-pem'), 'hello');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('answers undefined when the file does not exist', async () => {
    assert.equal(await loadKubeconfig(join(dir, 'nope', 'kubeconfig')), undefined);
  });

  const good: [string, Record<string, unknown> | string, (dir: string) => KubeTarget][] = [
    [
      'inline token, CA file relative to the kubeconfig',
      config({ 'certificate-authority': '../pki/ca.crt' }, { token: SECRET }),
      () => ({ server: 'https://api.example:6443', ca: CA, insecureSkipTlsVerify: false, token: SECRET }),
    ],
    [
      'tokenFile (kept as a path), CA data',
      config({ 'certificate-authority-data': b64(CA) }, { tokenFile: '../pki/token' }),
      (d) => ({ server: 'https://api.example:6443', ca: CA, insecureSkipTlsVerify: false, tokenFile: join(d, 'pki', 'token') }),
    ],
    [
      'client certificate and key files, absolute paths',
      config({}, { 'client-certificate': '<dir>/pki/client.crt', 'client-key': '<dir>/pki/client.key' }),
      () => ({ server: 'https://api.example:6443', insecureSkipTlsVerify: false, clientCert: CERT, clientKey: KEY }),
    ],
    [
      'client certificate and key data; data wins over a file',
      config({}, { 'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY), 'client-key': 'missing.key' }),
      () => ({ server: 'https://api.example:6443', insecureSkipTlsVerify: false, clientCert: CERT, clientKey: KEY }),
    ],
    [
      'insecure-skip-tls-verify, anonymous user',
      config({ 'insecure-skip-tls-verify': true }),
      () => ({ server: 'https://api.example:6443', insecureSkipTlsVerify: true }),
    ],
    [
      'exec v1beta1 as on EKS (env null, relative command with a slash)',
      config(
        {},
        {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1beta1',
            command: './bin/aws-iam-authenticator',
            args: ['token', '-i', 'my-cluster'],
            env: null,
          },
        },
      ),
      (d) => ({
        server: 'https://api.example:6443',
        insecureSkipTlsVerify: false,
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1beta1',
          command: join(d, `case-${n}`, 'bin', 'aws-iam-authenticator'),
          args: ['token', '-i', 'my-cluster'],
          env: [],
          provideClusterInfo: false,
        },
      }),
    ],
    [
      'exec v1 with env, PATH command, provideClusterInfo',
      config(
        {},
        {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: 'aws',
            args: ['eks', 'get-token'],
            env: [{ name: 'AWS_PROFILE', value: 'node' }],
            interactiveMode: 'Never',
            provideClusterInfo: true,
          },
        },
      ),
      () => ({
        server: 'https://api.example:6443',
        insecureSkipTlsVerify: false,
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: 'aws',
          args: ['eks', 'get-token'],
          env: [{ name: 'AWS_PROFILE', value: 'node' }],
          provideClusterInfo: true,
        },
      }),
    ],
    [
      'hand-written YAML as kubelet has it',
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- cluster:',
        '    certificate-authority: <dir>/pki/ca.crt',
        '    server: https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com',
        '  name: kubernetes',
        'contexts:',
        '- context:',
        '    cluster: kubernetes',
        '    user: kubelet',
        '  name: kubelet',
        'current-context: kubelet',
        'users:',
        '- name: kubelet',
        '  user:',
        '    exec:',
        '      apiVersion: client.authentication.k8s.io/v1beta1',
        '      command: /usr/bin/aws-iam-authenticator',
        '      args: [token, -i, my-cluster, --region, eu-west-1]',
      ].join('\n'),
      () => ({
        server: 'https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com',
        ca: CA,
        insecureSkipTlsVerify: false,
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1beta1',
          command: '/usr/bin/aws-iam-authenticator',
          args: ['token', '-i', 'my-cluster', '--region', 'eu-west-1'],
          env: [],
          provideClusterInfo: false,
        },
      }),
    ],
  ];
  for (const [name, content, expected] of good) {
    it(`reads ${name}`, async () => {
      const withDir = (typeof content === 'string' ? content : JSON.stringify(content)).replaceAll('<dir>', dir);
      const { target, error } = await load(typeof content === 'string' ? withDir : JSON.parse(withDir));
      assert.equal(error, undefined);
      assert.deepEqual(target, expected(dir));
    });
  }

  const bad: [string, Record<string, unknown> | string, string, RegExp][] = [
    ['not YAML', `current-context: c\ntoken: "${SECRET}\n  - [`, '', /expected YAML, got a syntax error at line \d+, column \d+/],
    ['a list, not a mapping', '- a\n- b\n', '', /expected a kubeconfig \(a YAML mapping\), got a list/],
    ['no current-context', { ...config({}), 'current-context': undefined }, 'current-context', /expected the name of a context, got nothing/],
    ['unknown context', { ...config({}), 'current-context': 'nope' }, 'current-context', /expected one of the names in contexts \(other, c\), got "nope"/],
    [
      'unknown cluster',
      { ...config({}), clusters: [{ name: 'z', cluster: { server: 'https://x' } }] },
      'contexts[1].context.cluster',
      /expected one of the names in clusters \(z\), got "k"/,
    ],
    ['unknown user', { ...config({}, { token: 'x' }), users: [] }, 'contexts[1].context.user', /expected one of the names in users \(none\), got "u"/],
    ['missing server', config({ server: undefined }), 'clusters[0].cluster.server', /expected an https:\/\/ URL, got nothing/],
    ['server not a URL', config({ server: 'api.example:6443' }), 'clusters[0].cluster.server', /expected an https:\/\/ URL, got "api.example:6443"/],
    ['bad base64', config({ 'certificate-authority-data': 'not base64!' }), 'clusters[0].cluster.certificate-authority-data', /expected base64 data/],
    ['unpadded base64 (Go rejects it)', config({ 'certificate-authority-data': b64(CA).replace(/=+$/, '') }), 'clusters[0].cluster.certificate-authority-data', /expected base64 data/],
    ['CA data that is not PEM', config({ 'certificate-authority-data': b64('hello') }), 'clusters[0].cluster.certificate-authority-data', /expected a PEM certificate/],
    ['CA file missing', config({ 'certificate-authority': 'ca.crt' }), 'clusters[0].cluster.certificate-authority', /expected a readable file, got ".*case-\d+\/ca\.crt" \(ENOENT\)/],
    ['CA file not PEM', config({ 'certificate-authority': '../not-pem' }), 'clusters[0].cluster.certificate-authority', /expected a PEM certificate/],
    [
      'insecure with a CA',
      config({ 'insecure-skip-tls-verify': true, 'certificate-authority-data': b64(CA) }),
      'clusters[0].cluster.insecure-skip-tls-verify',
      /expected false when a certificate authority is given/,
    ],
    ['insecure not a boolean', config({ 'insecure-skip-tls-verify': 'yes' }), 'clusters[0].cluster.insecure-skip-tls-verify', /expected true or false, got "yes"/],
    ['token not a string', config({}, { token: 42 }), 'users[0].user.token', /expected a string, got 42/],
    ['tokenFile missing', config({}, { tokenFile: '/nonexistent/token' }), 'users[0].user.tokenFile', /expected a readable file/],
    ['client key without certificate', config({}, { 'client-key': '../pki/client.key' }), 'users[0].user.client-certificate', /together, got only one/],
    ['client key data not base64', config({}, { 'client-certificate-data': b64(CERT), 'client-key-data': '%%%%' }), 'users[0].user.client-key-data', /expected base64 data/],
    ['client key file is a certificate', config({}, { 'client-certificate': '../pki/client.crt', 'client-key': '../pki/client.crt' }), 'users[0].user.client-key', /expected a PEM private key/],
    ['auth-provider', config({}, { 'auth-provider': { name: 'gcp' } }), 'users[0].user.auth-provider', /not supported/],
    [
      'exec v1alpha1',
      config({}, { exec: { apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'aws' } }),
      'users[0].user.exec.apiVersion',
      /expected client.authentication.k8s.io\/v1 or v1beta1, got "client.authentication.k8s.io\/v1alpha1"/,
    ],
    ['exec without apiVersion', config({}, { exec: { command: 'aws' } }), 'users[0].user.exec.apiVersion', /got nothing/],
    ['exec without command', config({}, { exec: { apiVersion: 'client.authentication.k8s.io/v1' } }), 'users[0].user.exec.command', /expected a command, got nothing/],
    ['exec args not strings', config({}, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws', args: ['a', { b: 1 }] } }), 'users[0].user.exec.args[1]', /expected a string, got a mapping/],
    ['exec env entry without name', config({}, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws', env: [{ value: 'x' }] } }), 'users[0].user.exec.env[0].name', /expected a name/],
    ['exec interactive', config({}, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws', interactiveMode: 'Always' } }), 'users[0].user.exec.interactiveMode', /expected Never or IfAvailable, got "Always"/],
    // Two fields bad: the one checked first wins, so an operator fixing errors one by one
    // sees them in the same order from one release to the next.
    ['bad server and bad CA data', config({ server: 'ftp://x', 'certificate-authority-data': '%%%%' }), 'clusters[0].cluster.server', /expected an https:\/\/ URL/],
    ['CA file missing and insecure not a boolean', config({ 'certificate-authority': 'ca.crt', 'insecure-skip-tls-verify': 'yes' }), 'clusters[0].cluster.certificate-authority', /expected a readable file/],
    ['bad cluster and unknown user', { ...config({ server: undefined }, { token: 'x' }), users: [] }, 'clusters[0].cluster.server', /expected an https:\/\/ URL, got nothing/],
    ['auth-provider and a bad token', config({}, { token: 42, 'auth-provider': { name: 'gcp' } }), 'users[0].user.auth-provider', /not supported/],
    ['bad client certificate data and a bad token', config({}, { 'client-certificate-data': '%%%%', token: 42 }), 'users[0].user.client-certificate-data', /expected base64 data/],
    ['exec: bad apiVersion and no command', config({}, { exec: { apiVersion: 'v1' } }), 'users[0].user.exec.apiVersion', /expected client.authentication.k8s.io\/v1 or v1beta1, got "v1"/],
    ['exec: env not a list and interactive', config({}, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws', env: 'A=b', interactiveMode: 'Always' } }), 'users[0].user.exec.env', /expected a list of \{name, value\}, got "A=b"/],
    ['exec: bad args and a bad env entry', config({}, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws', args: 'x', env: [{}] } }), 'users[0].user.exec.args', /expected a list of strings, got "x"/],
  ];
  for (const [name, content, field, expected] of bad) {
    it(`rejects ${name} with one InputError naming ${field || 'the file'}`, async () => {
      const { path, error } = await load(content);
      assert.ok(error instanceof InputError, `expected an InputError, got ${String(error)}`);
      assert.equal(error.kind, 'bad-input');
      const prefix = field ? `kubeconfig ${path}: ${field}: ` : `kubeconfig ${path}: `;
      assert.ok(error.message.startsWith(prefix), `${error.message} should start with ${prefix}`);
      assert.match(error.message.slice(prefix.length), expected);
      assert.ok(!error.message.includes(SECRET), 'the message must not quote a secret');
    });
  }

  it('reports an unreadable kubeconfig (not a missing one) as an InputError', async () => {
    await assert.rejects(loadKubeconfig(join(dir, 'pki')), (error: unknown) => {
      assert.ok(error instanceof InputError);
      assert.match(error.message, /^kubeconfig .*pki: expected a readable file, got EISDIR$/);
      return true;
    });
  });

  it('reads through an injected readFile', async () => {
    const files: Record<string, string> = { '/etc/kc': stringify(config({ 'certificate-authority': 'ca.pem' }, { token: 't' })), '/etc/ca.pem': CA };
    const target = await loadKubeconfig('/etc/kc', {
      readFile: async (path) => {
        const text = files[path];
        if (text === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
        return Buffer.from(text);
      },
    });
    assert.deepEqual(target, { server: 'https://api.example:6443', ca: CA, insecureSkipTlsVerify: false, token: 't' });
  });
});
