// A throwaway PKI for the simulator: a CA, a server certificate for 127.0.0.1 and client
// certificates on demand, made with the openssl CLI into a temp dir that is removed at
// once. Keys live only in memory and die with the process; none is ever committed.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

export interface Pki {
  caPem: string;
  server: KeyPair;
  /** A client certificate as the API server reads it: CN is the user, O the groups. */
  issueClient(user: string, groups?: string[]): Promise<KeyPair>;
}

// P-256 keys: generated in milliseconds, unlike RSA.
const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2'];

async function inTempDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'eip-sim-pki-'));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function readPair(dir: string, name: string): Promise<KeyPair> {
  const [certPem, keyPem] = await Promise.all([
    readFile(join(dir, `${name}.crt`), 'utf8'),
    readFile(join(dir, `${name}.key`), 'utf8'),
  ]);
  return { certPem, keyPem };
}

/** A leaf certificate signed by `ca`, with the given subject and extensions. */
async function issue(ca: KeyPair, subject: string, extensions: string[]): Promise<KeyPair> {
  return inTempDir(async (dir) => {
    await writeFile(join(dir, 'ca.crt'), ca.certPem);
    await writeFile(join(dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
    await run('openssl', [
      'req', '-x509', ...KEY,
      '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'),
      '-keyout', join(dir, 'leaf.key'), '-out', join(dir, 'leaf.crt'),
      '-subj', subject,
      ...extensions.flatMap((e) => ['-addext', e]),
    ]);
    return readPair(dir, 'leaf');
  });
}

export async function createPki(): Promise<Pki> {
  const ca = await inTempDir(async (dir) => {
    await run('openssl', [
      'req', '-x509', ...KEY,
      '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'),
      '-subj', '/CN=eip-agent-sim-ca',
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    return readPair(dir, 'ca');
  });
  const server = await issue(ca, '/CN=kube-apiserver', [
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    'extendedKeyUsage=serverAuth',
    'basicConstraints=CA:FALSE',
  ]);
  return {
    caPem: ca.certPem,
    server,
    issueClient: (user, groups = []) =>
      issue(ca, `/CN=${user}${groups.map((g) => `/O=${g}`).join('')}`, [
        'extendedKeyUsage=clientAuth',
        'basicConstraints=CA:FALSE',
      ]),
  };
}
