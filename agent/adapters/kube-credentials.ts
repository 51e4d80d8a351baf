// Where a request's bearer token and client certificate come from, in client-go's order: a
// token set in the kubeconfig wins over a token file, which wins over the exec plugin.
import { readFile } from 'node:fs/promises';
import { AgentError } from '../shared/errors.js';
import { runExecPlugin, type Credential, type RunExec } from './kube-exec.js';
import type { ExecConfig, KubeTarget } from './kubeconfig.js';

// Refresh an exec token this long before it expires, so that it does not expire in flight.
const EXPIRY_MARGIN_MS = 30_000;

export interface CredentialSource {
  /** The credential for the next request; `refresh` runs the exec plugin again even if its last one is still fresh. */
  get(refresh: boolean): Promise<Credential>;
  /** True when the credential comes from the exec plugin, which may hand out a new one. */
  refreshable: boolean;
}

export interface ExecDeps {
  /** epoch ms, for exec credential expiry */
  now: () => number;
  runExec: RunExec;
  /** deadline of one exec plugin run */
  timeoutMs: number;
}

export function createCredentialSource(target: KubeTarget, execDeps: ExecDeps): CredentialSource {
  const fixed = (): Credential => ({ cert: target.clientCert, key: target.clientKey });
  const { token, tokenFile, exec } = target;
  if (token !== undefined) return { refreshable: false, get: async () => ({ ...fixed(), token }) };
  // Read on every request: the file may be rotated.
  if (tokenFile !== undefined) return { refreshable: false, get: async () => ({ ...fixed(), token: await readTokenFile(tokenFile) }) };
  if (exec !== undefined) {
    const fromExec = cachedExecCredential(exec, target, execDeps);
    return {
      refreshable: true,
      get: async (refresh) => {
        const credential = await fromExec(refresh);
        // A certificate from the plugin comes with its key; otherwise the kubeconfig's applies.
        return credential.cert !== undefined ? credential : { ...fixed(), ...credential };
      },
    };
  }
  return { refreshable: false, get: async () => fixed() };
}

async function readTokenFile(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    const got = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new AgentError('auth', 'kube.token-file', `kubeconfig tokenFile ${path}: expected a readable file, got ${got}`);
  }
}

/** The exec plugin's credential, reused until EXPIRY_MARGIN_MS before it expires. */
function cachedExecCredential(exec: ExecConfig, target: KubeTarget, { now, runExec, timeoutMs }: ExecDeps): (refresh: boolean) => Promise<Credential> {
  let cached: Credential | undefined;
  let running: Promise<Credential> | undefined;
  return async (refresh) => {
    const fresh = cached && (cached.expiresAt === undefined || now() < cached.expiresAt - EXPIRY_MARGIN_MS);
    if (fresh && !refresh) return cached!;
    cached = undefined;
    // Concurrent callers share one plugin run.
    running ??= runExecPlugin(exec, target, runExec, timeoutMs).finally(() => {
      running = undefined;
    });
    cached = await running;
    return cached;
  };
}
