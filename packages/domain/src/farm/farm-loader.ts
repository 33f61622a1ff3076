// Parsing a multi-document farm file into validated resources. Pure: takes text, returns the
// farm or every problem found (never only the first), each naming document, field and problem.
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import type { z } from 'zod';
import {
  API_VERSION,
  RESOURCE_KINDS,
  RESOURCE_SCHEMAS,
  type AllocationPolicy,
  type FarmResource,
  type GpuPool,
  type MinerFleet,
  type ResourceKind,
  type Site,
} from './resource-schema.ts';
import { crossCheckFarm } from './farm-validation.ts';

export interface Farm {
  sites: Site[];
  fleets: MinerFleet[];
  pools: GpuPool[];
  policies: AllocationPolicy[];
}

export interface FarmIssue {
  /** "Kind/name", or "document N" when the document cannot be identified. */
  document: string;
  /** Dotted field path inside the document ("spec.powerTree.children[1].limitKw"), or "". */
  path: string;
  message: string;
  /** 1-based line in the source text, when known. */
  line?: number | undefined;
}

export type FarmParseResult = { ok: true; farm: Farm } | { ok: false; issues: FarmIssue[] };

export function formatIssue(i: FarmIssue, source?: string): string {
  const where = i.line !== undefined && source !== undefined ? ` (${source}:${i.line})` : '';
  return `${i.document}${i.path ? ` ${i.path}` : ''}: ${i.message}${where}`;
}

export function pathToString(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function lineOf(doc: Document, path: ReadonlyArray<PropertyKey>, lc: LineCounter): number | undefined {
  // Walk down as far as the path exists, so a missing field points at its parent.
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as unknown[], true) as
      { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}

function zodMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `is required (${issue.expected})`;
  return issue.message;
}

const NOT_A_MAPPING = 'must be a mapping with apiVersion, kind, metadata and spec';

/** What every document needs before its kind's schema applies: a mapping, apiVersion and a known kind. */
function checkHeader(
  raw: unknown,
  label: string,
): { id: string; kind?: ResourceKind; issue?: { path: string; message: string } } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    return { id: label, issue: { path: '', message: NOT_A_MAPPING } };
  const r = raw as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } | null };
  const kind = r.kind;
  const name = r.metadata?.name;
  const id = typeof kind === 'string' && typeof name === 'string' ? `${kind}/${name}` : label;
  if (r.apiVersion !== API_VERSION) {
    return {
      id,
      issue: {
        path: 'apiVersion',
        message: `must be "${API_VERSION}" (got ${JSON.stringify(r.apiVersion)})`,
      },
    };
  }
  if (typeof kind !== 'string' || !(RESOURCE_KINDS as string[]).includes(kind)) {
    return {
      id,
      issue: {
        path: 'kind',
        message: `must be one of ${RESOURCE_KINDS.join(', ')} (got ${JSON.stringify(kind)})`,
      },
    };
  }
  return { id, kind: kind as ResourceKind };
}

/** "Kind/name" of a document that cannot be read as a whole, when its header still can. */
function headerId(doc: Document): string | undefined {
  const kind = doc.get('kind');
  const name = doc.getIn(['metadata', 'name']);
  return typeof kind === 'string' && typeof name === 'string' ? `${kind}/${name}` : undefined;
}

interface Parsed {
  index: number;
  doc: Document;
  resource: FarmResource;
}

