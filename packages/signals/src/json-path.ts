// A dotted path into parsed JSON: `data.rows`, `result[0].prices`, `` (the root). Only own
// properties are followed, so a path can never reach `__proto__` or `constructor`.

export function parseJsonPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  if (path.trim() === '') return out;
  for (const part of path.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) throw new Error(`bad JSON path segment ${JSON.stringify(part)} in ${JSON.stringify(path)}`);
    if (m[1]) out.push(m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

/** The value at `path`, or undefined when any step is missing. */
export function getJsonPath(root: unknown, path: string): unknown {
  let cur: unknown = root;
  for (const key of parseJsonPath(path)) {
    if (typeof key === 'number') {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[key];
    } else {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, key))
        return undefined;
      cur = (cur as Record<string, unknown>)[key];
    }
  }
  return cur;
}
