// Reads the kubeconfig once at start-up and resolves its current context to one target:
// server, TLS material, credentials. Everything referenced is read and checked here, so a
// bad file stops the agent at start (G6) instead of at the end of the node's life.
import { readFile as fsReadFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { YAMLParseError, parse } from 'yaml';
import { InputError } from '../shared/errors.js';

export const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'] as const;
export type ExecApiVersion = (typeof EXEC_API_VERSIONS)[number];

export interface ExecConfig {
  command: string;
  args: string[];
  env: { name: string; value: string }[];
  apiVersion: ExecApiVersion;
  /** pass the cluster (server, CA) to the plugin in KUBERNETES_EXEC_INFO */
  provideClusterInfo: boolean;
}

export interface KubeTarget {
  /** API server URL, possibly with a path prefix */
  server: string;
  /** PEM */
  ca?: string;
  insecureSkipTlsVerify: boolean;
  /** PEM */
  clientCert?: string;
  /** PEM */
  clientKey?: string;
  token?: string;
  /** absolute path, re-read on every request (it may be rotated) */
  tokenFile?: string;
  exec?: ExecConfig;
}

export interface KubeconfigDeps {
  readFile?: (path: string) => Promise<Buffer>;
}

type Node = Record<string, unknown>;

function shown(value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  return Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a mapping' : JSON.stringify(value);
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? String(error);
}

/** undefined when the file does not exist: the caller skips the drain wait with a warning. */
export async function loadKubeconfig(path: string, deps: KubeconfigDeps = {}): Promise<KubeTarget | undefined> {
  const readFile = deps.readFile ?? ((p: string) => fsReadFile(p));
  const dir = dirname(resolve(path));

  // One InputError naming the file and the field; values are quoted only where they are
  // not secrets.
  const fail = (field: string, expected: string): never => {
    throw new InputError(field ? `kubeconfig ${path}: ${field}` : `kubeconfig ${path}`, expected);
  };

  let text: string;
  try {
    text = (await readFile(path)).toString('utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    return fail('', `expected a readable file, got ${errorCode(error)}`);
  }

  let doc: unknown;
  try {
    doc = parse(text, { logLevel: 'error' });
  } catch (error) {
    // The parser's message quotes the offending line, which may hold a token: keep only
    // its position and code.
    if (error instanceof YAMLParseError) {
      const at = error.linePos?.[0];
      return fail('', `expected YAML, got a syntax error${at ? ` at line ${at.line}, column ${at.col}` : ''} (${error.code})`);
    }
    // Aliases are resolved after parsing: an unresolved one, or too many (an alias bomb),
    // ends as a ReferenceError from the yaml package. Still bad input, not a bug of ours.
    if (error instanceof ReferenceError) return fail('', 'expected YAML without unresolved or excessive aliases (*name)');
    throw error;
  }

  const isMapping = (value: unknown): value is Node =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  const mapping = (value: unknown, field: string): Node => {
    if (value === undefined || value === null) return {};
    return isMapping(value) ? value : fail(field, `expected a mapping, got ${shown(value)}`);
  };
  const optString = (value: unknown, field: string): string | undefined => {
    if (value === undefined || value === null || value === '') return undefined;
    return typeof value === 'string' ? value : fail(field, `expected a string, got ${shown(value)}`);
  };
  const optBool = (value: unknown, field: string): boolean => {
    if (value === undefined || value === null) return false;
    return typeof value === 'boolean' ? value : fail(field, `expected true or false, got ${shown(value)}`);
  };
  const stringList = (value: unknown, field: string): string[] => {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) return fail(field, `expected a list of strings, got ${shown(value)}`);
    return value.map((v, i) => (typeof v === 'string' ? v : fail(`${field}[${i}]`, `expected a string, got ${shown(v)}`)));
  };

  if (!isMapping(doc)) return fail('', `expected a kubeconfig (a YAML mapping), got ${shown(doc)}`);

  /** The entry of a named list (`contexts`, `clusters`, `users`) and its field path. */
  const named = (list: 'contexts' | 'clusters' | 'users', name: string, field: string): { entry: Node; at: string } => {
    const items = doc[list] ?? [];
    if (!Array.isArray(items)) return fail(list, `expected a list, got ${shown(items)}`);
    const index = items.findIndex((item) => isMapping(item) && item.name === name);
    if (index < 0) {
      const names = items.flatMap((item) => (isMapping(item) && typeof item.name === 'string' ? [item.name] : []));
      return fail(field, `expected one of the names in ${list} (${names.join(', ') || 'none'}), got ${shown(name)}`);
    }
    const key = list.slice(0, -1); // contexts[i].context, clusters[i].cluster, users[i].user
    const at = `${list}[${index}].${key}`;
    return { entry: mapping((items[index] as Node)[key], at), at };
  };

  const readRef = async (field: string, file: string): Promise<string> => {
    const absolute = resolve(dir, file);
    try {
      return (await readFile(absolute)).toString('utf8');
    } catch (error) {
      return fail(field, `expected a readable file, got ${JSON.stringify(absolute)} (${errorCode(error)})`);
    }
  };
  const decode = (field: string, data: string): string => {
    const compact = data.replace(/\s+/g, '');
    // Go's base64.StdEncoding, as client-go decodes []byte fields: padded, no URL alphabet.
    if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) {
      return fail(field, 'expected base64 data, got something else');
    }
    return Buffer.from(compact, 'base64').toString('utf8');
  };
  const pem = (field: string, text: string, label: 'CERTIFICATE' | 'PRIVATE KEY'): string =>
    new RegExp(`-----BEGIN [A-Z ]*${label}-----`).test(text) ? text : fail(field, `expected a PEM ${label.toLowerCase()}`);
  /** `X-data` (base64, wins as in client-go) or `X` (a path relative to the kubeconfig). */
  const material = async (node: Node, at: string, key: string, label: 'CERTIFICATE' | 'PRIVATE KEY') => {
    const data = optString(node[`${key}-data`], `${at}.${key}-data`);
    if (data !== undefined) return pem(`${at}.${key}-data`, decode(`${at}.${key}-data`, data), label);
    const file = optString(node[key], `${at}.${key}`);
    return file === undefined ? undefined : pem(`${at}.${key}`, await readRef(`${at}.${key}`, file), label);
  };

  const contextName = optString(doc['current-context'], 'current-context');
  if (contextName === undefined) return fail('current-context', 'expected the name of a context, got nothing');
  const context = named('contexts', contextName, 'current-context');
  const clusterName = optString(context.entry.cluster, `${context.at}.cluster`);
  if (clusterName === undefined) return fail(`${context.at}.cluster`, 'expected the name of a cluster, got nothing');
  const cluster = named('clusters', clusterName, `${context.at}.cluster`);

  const server = optString(cluster.entry.server, `${cluster.at}.server`);
  let url: URL | undefined;
  try {
    url = server === undefined ? undefined : new URL(server);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    return fail(`${cluster.at}.server`, `expected an https:// URL, got ${shown(server)}`);
  }
  const ca = await material(cluster.entry, cluster.at, 'certificate-authority', 'CERTIFICATE');
  const insecureSkipTlsVerify = optBool(cluster.entry['insecure-skip-tls-verify'], `${cluster.at}.insecure-skip-tls-verify`);
  if (insecureSkipTlsVerify && ca !== undefined) {
    // kubectl refuses this combination too: the operator meant one or the other.
    return fail(`${cluster.at}.insecure-skip-tls-verify`, 'expected false when a certificate authority is given');
  }
  const target: KubeTarget = { server: server!, insecureSkipTlsVerify, ...(ca !== undefined ? { ca } : {}) };

  // An empty user is anonymous access, as in kubectl.
  const userName = optString(context.entry.user, `${context.at}.user`);
  if (userName === undefined) return target;
  const user = named('users', userName, `${context.at}.user`);
  const u = user.entry;
  for (const unsupported of ['auth-provider', 'username', 'password']) {
    if (u[unsupported] !== undefined && u[unsupported] !== null) {
      fail(`${user.at}.${unsupported}`, 'expected token, tokenFile, client certificate or exec credentials; this kind is not supported');
    }
  }

  const clientCert = await material(u, user.at, 'client-certificate', 'CERTIFICATE');
  const clientKey = await material(u, user.at, 'client-key', 'PRIVATE KEY');
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    const missing = clientCert === undefined ? 'client-certificate' : 'client-key';
    fail(`${user.at}.${missing}`, 'expected a client certificate and its key together, got only one of them');
  }
  if (clientCert !== undefined && clientKey !== undefined) Object.assign(target, { clientCert, clientKey });

  const token = optString(u.token, `${user.at}.token`);
  if (token !== undefined) target.token = token;
  const tokenFile = optString(u.tokenFile, `${user.at}.tokenFile`);
  if (tokenFile !== undefined) {
    await readRef(`${user.at}.tokenFile`, tokenFile);
    target.tokenFile = resolve(dir, tokenFile);
  }

  if (u.exec !== undefined && u.exec !== null) {
    const at = `${user.at}.exec`;
    const exec = mapping(u.exec, at);
    const apiVersion = exec.apiVersion;
    if (!EXEC_API_VERSIONS.includes(apiVersion as ExecApiVersion)) {
      fail(`${at}.apiVersion`, `expected client.authentication.k8s.io/v1 or v1beta1, got ${shown(apiVersion)}`);
    }
    const command = optString(exec.command, `${at}.command`) ?? fail(`${at}.command`, 'expected a command, got nothing');
    const env = exec.env ?? [];
    if (!Array.isArray(env)) fail(`${at}.env`, `expected a list of {name, value}, got ${shown(env)}`);
    const interactive = optString(exec.interactiveMode, `${at}.interactiveMode`);
    if (interactive !== undefined && interactive !== 'Never' && interactive !== 'IfAvailable') {
      // The agent runs without a terminal: a plugin that must prompt cannot work.
      fail(`${at}.interactiveMode`, `expected Never or IfAvailable, got ${shown(interactive)}`);
    }
    target.exec = {
      // client-go resolves a command with a path separator against the kubeconfig's
      // directory; a bare name is looked up in PATH.
      command: command.includes('/') && !isAbsolute(command) ? resolve(dir, command) : command,
      args: stringList(exec.args, `${at}.args`),
      env: (env as unknown[]).map((entry, i) => {
        const e = mapping(entry, `${at}.env[${i}]`);
        const name = optString(e.name, `${at}.env[${i}].name`) ?? fail(`${at}.env[${i}].name`, 'expected a name, got nothing');
        const value = e.value ?? '';
        return { name, value: typeof value === 'string' ? value : fail(`${at}.env[${i}].value`, `expected a string, got ${shown(value)}`) };
      }),
      apiVersion: apiVersion as ExecApiVersion,
      provideClusterInfo: optBool(exec.provideClusterInfo, `${at}.provideClusterInfo`),
    };
  }
  return target;
}
