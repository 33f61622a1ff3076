// Farm model benchmark: how long loading, validating and storing a farm takes, for the example
// farm and for a synthetic farm 10x its size, on embedded PGlite and on PostgreSQL side by side.
// Writes bench/results/farm.json. Run with ./scripts/bench farm (it starts PostgreSQL).
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { stringify } from 'yaml';
import { farmResources, parseFarmYaml, type Farm } from '@switchyard/domain';
import { InventoryRepository, migrateDatabase, openDatabase } from '@switchyard/db';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function time(
  runs: number,
  fn: () => unknown,
): Promise<{ medianMs: number; minMs: number; runs: number }> {
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return { medianMs: +median(t).toFixed(3), minMs: +Math.min(...t).toFixed(3), runs };
}

function load(text: string): Farm {
  const r = parseFarmYaml(text);
  if (!r.ok) throw new Error(`farm invalid: ${r.issues[0]?.message}`);
  return r.farm;
}

/** Ten copies of the example site's fleets on ten sites, with distinct addresses. */
function synthetic(farm: Farm): string {
  const docs: unknown[] = [];
  for (let s = 0; s < 10; s++) {
    const site = `site-${s}`;
    const rename = (n: string) => `${n}`;
    docs.push({ ...farm.sites[0], metadata: { name: site } });
    docs.push({
      ...farm.policies[0],
      metadata: { name: `${site}-policy` },
      spec: { ...farm.policies[0]?.spec, site },
    });
    for (const f of farm.fleets) {
      const cidr = f.spec.endpoints.cidr?.replace(/^10\.(\d+)\./, (_m, b: string) => `${10 + s}.${b}.`);
      docs.push({
        ...f,
        metadata: { name: `${f.metadata.name}-s${s}` },
        spec: { ...f.spec, site, feed: rename(f.spec.feed), endpoints: { ...f.spec.endpoints, cidr } },
      });
    }
    for (const p of farm.pools)
      docs.push({ ...p, metadata: { name: `${p.metadata.name}-s${s}` }, spec: { ...p.spec, site } });
  }
  return docs.map((d) => stringify(d)).join('---\n');
}

const exampleText = readFileSync('examples/farm.yaml', 'utf8');
const example = load(exampleText);
const bigText = synthetic(example);
const big = load(bigText);

const results: Record<string, unknown> = {
  benchmark: 'farm',
  date: new Date().toISOString(),
  machine: {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
  },
  exampleFarm: { resources: farmResources(example).length, miners: 10_000 },
  syntheticFarm: { resources: farmResources(big).length, miners: 100_000 },
  parseValidateExampleMs: await time(30, () => load(exampleText)),
  parseValidateSyntheticMs: await time(5, () => load(bigText)),
};

const store: Record<string, unknown> = {};
for (const [label, url] of [
  ['pglite', undefined],
  ['postgres', process.env.DATABASE_URL],
] as const) {
  if (label === 'postgres' && !url) continue;
  const h = await openDatabase({ url });
  await migrateDatabase(h);
  const repo = new InventoryRepository(h.db);
  let n = 0;
  // Each save differs (a label changes) so every run writes a new snapshot.
  const save = await time(10, () =>
    repo.saveSnapshot(
      farmResources(big).map((r, i) =>
        i === 0 ? { ...r, metadata: { ...r.metadata, labels: { run: String(n++) } } } : r,
      ),
      'bench',
    ),
  );
  const latest = await time(10, () => repo.latest());
  const unchanged = await time(10, () =>
    repo.saveSnapshot(
      farmResources(big).map((r, i) =>
        i === 0 ? { ...r, metadata: { ...r.metadata, labels: { run: String(n - 1) } } } : r,
      ),
      'bench',
    ),
  );
  store[label] = {
    saveSyntheticSnapshotMs: save,
    readLatestSyntheticMs: latest,
    saveUnchangedSyntheticMs: unchanged,
  };
  await h.close();
}
results.storage = store;
const pg = store.postgres as { saveSyntheticSnapshotMs: { medianMs: number } } | undefined;
const lite = store.pglite as { saveSyntheticSnapshotMs: { medianMs: number } };
if (pg)
  results.pgliteVsPostgresSaveRatio = +(
    lite.saveSyntheticSnapshotMs.medianMs / pg.saveSyntheticSnapshotMs.medianMs
  ).toFixed(2);

writeFileSync('bench/results/farm.json', `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
