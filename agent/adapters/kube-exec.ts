// The exec credential plugin of a kubeconfig (`aws eks get-token` on EKS): run it, read
// its ExecCredential. Its stdout is a secret and is never quoted.
import { execFile } from 'node:child_process';
import { AgentError } from '../shared/errors.js';
import type { ExecConfig, KubeTarget } from './kubeconfig.js';

export interface ExecResult {
  /** null when the process was killed */
  exitCode: number | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

/** Runs the exec credential plugin; rejects only when it cannot be run to its end. */
export type RunExec = (
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; timeoutMs: number },
) => Promise<ExecResult>;

// The plugin's stdout is a credential: cap what we buffer; its stderr is shown, one line.
const MAX_EXEC_OUTPUT = 1024 * 1024;

type Json = Record<string, unknown>;

export const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

export const runExecFile: RunExec = (command, args, { env, timeoutMs }) =>
  new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: MAX_EXEC_OUTPUT, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const failure = error as (NodeJS.ErrnoException & { killed?: boolean }) | null;
        // A string code is a failure to run it (ENOENT, EACCES, too much output); a number
        // is the plugin's own exit status.
        if (failure && typeof failure.code === 'string') {
          reject(failure);
          return;
        }
        resolve({
          exitCode: failure ? (typeof failure.code === 'number' ? failure.code : null) : 0,
          timedOut: failure?.killed === true,
          stdout,
          stderr,
        });
      },
    );
  });

export interface Credential {
  token?: string;
  cert?: string;
  key?: string;
  /** epoch ms */
  expiresAt?: number;
}

/** ExecCredential → credential; messages never quote stdout, which holds the secret. */
export function parseExecCredential(stdout: string, exec: ExecConfig): Credential | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    return 'printed something that is not ExecCredential JSON';
  }
  if (!isObject(parsed) || parsed.kind !== 'ExecCredential') return 'printed JSON that is not an ExecCredential';
  if (parsed.apiVersion !== exec.apiVersion) {
    return `answered with apiVersion ${JSON.stringify(String(parsed.apiVersion))}, expected ${exec.apiVersion}`;
  }
  const status = parsed.status;
  if (!isObject(status)) return 'printed an ExecCredential without status';
  const credential: Credential = {};
  if (typeof status.token === 'string' && status.token !== '') credential.token = status.token;
  if (typeof status.clientCertificateData === 'string' && typeof status.clientKeyData === 'string') {
    credential.cert = status.clientCertificateData;
    credential.key = status.clientKeyData;
  }
  if (credential.token === undefined && credential.cert === undefined) {
    return 'printed an ExecCredential with neither status.token nor status.clientCertificateData and clientKeyData';
  }
  if (status.expirationTimestamp !== undefined && status.expirationTimestamp !== null) {
    const at = typeof status.expirationTimestamp === 'string' ? Date.parse(status.expirationTimestamp) : NaN;
    if (Number.isNaN(at)) return 'printed an ExecCredential whose status.expirationTimestamp is not an RFC 3339 time';
    credential.expiresAt = at;
  }
  return credential;
}

/** As kubectl does: the plugin learns the API version wanted, and that nobody can answer a prompt. */
function execInfo(exec: ExecConfig, target: KubeTarget): Json {
  const cluster = {
    server: target.server,
    'insecure-skip-tls-verify': target.insecureSkipTlsVerify,
    ...(target.ca !== undefined ? { 'certificate-authority-data': Buffer.from(target.ca).toString('base64') } : {}),
  };
  return { apiVersion: exec.apiVersion, kind: 'ExecCredential', spec: { interactive: false, ...(exec.provideClusterInfo ? { cluster } : {}) } };
}

/** The first non-blank line of the plugin's stderr, shortened: what it says went wrong. */
function firstLine(stderr: string): string | undefined {
  return stderr.split('\n').find((l) => l.trim() !== '')?.trim().slice(0, 300);
}

/** Runs the plugin once for its credential; every failure is an `auth` AgentError that never quotes stdout. */
export async function runExecPlugin(exec: ExecConfig, target: KubeTarget, runExec: RunExec, timeoutMs: number): Promise<Credential> {
  const fail = (what: string, cause?: unknown): AgentError =>
    new AgentError('auth', 'kube.exec', `kubeconfig exec plugin ${exec.command}: ${what}`, { cause });
  const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(execInfo(exec, target)) };
  for (const { name, value } of exec.env) env[name] = value;
  let result: ExecResult;
  try {
    result = await runExec(exec.command, exec.args, { env, timeoutMs });
  } catch (error) {
    throw fail(`could not run (${(error as NodeJS.ErrnoException).code ?? String(error)})`, error);
  }
  if (result.timedOut) throw fail(`no answer within ${timeoutMs} ms`);
  if (result.exitCode !== 0) {
    const line = firstLine(result.stderr);
    throw fail(`exited with ${result.exitCode === null ? 'a signal' : `code ${result.exitCode}`}${line ? `: ${line}` : ''}`);
  }
  const credential = parseExecCredential(result.stdout, exec);
  if (typeof credential === 'string') throw fail(credential);
  return credential;
}
