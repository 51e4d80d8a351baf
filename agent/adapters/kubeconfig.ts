// Reads the kubeconfig once at start-up and resolves its current context to one target:
// server, TLS material, credentials. Everything referenced is read and checked here, so a
// bad file stops the agent at start (G6) instead of at the end of the node's life.
import { readFile as fsReadFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { YAMLParseError, parse } from 'yaml';
import { type Entry, KubeconfigFields, type Node, errorCode, isMapping, shown } from './kubeconfig-fields.js';

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

type Credentials = Pick<KubeTarget, 'clientCert' | 'clientKey' | 'token' | 'tokenFile' | 'exec'>;

/** undefined when the file does not exist: the caller skips the drain wait with a warning. */
export async function loadKubeconfig(path: string, deps: KubeconfigDeps = {}): Promise<KubeTarget | undefined> {
  const readFile = deps.readFile ?? ((p: string) => fsReadFile(p));
  const fields = new KubeconfigFields(path, readFile);
  const text = await readText(fields, path, readFile);
  if (text === undefined) return undefined;
  const doc = parseYaml(fields, text);
  if (!isMapping(doc)) return fields.fail('', `expected a kubeconfig (a YAML mapping), got ${shown(doc)}`);
  const context = currentContext(fields, doc);
  const cluster = await readCluster(fields, doc, context);
  const credentials = await readUser(fields, doc, context);
  return { ...cluster, ...credentials };
}

/** The file's text; undefined when it does not exist. */
async function readText(fields: KubeconfigFields, path: string, readFile: (path: string) => Promise<Buffer>): Promise<string | undefined> {
  try {
    return (await readFile(path)).toString('utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    return fields.fail('', `expected a readable file, got ${errorCode(error)}`);
  }
}

function parseYaml(fields: KubeconfigFields, text: string): unknown {
  try {
    return parse(text, { logLevel: 'error' });
  } catch (error) {
    // The parser's message quotes the offending line, which may hold a token: keep only
    // its position and code.
    if (error instanceof YAMLParseError) {
      const at = error.linePos?.[0];
      return fields.fail('', `expected YAML, got a syntax error${at ? ` at line ${at.line}, column ${at.col}` : ''} (${error.code})`);
    }
    // Aliases are resolved after parsing: an unresolved one, or too many (an alias bomb),
    // ends as a ReferenceError from the yaml package. Still bad input, not a bug of ours.
    if (error instanceof ReferenceError) return fields.fail('', 'expected YAML without unresolved or excessive aliases (*name)');
    throw error;
  }
}

function currentContext(fields: KubeconfigFields, doc: Node): Entry {
  const name = fields.optString(doc['current-context'], 'current-context');
  if (name === undefined) return fields.fail('current-context', 'expected the name of a context, got nothing');
  return fields.named(doc, 'contexts', name, 'current-context');
}

/** The context's cluster: server and TLS settings. */
async function readCluster(fields: KubeconfigFields, doc: Node, context: Entry): Promise<KubeTarget> {
  const name = fields.optString(context.entry.cluster, `${context.at}.cluster`);
  if (name === undefined) return fields.fail(`${context.at}.cluster`, 'expected the name of a cluster, got nothing');
  const { entry, at } = fields.named(doc, 'clusters', name, `${context.at}.cluster`);
  const server = readServer(fields, entry.server, `${at}.server`);
  const ca = await fields.material(entry, at, 'certificate-authority', 'CERTIFICATE');
  const insecureSkipTlsVerify = fields.optBool(entry['insecure-skip-tls-verify'], `${at}.insecure-skip-tls-verify`);
  if (insecureSkipTlsVerify && ca !== undefined) {
    // kubectl refuses this combination too: the operator meant one or the other.
    return fields.fail(`${at}.insecure-skip-tls-verify`, 'expected false when a certificate authority is given');
  }
  return { server, insecureSkipTlsVerify, ...(ca !== undefined ? { ca } : {}) };
}

function readServer(fields: KubeconfigFields, value: unknown, field: string): string {
  const server = fields.optString(value, field);
  if (server === undefined || !isHttpUrl(server)) return fields.fail(field, `expected an https:// URL, got ${shown(server)}`);
  return server;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

/** The context's user's credentials; none for an empty user (anonymous access, as in kubectl). */
async function readUser(fields: KubeconfigFields, doc: Node, context: Entry): Promise<Credentials> {
  const name = fields.optString(context.entry.user, `${context.at}.user`);
  if (name === undefined) return {};
  const { entry: user, at } = fields.named(doc, 'users', name, `${context.at}.user`);
  for (const unsupported of ['auth-provider', 'username', 'password']) {
    if (user[unsupported] !== undefined && user[unsupported] !== null) {
      fields.fail(`${at}.${unsupported}`, 'expected token, tokenFile, client certificate or exec credentials; this kind is not supported');
    }
  }
  const credentials: Credentials = await readClientCertificate(fields, user, at);
  const token = fields.optString(user.token, `${at}.token`);
  if (token !== undefined) credentials.token = token;
  const tokenFile = fields.optString(user.tokenFile, `${at}.tokenFile`);
  if (tokenFile !== undefined) {
    await fields.readRef(`${at}.tokenFile`, tokenFile);
    credentials.tokenFile = fields.resolve(tokenFile);
  }
  if (user.exec !== undefined && user.exec !== null) credentials.exec = readExec(fields, user.exec, `${at}.exec`);
  return credentials;
}

/** A client certificate and its key: both or neither. */
async function readClientCertificate(fields: KubeconfigFields, user: Node, at: string): Promise<Credentials> {
  const clientCert = await fields.material(user, at, 'client-certificate', 'CERTIFICATE');
  const clientKey = await fields.material(user, at, 'client-key', 'PRIVATE KEY');
  if (clientCert === undefined && clientKey === undefined) return {};
  if (clientCert === undefined || clientKey === undefined) {
    const missing = clientCert === undefined ? 'client-certificate' : 'client-key';
    return fields.fail(`${at}.${missing}`, 'expected a client certificate and its key together, got only one of them');
  }
  return { clientCert, clientKey };
}

function readExec(fields: KubeconfigFields, value: unknown, at: string): ExecConfig {
  const exec = fields.mapping(value, at);
  const apiVersion = exec.apiVersion;
  if (!EXEC_API_VERSIONS.includes(apiVersion as ExecApiVersion)) {
    fields.fail(`${at}.apiVersion`, `expected client.authentication.k8s.io/v1 or v1beta1, got ${shown(apiVersion)}`);
  }
  const command = fields.optString(exec.command, `${at}.command`) ?? fields.fail(`${at}.command`, 'expected a command, got nothing');
  const env = exec.env ?? [];
  if (!Array.isArray(env)) return fields.fail(`${at}.env`, `expected a list of {name, value}, got ${shown(env)}`);
  const interactive = fields.optString(exec.interactiveMode, `${at}.interactiveMode`);
  if (interactive !== undefined && interactive !== 'Never' && interactive !== 'IfAvailable') {
    // The agent runs without a terminal: a plugin that must prompt cannot work.
    fields.fail(`${at}.interactiveMode`, `expected Never or IfAvailable, got ${shown(interactive)}`);
  }
  return {
    // client-go resolves a command with a path separator against the kubeconfig's
    // directory; a bare name is looked up in PATH.
    command: command.includes('/') && !isAbsolute(command) ? fields.resolve(command) : command,
    args: fields.stringList(exec.args, `${at}.args`),
    env: readExecEnv(fields, env, `${at}.env`),
    apiVersion: apiVersion as ExecApiVersion,
    provideClusterInfo: fields.optBool(exec.provideClusterInfo, `${at}.provideClusterInfo`),
  };
}

function readExecEnv(fields: KubeconfigFields, env: unknown[], at: string): ExecConfig['env'] {
  return env.map((entry, i) => {
    const e = fields.mapping(entry, `${at}[${i}]`);
    const name = fields.optString(e.name, `${at}[${i}].name`) ?? fields.fail(`${at}[${i}].name`, 'expected a name, got nothing');
    const value = e.value ?? '';
    return { name, value: typeof value === 'string' ? value : fields.fail(`${at}[${i}].value`, `expected a string, got ${shown(value)}`) };
  });
}
