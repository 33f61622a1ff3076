// Cluster mode plans what standalone mode plans: examples/farm.yaml applied as custom resources to
// the fake API server and read back by KubeFarmSource (the controller's source in a cluster)
// gives, for the same signals (examples/signals.json) and observations, the same plan as the
// farm file: both solvers' decisions, changes, reasons and economics.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { KubeFarmSource } from '@switchyard/cluster';
import { parseFarmYaml, parseSignalsFile, plan, planGreedy, type Farm, type Plan } from '@switchyard/domain';
import { HighsSolver } from '@switchyard/solver';
import { startFakeApiServer, type FakeApiServer } from '../support/kube/fake-apiserver.ts';
import { chartCrds } from '../support/kube/fixtures.ts';
import type { KubeObject } from '../support/kube/objects.ts';

const FARM_TEXT = readFileSync('examples/farm.yaml', 'utf8');
const SIGNALS_TEXT = readFileSync('examples/signals.json', 'utf8');

let server: FakeApiServer;
let fromResources: Farm;
let solver: HighsSolver;

beforeAll(async () => {
  server = await startFakeApiServer({ crds: chartCrds(process.cwd()) });
  for (const d of parseAllDocuments(FARM_TEXT)) server.seed(d.toJS() as KubeObject);
  const source = new KubeFarmSource({ kubeConfig: server.kubeConfig() });
  fromResources = await source.start();
  await source.close();
  solver = new HighsSolver();
}, 60_000);

afterAll(async () => {
  await solver?.close();
  await server?.close();
});

/** A plan without its solver statistics, the only part that varies between identical runs. */
const comparable = ({ stats: _stats, ...rest }: Plan) => rest;

function inputFor(farm: Farm) {
  const r = parseSignalsFile(SIGNALS_TEXT, farm, { now: Date.parse('2026-07-15T18:00:00Z') });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.input;
}

it('reads the same farm from the resources as from the file', () => {
  const parsed = parseFarmYaml(FARM_TEXT);
  if (!parsed.ok) throw new Error('example farm invalid');
  expect(fromResources).toEqual(parsed.farm);
});

it('plans the same, greedy and MIP, from the farm the resources describe', async () => {
  const parsed = parseFarmYaml(FARM_TEXT);
  if (!parsed.ok) throw new Error('example farm invalid');
  const fixedClock = () => 0;
  const fileGreedy = planGreedy(inputFor(parsed.farm), fixedClock);
  const clusterGreedy = planGreedy(inputFor(fromResources), fixedClock);
  expect(comparable(clusterGreedy)).toEqual(comparable(fileGreedy));
  expect(fileGreedy.changes.length).toBeGreaterThan(0);
  const fileMip = await plan(inputFor(parsed.farm), solver);
  const clusterMip = await plan(inputFor(fromResources), solver);
  expect(comparable(clusterMip)).toEqual(comparable(fileMip));
}, 60_000);
