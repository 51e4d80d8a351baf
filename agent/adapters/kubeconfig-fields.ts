// Typed reads of one kubeconfig's fields. Every failure is one InputError naming the file
// and the field; values are quoted only where they are not secrets.
import { dirname, resolve } from 'node:path';
import { InputError } from '../shared/errors.js';

export type Node = Record<string, unknown>;

/** An entry of a named list and its field path, e.g. `clusters[0].cluster`. */
export interface Entry {
  entry: Node;
  at: string;
}

export type PemLabel = 'CERTIFICATE' | 'PRIVATE KEY';

export function shown(value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  return Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a mapping' : JSON.stringify(value);
}

export function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? String(error);
}

export function isMapping(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class KubeconfigFields {
  private readonly dir: string;

  constructor(
    private readonly path: string,
    private readonly readFile: (path: string) => Promise<Buffer>,
  ) {
    this.dir = dirname(resolve(path));
  }

  /** `field` empty: the error is about the whole file. */
  fail(field: string, expected: string): never {
    throw new InputError(field ? `kubeconfig ${this.path}: ${field}` : `kubeconfig ${this.path}`, expected);
  }

  /** A path from the kubeconfig, relative to its directory. */
  resolve(file: string): string {
    return resolve(this.dir, file);
  }

  mapping(value: unknown, field: string): Node {
    if (value === undefined || value === null) return {};
    return isMapping(value) ? value : this.fail(field, `expected a mapping, got ${shown(value)}`);
  }

  optString(value: unknown, field: string): string | undefined {
    if (value === undefined || value === null || value === '') return undefined;
    return typeof value === 'string' ? value : this.fail(field, `expected a string, got ${shown(value)}`);
  }

  optBool(value: unknown, field: string): boolean {
    if (value === undefined || value === null) return false;
    return typeof value === 'boolean' ? value : this.fail(field, `expected true or false, got ${shown(value)}`);
  }

  stringList(value: unknown, field: string): string[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) return this.fail(field, `expected a list of strings, got ${shown(value)}`);
    return value.map((v, i) => (typeof v === 'string' ? v : this.fail(`${field}[${i}]`, `expected a string, got ${shown(v)}`)));
  }

  /** The entry called `name` in `contexts`, `clusters` or `users`; `field` is where the name came from. */
  named(doc: Node, list: 'contexts' | 'clusters' | 'users', name: string, field: string): Entry {
    const items = doc[list] ?? [];
    if (!Array.isArray(items)) return this.fail(list, `expected a list, got ${shown(items)}`);
    const index = items.findIndex((item) => isMapping(item) && item.name === name);
    if (index < 0) {
      const names = items.flatMap((item) => (isMapping(item) && typeof item.name === 'string' ? [item.name] : []));
      return this.fail(field, `expected one of the names in ${list} (${names.join(', ') || 'none'}), got ${shown(name)}`);
    }
    const key = list.slice(0, -1); // contexts[i].context, clusters[i].cluster, users[i].user
    const at = `${list}[${index}].${key}`;
    return { entry: this.mapping((items[index] as Node)[key], at), at };
  }

  /** `X-data` (base64, wins as in client-go) or `X` (a path relative to the kubeconfig). */
  async material(node: Node, at: string, key: string, label: PemLabel): Promise<string | undefined> {
    const data = this.optString(node[`${key}-data`], `${at}.${key}-data`);
    if (data !== undefined) return this.pem(`${at}.${key}-data`, this.decode(`${at}.${key}-data`, data), label);
    const file = this.optString(node[key], `${at}.${key}`);
    return file === undefined ? undefined : this.pem(`${at}.${key}`, await this.readRef(`${at}.${key}`, file), label);
  }

  /** The text of a file the kubeconfig refers to. */
  async readRef(field: string, file: string): Promise<string> {
    const absolute = this.resolve(file);
    try {
      return (await this.readFile(absolute)).toString('utf8');
    } catch (error) {
      return this.fail(field, `expected a readable file, got ${JSON.stringify(absolute)} (${errorCode(error)})`);
    }
  }

  private decode(field: string, data: string): string {
    const compact = data.replace(/\s+/g, '');
    // Go's base64.StdEncoding, as client-go decodes []byte fields: padded, no URL alphabet.
    if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) {
      return this.fail(field, 'expected base64 data, got something else');
    }
    return Buffer.from(compact, 'base64').toString('utf8');
  }

  private pem(field: string, text: string, label: PemLabel): string {
    return new RegExp(`-----BEGIN [A-Z ]*${label}-----`).test(text) ? text : this.fail(field, `expected a PEM ${label.toLowerCase()}`);
  }
}
