// docs/metrics.md lists every metric the components define, with its type and labels, and
// nothing else: checked against a registry in which every component's metrics module is created.
import { readFileSync } from 'node:fs';
import { metricCatalog, allComponentsRegistry, DEFAULT_METRIC_PREFIXES } from '../support/metric-catalog.ts';

interface DocRow {
  name: string;
  type: string;
  labels: string[];
  meaning: string;
}

function documented(): DocRow[] {
  const rows: DocRow[] = [];
  for (const line of readFileSync('docs/metrics.md', 'utf8').split('\n')) {
    const m = /^\| `(switchyard_[a-z0-9_]+)` \| (\w+) \| ([^|]*) \| (.+) \|$/.exec(line);
    if (!m) continue;
    const labels = [...(m[3] as string).matchAll(/`([a-z_]+)`/g)].map((x) => x[1] as string);
    rows.push({ name: m[1] as string, type: m[2] as string, labels, meaning: (m[4] as string).trim() });
  }
  return rows;
}

describe('docs/metrics.md', () => {
  it('lists every metric of the registry with its type and labels, and no other', async () => {
    const catalog = await metricCatalog();
    const docs = documented();
    expect(catalog.length).toBeGreaterThan(30);
    const byName = new Map(docs.map((d) => [d.name, d]));
    const missing = catalog.filter((c) => !byName.has(c.name)).map((c) => c.name);
    expect(missing).toEqual([]);
    const extra = docs.filter((d) => !catalog.some((c) => c.name === d.name)).map((d) => d.name);
    expect(extra).toEqual([]);
    for (const c of catalog) {
      const d = byName.get(c.name) as DocRow;
      expect({ name: c.name, type: d.type, labels: d.labels }).toEqual({
        name: c.name,
        type: c.type,
        labels: c.labels,
      });
      expect(d.meaning.length).toBeGreaterThan(10);
    }
    // Listed once each.
    expect(new Set(docs.map((d) => d.name)).size).toBe(docs.length);
  });

  it('no metric is labelled per miner, order or plan', async () => {
    const catalog = await metricCatalog();
    const forbidden = ['host', 'miner', 'order', 'order_id', 'plan', 'plan_id', 'id', 'ip', 'job'];
    const bad = catalog.filter((c) => c.labels.some((l) => forbidden.includes(l)));
    expect(bad.map((c) => `${c.name}{${c.labels.join(',')}}`)).toEqual([]);
  });

  it('the default process metrics are on', async () => {
    const registry = await allComponentsRegistry();
    const names = registry.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name);
    for (const prefix of DEFAULT_METRIC_PREFIXES) expect(names.some((n) => n.startsWith(prefix))).toBe(true);
    expect(names).toContain('process_cpu_seconds_total');
  });
});
