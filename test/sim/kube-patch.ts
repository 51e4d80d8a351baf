// The patch types the API server takes for built-in objects: JSON merge patch (RFC 7386),
// strategic merge patch (a merge patch that merges some lists by a key and understands a
// few `$` directives), and JSON patch (RFC 6902). Pure: a patched deep copy or a PatchError.

export type Json = any;

export class PatchError extends Error {
  /** 400: the patch itself cannot be read; 422: it cannot be applied to this object */
  constructor(
    readonly code: 400 | 422,
    message: string,
  ) {
    super(message);
  }
}

export const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'] as const;
export type PatchType = (typeof PATCH_TYPES)[number];

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386: objects merge recursively, null deletes a key, anything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, Json> = isObject(target) ? structuredClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

// The lists of Node and Event that Kubernetes merges by a key (patchMergeKey in the Go
// types); every other list is replaced, as in a merge patch.
const MERGE_KEYS: Readonly<Record<string, string>> = {
  'status.conditions': 'type',
  'status.addresses': 'type',
  'status.volumesAttached': 'name',
  'metadata.ownerReferences': 'uid',
};

/** Strategic merge patch over the fields above; `$patch`, `$setElementOrder/…` and `$retainKeys` understood. */
export function strategicMergePatch(target: Json, patch: Json, path = ''): Json {
  if (!isObject(patch)) return structuredClone(patch);
  if (patch['$patch'] === 'replace') {
    const { $patch: _replace, ...rest } = patch;
    return structuredClone(rest);
  }
  if (patch['$patch'] === 'delete') return undefined;
  const out: Record<string, Json> = isObject(target) ? structuredClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$setElementOrder/') || key === '$retainKeys' || key === '$patch') continue;
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const list = key.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[list]) && Array.isArray(value)) out[list] = out[list].filter((v: Json) => !value.includes(v));
      continue;
    }
    const at = path ? `${path}.${key}` : key;
    if (value === null) {
      delete out[key];
    } else if (Array.isArray(value) && MERGE_KEYS[at] !== undefined) {
      out[key] = mergeList(Array.isArray(out[key]) ? out[key] : [], value, MERGE_KEYS[at]!, at);
    } else if (isObject(value)) {
      const merged = strategicMergePatch(out[key], value, at);
      if (merged === undefined) delete out[key];
      else out[key] = merged;
    } else {
      out[key] = structuredClone(value);
    }
  }
  return out;
}

function mergeList(target: Json[], patch: Json[], key: string, path: string): Json[] {
  const out = structuredClone(target);
  for (const item of patch) {
    if (!isObject(item) || item[key] === undefined) throw new PatchError(422, `${path}: map: ${JSON.stringify(item)} does not contain declared merge key: ${key}`);
    const index = out.findIndex((existing: Json) => isObject(existing) && existing[key] === item[key]);
    if (item['$patch'] === 'delete') {
      if (index >= 0) out.splice(index, 1);
    } else if (index >= 0) {
      out[index] = strategicMergePatch(out[index], item, path);
    } else {
      out.push(strategicMergePatch({}, item, path));
    }
  }
  return out;
}

/** RFC 6901 pointer → parent container and key; creates nothing. */
function locate(doc: Json, pointer: string): { parent: Json; key: string } {
  if (pointer === '') throw new PatchError(422, 'the root of the object cannot be the target of this operation');
  if (!pointer.startsWith('/')) throw new PatchError(422, `invalid JSON pointer ${JSON.stringify(pointer)}`);
  const parts = pointer.slice(1).split('/').map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  let parent = doc;
  for (const part of parts.slice(0, -1)) {
    const next = Array.isArray(parent) ? parent[Number(part)] : isObject(parent) ? parent[part] : undefined;
    if (next === undefined) throw new PatchError(422, `doc is missing path: ${pointer}`);
    parent = next;
  }
  return { parent, key: parts.at(-1)! };
}

function get(doc: Json, pointer: string): Json {
  if (pointer === '') return doc;
  const { parent, key } = locate(doc, pointer);
  const value = Array.isArray(parent) ? parent[Number(key)] : isObject(parent) ? parent[key] : undefined;
  if (value === undefined) throw new PatchError(422, `doc is missing path: ${pointer}`);
  return value;
}

function remove(doc: Json, pointer: string): Json {
  const { parent, key } = locate(doc, pointer);
  const value = get(doc, pointer);
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else delete parent[key];
  return value;
}

function add(doc: Json, pointer: string, value: Json): void {
  const { parent, key } = locate(doc, pointer);
  if (Array.isArray(parent)) {
    const index = key === '-' ? parent.length : Number(key);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new PatchError(422, `add operation: index out of range: ${pointer}`);
    parent.splice(index, 0, structuredClone(value));
  } else if (isObject(parent)) {
    parent[key] = structuredClone(value);
  } else {
    throw new PatchError(422, `doc is missing path: ${pointer}`);
  }
}

/** RFC 6902: add, remove, replace, move, copy, test, in order; all or nothing. */
export function jsonPatch(target: Json, operations: Json): Json {
  if (!Array.isArray(operations)) throw new PatchError(400, 'json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  const doc = structuredClone(target);
  for (const op of operations) {
    if (!isObject(op) || typeof op['path'] !== 'string') throw new PatchError(400, `invalid JSON patch operation ${JSON.stringify(op)}`);
    const path = op['path'] as string;
    switch (op['op']) {
      case 'add':
        add(doc, path, op['value']);
        break;
      case 'remove':
        remove(doc, path);
        break;
      case 'replace':
        get(doc, path);
        remove(doc, path);
        add(doc, path, op['value']);
        break;
      case 'move':
        add(doc, path, remove(doc, String(op['from'])));
        break;
      case 'copy':
        add(doc, path, get(doc, String(op['from'])));
        break;
      case 'test':
        if (JSON.stringify(get(doc, path)) !== JSON.stringify(op['value'])) throw new PatchError(422, `testing value ${path} failed`);
        break;
      default:
        throw new PatchError(400, `Unexpected kind: ${String(op['op'])}`);
    }
  }
  return doc;
}

export function applyPatch(type: PatchType, target: Json, body: string): Json {
  let patch: Json;
  try {
    patch = JSON.parse(body);
  } catch (error) {
    throw new PatchError(400, `error decoding patch: ${(error as Error).message}`);
  }
  if (type === 'application/json-patch+json') return jsonPatch(target, patch);
  if (!isObject(patch)) throw new PatchError(400, 'error decoding patch: expected a JSON object');
  return type === 'application/merge-patch+json' ? mergePatch(target, patch) : strategicMergePatch(target, patch);
}
