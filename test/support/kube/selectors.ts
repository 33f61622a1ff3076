// Label and field selectors as the API server parses them (`labelSelector=a=b,c in (x,y),!d`,
// `fieldSelector=metadata.name=n`). A selector that does not parse is a 400, as on a real server.
import { badRequest } from './status.ts';
import type { KubeObject } from './objects.ts';

export type ObjectPredicate = (obj: KubeObject) => boolean;

const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Splits on commas outside parentheses. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== '');
}

function checkKey(key: string, raw: string): string {
  if (!LABEL_KEY.test(key) || key.length > 317)
    throw badRequest(`unable to parse requirement: invalid label key "${raw}"`);
  return key;
}

function checkValue(value: string): string {
  if (!LABEL_VALUE.test(value) || value.length > 63)
    throw badRequest(`unable to parse requirement: invalid label value: "${value}"`);
  return value;
}

function labelTerm(term: string): (labels: Record<string, string>) => boolean {
  const set = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (set) {
    const key = checkKey(set[1] as string, term);
    const values = new Set(
      (set[3] as string)
        .split(',')
        .map((v) => v.trim())
        .map(checkValue),
    );
    return set[2] === 'in'
      ? (l) => l[key] !== undefined && values.has(l[key])
      : (l) => l[key] === undefined || !values.has(l[key]);
  }
  const op = /^([^!=\s]+)\s*(==|!=|=)\s*(\S*)$/.exec(term);
  if (op) {
    const key = checkKey(op[1] as string, term);
    const value = checkValue(op[3] as string);
    return op[2] === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
  }
  if (term.startsWith('!')) {
    const key = checkKey(term.slice(1).trim(), term);
    return (l) => l[key] === undefined;
  }
  const key = checkKey(term, term);
  return (l) => l[key] !== undefined;
}

export function parseLabelSelector(selector: string | null): ObjectPredicate {
  if (!selector) return () => true;
  const terms = splitTerms(selector).map(labelTerm);
  return (obj) => {
    const labels = obj.metadata.labels ?? {};
    return terms.every((t) => t(labels));
  };
}

function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur === undefined || cur === null ? '' : String(cur);
}

/**
 * `fields` are the selectable fields of the kind besides metadata.name and metadata.namespace
 * (e.g. spec.nodeName for pods); others are refused with 400 as the real server does.
 */
export function parseFieldSelector(selector: string | null, fields: readonly string[] = []): ObjectPredicate {
  if (!selector) return () => true;
  const allowed = new Set(['metadata.name', 'metadata.namespace', ...fields]);
  const terms = splitTerms(selector).map((term) => {
    const m = /^([^!=\s]+)\s*(==|!=|=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    const [, path, op, value] = m as unknown as [string, string, string, string];
    if (!allowed.has(path)) throw badRequest(`field label not supported: ${path}`);
    return op === '!='
      ? (o: KubeObject) => fieldValue(o, path) !== value
      : (o: KubeObject) => fieldValue(o, path) === value;
  });
  return (obj) => terms.every((t) => t(obj));
}

export interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/** A metav1.LabelSelector (PodDisruptionBudget, Deployment): an empty selector matches everything. */
export function matchesSelectorObject(
  sel: LabelSelectorObject | undefined,
  labels: Record<string, string>,
): boolean {
  if (!sel) return false;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = labels[e.key] !== undefined;
    const inValues = has && (e.values ?? []).includes(labels[e.key] as string);
    const ok = { In: inValues, NotIn: !inValues, Exists: has, DoesNotExist: !has }[e.operator];
    if (!ok) return false;
  }
  return true;
}
