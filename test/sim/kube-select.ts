// Field and label selectors as the API server parses and applies them (apimachinery's
// fields.ParseSelector and labels.Parse). Pure.

export class SelectorError extends Error {}

export interface FieldRequirement {
  field: string;
  value: string;
  equal: boolean;
}

/** `a=b,c==d,e!=f`; `fields` are the names the resource accepts. */
export function parseFieldSelector(selector: string, fields: readonly string[]): FieldRequirement[] {
  if (selector === '') return [];
  return selector.split(',').map((term) => {
    const match = /^([^=!]+)(==|=|!=)(.*)$/.exec(term.trim());
    if (!match) throw new SelectorError(`invalid field selector: invalid selector: '${selector}'; can't understand '${term}'`);
    const [, field = '', op, value = ''] = match;
    if (!fields.includes(field)) throw new SelectorError(`field label not supported: ${field}`);
    return { field, value, equal: op !== '!=' };
  });
}

export function fieldsMatch(values: Readonly<Record<string, string>>, requirements: readonly FieldRequirement[]): boolean {
  return requirements.every((r) => ((values[r.field] ?? '') === r.value) === r.equal);
}

export interface LabelRequirement {
  key: string;
  op: 'in' | 'notin' | 'exists' | '!';
  values: string[];
}

/** `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, comma-joined. */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  const out: LabelRequirement[] = [];
  let rest = selector.trim();
  const fail = (): never => {
    throw new SelectorError(`unable to parse requirement: found '${rest}', expected: a label selector`);
  };
  while (rest !== '') {
    let match: RegExpExecArray | null;
    if ((match = /^([^\s=!,()]+)\s+(in|notin)\s*\(([^)]*)\)\s*(,|$)/.exec(rest))) {
      const values = match[3]!.split(',').map((v) => v.trim()).filter((v) => v !== '');
      out.push({ key: match[1]!, op: match[2] as 'in' | 'notin', values });
    } else if ((match = /^([^\s=!,()]+)\s*(==|=|!=)\s*([^\s,()]*)\s*(,|$)/.exec(rest))) {
      out.push({ key: match[1]!, op: match[2] === '!=' ? 'notin' : 'in', values: [match[3]!] });
    } else if ((match = /^!\s*([^\s=!,()]+)\s*(,|$)/.exec(rest))) {
      out.push({ key: match[1]!, op: '!', values: [] });
    } else if ((match = /^([^\s=!,()]+)\s*(,|$)/.exec(rest))) {
      out.push({ key: match[1]!, op: 'exists', values: [] });
    } else {
      fail();
    }
    rest = rest.slice(match![0].length).trim();
  }
  return out;
}

export function labelsMatch(labels: Readonly<Record<string, string>> | undefined, requirements: readonly LabelRequirement[]): boolean {
  const l = labels ?? {};
  return requirements.every((r) => {
    const has = Object.hasOwn(l, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case '!':
        return !has;
      case 'in':
        return has && r.values.includes(l[r.key]!);
      case 'notin':
        return !has || !r.values.includes(l[r.key]!);
    }
  });
}
