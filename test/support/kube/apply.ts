// Server-side apply with a simple model of field ownership. Every leaf field (a scalar, a list
// or an empty map; lists are atomic) belongs to the field managers that last set it:
//   - an update (create, PUT, merge or JSON patch) takes the fields it changes from everyone;
//   - an apply sets the fields of its configuration, conflicts (409) with another manager that
//     owns one of them with a different value unless `force`, and removes the fields it applied
//     before and no longer applies, when nobody else owns them.
// The object's metadata.managedFields is rebuilt from this model after every write.
import { clone, isObject, jsonEqual, rfc3339, type JsonObject, type KubeObject } from './objects.ts';
import { StatusError } from './status.ts';

export type Operation = 'Apply' | 'Update';

export interface ManagerEntry {
  manager: string;
  operation: Operation;
  subresource?: 'status';
  apiVersion: string;
  time: string;
  /** JSON-encoded key paths. */
  fields: Set<string>;
}

type Path = string[];
const enc = (p: Path) => JSON.stringify(p);
const dec = (s: string) => JSON.parse(s) as Path;

const METADATA_TRACKED = ['labels', 'annotations', 'finalizers', 'ownerReferences'];

function leaves(v: unknown, prefix: Path, out: Path[]): void {
  if (isObject(v) && Object.keys(v).length > 0) {
    for (const [k, child] of Object.entries(v)) if (child !== undefined) leaves(child, [...prefix, k], out);
  } else out.push(prefix);
}

/** The fields ownership is tracked for: everything but identity and server-set metadata. */
export function trackedPaths(
  obj: KubeObject | JsonObject,
  part: 'main' | 'status',
  statusSeparate: boolean,
): Path[] {
  const out: Path[] = [];
  if (part === 'status') {
    if (obj.status !== undefined) leaves(obj.status, ['status'], out);
    return out;
  }
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || v === undefined) continue;
    if (k === 'status' && statusSeparate) continue;
    if (k === 'metadata' && isObject(v)) {
      for (const m of METADATA_TRACKED) if (v[m] !== undefined) leaves(v[m], ['metadata', m], out);
      continue;
    }
    leaves(v, [k], out);
  }
  return out;
}

