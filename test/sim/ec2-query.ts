// Reading EC2 Query parameters: flattened lists (`AllocationId.1`), filters
// (`Filter.1.Name`, `Filter.1.Value.1`) and EC2's filter semantics. Pure.
import { SimError } from './world.js';

export type Params = Readonly<Record<string, string>>;

export interface Filter {
  name: string;
  values: string[];
}

/** What one filter name reads from an item: a value, several, or nothing. */
export type FilterField<T> = (item: T) => string | readonly string[] | undefined;

export function parseForm(body: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(body));
}

/** `Prefix.1`, `Prefix.2`, … in index order (EC2 orders by index, not by position). */
export function listParam(params: Params, prefix: string): string[] {
  const pattern = new RegExp(`^${prefix.replaceAll('.', '\\.')}\\.(\\d+)$`);
  return Object.entries(params)
    .flatMap(([key, value]) => {
      const match = pattern.exec(key);
      return match ? [{ index: Number(match[1]), value }] : [];
    })
    .sort((a, b) => a.index - b.index)
    .map((entry) => entry.value);
}

export function filtersOf(params: Params): Filter[] {
  const indexes = new Set<number>();
  for (const key of Object.keys(params)) {
    const match = /^Filter\.(\d+)\./.exec(key);
    if (match) indexes.add(Number(match[1]));
  }
  return [...indexes]
    .sort((a, b) => a - b)
    .map((n) => {
      const name = params[`Filter.${n}.Name`];
      if (name === undefined || name === '') {
        throw new SimError('MissingParameter', `The request must contain the parameter Filter.${n}.Name`);
      }
      return { name, values: listParam(params, `Filter.${n}.Value`) };
    });
}

/** EC2 filter values: case-sensitive, `*` any run, `?` one character, `\` escapes. */
export function wildcard(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]!);
    else if (c === '*') source += '[\\s\\S]*';
    else if (c === '?') source += '[\\s\\S]';
    else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`);
}

export function escapeRegExp(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Resolves each filter name against the table (unknown → InvalidParameterValue, as EC2
 * answers) and keeps the items matching every filter (AND) on any of its values (OR).
 * `tag:KEY` is resolved here because its name carries the key.
 */
export function applyFilters<T>(
  items: readonly T[],
  filters: readonly Filter[],
  fields: Readonly<Record<string, FilterField<T>>>,
  tagsOf?: (item: T) => Readonly<Record<string, string>>,
): T[] {
  const tests = filters.map((filter) => {
    let field: FilterField<T> | undefined = Object.hasOwn(fields, filter.name) ? fields[filter.name] : undefined;
    if (!field && tagsOf && filter.name.startsWith('tag:')) {
      const key = filter.name.slice('tag:'.length);
      field = (item) => tagsOf(item)[key];
    }
    if (!field) throw new SimError('InvalidParameterValue', `The filter '${filter.name}' is invalid`);
    const read = field;
    const patterns = filter.values.map(wildcard);
    return (item: T) => {
      const raw = read(item);
      const values = raw === undefined ? [] : typeof raw === 'string' ? [raw] : raw;
      return values.some((v) => patterns.some((p) => p.test(v)));
    };
  });
  return items.filter((item) => tests.every((test) => test(item)));
}
