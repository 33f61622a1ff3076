// JSON merge patch (RFC 7386) and JSON patch (RFC 6902), applied to a copy of the stored object.
// A JSON patch that is not a list of operations is a 400; one that cannot be applied (a missing
// path, a failed `test`) is a 422, as on a real server.
import { badRequest, StatusError } from './status.ts';
import { clone, isObject, jsonEqual, type JsonObject } from './objects.ts';

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

const unprocessable = (message: string) => new StatusError(422, 'Invalid', message);

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw unprocessable(`invalid JSON pointer "${path}"`);
  return path
    .slice(1)
    .split('/')
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
}

type Container = JsonObject | unknown[];

/** The parent of the last token, and that token. */
function locate(doc: unknown, tokens: string[], path: string): { parent: Container; key: string } {
  let cur: unknown = doc;
  for (const t of tokens.slice(0, -1)) {
    const next: unknown = Array.isArray(cur) ? cur[Number(t)] : isObject(cur) ? cur[t] : undefined;
    if (next === undefined || next === null || typeof next !== 'object')
      throw unprocessable(`doc is missing path: "${path}": missing value`);
    cur = next;
  }
  if (cur === null || typeof cur !== 'object') throw unprocessable(`doc is missing path: "${path}"`);
  return { parent: cur as Container, key: tokens[tokens.length - 1] as string };
}

function arrayIndex(arr: unknown[], key: string, forInsert: boolean, path: string): number {
  if (forInsert && key === '-') return arr.length;
  const i = Number(key);
  const max = forInsert ? arr.length : arr.length - 1;
  if (!/^\d+$/.test(key) || i > max) throw unprocessable(`index out of bounds in path "${path}"`);
  return i;
}

function getAt(doc: unknown, path: string): unknown {
  const tokens = pointer(path);
  if (tokens.length === 0) return doc;
  const { parent, key } = locate(doc, tokens, path);
  const v = Array.isArray(parent) ? parent[arrayIndex(parent, key, false, path)] : parent[key];
  if (v === undefined) throw unprocessable(`doc is missing path: "${path}": missing value`);
  return v;
}

function removeAt(doc: unknown, path: string): unknown {
  const tokens = pointer(path);
  if (tokens.length === 0) throw unprocessable('cannot remove the whole document');
  const { parent, key } = locate(doc, tokens, path);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, false, path), 1)[0];
  if (!(key in parent)) throw unprocessable(`unable to remove nonexistent key: ${key}: missing value`);
  const v = parent[key];
  delete parent[key];
  return v;
}

function addAt(doc: unknown, path: string, value: unknown, replace: boolean): unknown {
  const tokens = pointer(path);
  if (tokens.length === 0) return clone(value);
  const { parent, key } = locate(doc, tokens, path);
  if (Array.isArray(parent)) {
    const i = arrayIndex(parent, key, !replace, path);
    parent.splice(i, replace ? 1 : 0, clone(value));
  } else {
    if (replace && !(key in parent))
      throw unprocessable(`replace operation does not apply: doc is missing key: ${path}`);
    parent[key] = clone(value);
  }
  return doc;
}

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function applyOp(doc: unknown, o: Operation): unknown {
  switch (o.op) {
    case 'add':
      return addAt(doc, o.path, o.value, false);
    case 'replace':
      return addAt(doc, o.path, o.value, true);
    case 'remove':
      removeAt(doc, o.path);
      return doc;
    case 'move':
      return addAt(doc, o.path, removeAt(doc, o.from ?? ''), false);
    case 'copy':
      return addAt(doc, o.path, getAt(doc, o.from ?? ''), false);
    case 'test':
      if (!jsonEqual(getAt(doc, o.path), o.value))
        throw unprocessable(`testing value ${o.path} failed: test failed`);
      return doc;
    default:
      throw badRequest(`Unexpected kind: ${o.op}`);
  }
}

export function jsonPatch(target: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch))
    throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let doc = clone(target);
  for (const raw of patch) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string')
      throw badRequest('invalid JSON patch operation: op and path are required');
    doc = applyOp(doc, raw as unknown as Operation);
  }
  return doc;
}