export function valueAt(obj: unknown, path: Path): unknown {
  let cur = obj;
  for (const k of path) {
    if (!isObject(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function setAt(obj: JsonObject, path: Path, value: unknown): void {
  let cur = obj;
  for (const k of path.slice(0, -1)) {
    if (!isObject(cur[k])) cur[k] = {};
    cur = cur[k] as JsonObject;
  }
  cur[path[path.length - 1] as string] = clone(value);
}

/** Removes the field, and maps left empty by it. */
function deleteAt(obj: JsonObject, path: Path): void {
  const parents: JsonObject[] = [];
  let cur: unknown = obj;
  for (const k of path.slice(0, -1)) {
    if (!isObject(cur)) return;
    parents.push(cur);
    cur = cur[k];
  }
  if (!isObject(cur)) return;
  delete cur[path[path.length - 1] as string];
  for (let i = path.length - 2; i >= 0; i--) {
    const parent = parents[i] as JsonObject;
    const key = path[i] as string;
    if (isObject(parent[key]) && Object.keys(parent[key] as JsonObject).length === 0) delete parent[key];
    else break;
  }
}

const overlaps = (a: Path, b: Path) => {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
};

function entryFor(
  owners: ManagerEntry[],
  manager: string,
  operation: Operation,
  subresource: 'status' | undefined,
  apiVersion: string,
  now: number,
): ManagerEntry {
  let e = owners.find(
    (o) => o.manager === manager && o.operation === operation && o.subresource === subresource,
  );
  if (!e) {
    e = {
      manager,
      operation,
      apiVersion,
      time: rfc3339(now),
      fields: new Set(),
      ...(subresource ? { subresource } : {}),
    };
    owners.push(e);
  }
  e.time = rfc3339(now);
  e.apiVersion = apiVersion;
  return e;
}

function disown(owners: ManagerEntry[], path: Path, except?: ManagerEntry): void {
  for (const o of owners) {
    if (o === except) continue;
    for (const f of [...o.fields]) if (overlaps(dec(f), path)) o.fields.delete(f);
  }
}

export interface WriteContext {
  manager: string;
  subresource?: 'status';
  apiVersion: string;
  statusSeparate: boolean;
  now: number;
}

/** Records an update's changes: the writer owns every field it changed. */
export function recordUpdate(
  owners: ManagerEntry[],
  before: KubeObject | undefined,
  after: KubeObject,
  ctx: WriteContext,
): void {
  const part = ctx.subresource === 'status' ? 'status' : 'main';
  const next = trackedPaths(after, part, ctx.statusSeparate);
  const prev = before ? trackedPaths(before, part, ctx.statusSeparate) : [];
  const changed = next.filter((p) => !jsonEqual(valueAt(before, p), valueAt(after, p)));
  const removed = prev.filter((p) => valueAt(after, p) === undefined);
  for (const p of removed) disown(owners, p);
  if (changed.length === 0) return;
  const entry = entryFor(owners, ctx.manager, 'Update', ctx.subresource, ctx.apiVersion, ctx.now);
  for (const p of changed) {
    disown(owners, p, entry);
    entry.fields.add(enc(p));
  }
}

/**
 * Applies `config` over `current` (undefined: the object does not exist yet) for ctx.manager.
 * Returns the merged object; throws 409 listing the conflicts unless `force`.
 */
export function serverSideApply(
  current: KubeObject | undefined,
  config: KubeObject,
  owners: ManagerEntry[],
  ctx: WriteContext & { force: boolean },
): KubeObject {
  const part = ctx.subresource === 'status' ? 'status' : 'main';
  const applied = trackedPaths(config, part, ctx.statusSeparate);
  const conflicts: Array<{ manager: string; field: string }> = [];
  const contested = new Set<string>();
  for (const p of applied) {
    const differs = !jsonEqual(valueAt(current, p), valueAt(config, p));
    if (!differs) continue;
    for (const o of owners) {
      if (o.manager === ctx.manager) continue;
      if (![...o.fields].some((f) => overlaps(dec(f), p))) continue;
      conflicts.push({ manager: o.manager, field: `.${p.join('.')}` });
      contested.add(enc(p));
    }
  }
  if (conflicts.length > 0 && !ctx.force) {
    const lines = conflicts.map((c) => `conflict with "${c.manager}": ${c.field}`);
    throw new StatusError(
      409,
      'Conflict',
      `Apply failed with ${conflicts.length} conflict(s): ${lines.join(', ')}`,
      {
        causes: conflicts.map((c) => ({
          reason: 'FieldManagerConflict',
          message: `conflict with "${c.manager}"`,
          field: c.field,
        })),
      },
    );
  }
  const out = clone(current ?? { metadata: {} }) as KubeObject;
  const entry = entryFor(owners, ctx.manager, 'Apply', ctx.subresource, ctx.apiVersion, ctx.now);
  const appliedSet = new Set(applied.map(enc));
  for (const f of entry.fields) {
    if (appliedSet.has(f)) continue;
    const p = dec(f);
    const ownedElsewhere = owners.some((o) => o !== entry && [...o.fields].some((g) => overlaps(dec(g), p)));
    if (!ownedElsewhere) deleteAt(out, p);
  }
  for (const p of applied) {
    if (contested.has(enc(p))) disown(owners, p, entry); // forced: the field changes hands
    setAt(out, p, valueAt(config, p));
  }
  entry.fields = appliedSet;
  return out;
}

function fieldsV1(fields: Set<string>): JsonObject {
  const root: JsonObject = {};
  for (const f of [...fields].sort()) {
    let cur = root;
    for (const k of dec(f)) {
      const key = `f:${k}`;
      if (!isObject(cur[key])) cur[key] = {};
      cur = cur[key] as JsonObject;
    }
  }
  return root;
}

/** metadata.managedFields as the real server writes it. */
export function managedFields(owners: ManagerEntry[]): JsonObject[] {
  return owners
    .filter((o) => o.fields.size > 0)
    .map((o) => ({
      manager: o.manager,
      operation: o.operation,
      apiVersion: o.apiVersion,
      time: o.time,
      fieldsType: 'FieldsV1',
      fieldsV1: fieldsV1(o.fields),
      ...(o.subresource ? { subresource: o.subresource } : {}),
    }));
}