/** Parses and validates a multi-document YAML farm file (or the same as an array of objects). */
export function parseFarmYaml(text: string): FarmParseResult {
  const lc = new LineCounter();
  const issues: FarmIssue[] = [];
  let docs: Document[];
  try {
    docs = parseAllDocuments(text, { lineCounter: lc, uniqueKeys: true }) as Document[];
  } catch (e) {
    return { ok: false, issues: [{ document: 'file', path: '', message: (e as Error).message }] };
  }
  if (!Array.isArray(docs)) docs = [docs as Document];
  const parsed: Parsed[] = [];
  const invalid = new Set<string>();
  docs.forEach((doc, i) => {
    const label = `document ${i + 1}`;
    for (const err of doc.errors) {
      issues.push({
        document: label,
        path: '',
        message: `YAML: ${err.message.split('\n')[0]?.replace(/:$/, '')}`,
        line: err.linePos?.[0]?.line,
      });
    }
    if (doc.errors.length > 0) {
      invalid.add(headerId(doc) ?? label);
      return;
    }
    let raw: unknown;
    try {
      raw = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      // Unresolved aliases and alias bombs only surface here.
      issues.push({
        document: label,
        path: '',
        message: `YAML: ${(e as Error).message}`,
        line: lineOf(doc, [], lc),
      });
      invalid.add(headerId(doc) ?? label);
      return;
    }
    if (raw === null || raw === undefined) return; // empty document, e.g. between separators
    const { id, kind, issue } = checkHeader(raw, label);
    if (issue || !kind) {
      if (issue)
        issues.push({ document: id, ...issue, line: lineOf(doc, issue.path ? [issue.path] : [], lc) });
      invalid.add(id);
      return;
    }
    const result = RESOURCE_SCHEMAS[kind].safeParse(raw, { reportInput: true });
    if (!result.success) {
      for (const zi of result.error.issues) {
        // An unknown field is located at its own key, not at the object holding it.
        const at =
          zi.code === 'unrecognized_keys' && zi.keys[0] !== undefined ? [...zi.path, zi.keys[0]] : zi.path;
        issues.push({
          document: id,
          path: pathToString(zi.path),
          message: zodMessage(zi),
          line: lineOf(doc, at, lc),
        });
      }
      invalid.add(id);
      return;
    }
    parsed.push({ index: i, doc, resource: result.data as FarmResource });
  });

  const farm: Farm = { sites: [], fleets: [], pools: [], policies: [] };
  for (const p of parsed) {
    const r = p.resource;
    if (r.kind === 'Site') farm.sites.push(r);
    else if (r.kind === 'MinerFleet') farm.fleets.push(r);
    else if (r.kind === 'GpuPool') farm.pools.push(r);
    else farm.policies.push(r);
  }
  if (parsed.length === 0 && issues.length === 0) {
    issues.push({ document: 'file', path: '', message: 'contains no resources' });
  }
  const byId = new Map(parsed.map((p) => [`${p.resource.kind}/${p.resource.metadata.name}`, p]));
  for (const ci of crossCheckFarm(farm, invalid)) {
    const p = byId.get(ci.document);
    issues.push({ ...ci, line: p ? lineOf(p.doc, splitPath(ci.path), lc) : undefined });
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, farm };
}

/** Inverse of pathToString, for locating cross-check issues in the source. */
function splitPath(path: string): PropertyKey[] {
  const out: PropertyKey[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g))
    out.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
  return out;
}

/** Validates resources that arrive as objects (API, CRDs, database) with the same rules. */
export function validateFarmResources(resources: unknown[]): FarmParseResult {
  const issues: FarmIssue[] = [];
  const invalid = new Set<string>();
  const farm: Farm = { sites: [], fleets: [], pools: [], policies: [] };
  resources.forEach((raw, i) => {
    const { id, kind, issue } = checkHeader(raw, `document ${i + 1}`);
    if (issue || !kind) {
      if (issue) issues.push({ document: id, ...issue });
      invalid.add(id);
      return;
    }
    const res = RESOURCE_SCHEMAS[kind].safeParse(raw, { reportInput: true });
    if (!res.success) {
      for (const zi of res.error.issues)
        issues.push({ document: id, path: pathToString(zi.path), message: zodMessage(zi) });
      invalid.add(id);
      return;
    }
    const d = res.data as FarmResource;
    if (d.kind === 'Site') farm.sites.push(d);
    else if (d.kind === 'MinerFleet') farm.fleets.push(d);
    else if (d.kind === 'GpuPool') farm.pools.push(d);
    else farm.policies.push(d);
  });
  issues.push(...crossCheckFarm(farm, invalid));
  return issues.length > 0 ? { ok: false, issues } : { ok: true, farm };
}

export function farmResources(farm: Farm): FarmResource[] {
  return [...farm.sites, ...farm.policies, ...farm.fleets, ...farm.pools];
}
