// The whole example farm (10,000 miners) in two worker processes, every miner served on its
// loopback address by the test-only protocol; every one of them is asked who it is.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { planFarm } from '../../services/simulator/src/farm-plan.ts';
import { startSimulator, type RunningSimulator } from '../../services/simulator/src/start.ts';
import { JSONL_PORT, jsonlRequest } from './support/jsonl-protocol.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const PROTOCOL = path.join(import.meta.dirname, 'support', 'jsonl-protocol.ts');

describe('the example farm in worker processes', () => {
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await startSimulator({
      farmFile: path.join(ROOT, 'examples', 'farm.yaml'),
      workers: 2,
      protocols: [PROTOCOL],
      httpPort: 0,
      speed: 10,
      logLevel: 'warn',
    });
  }, 60_000);
  afterAll(() => sim?.close());

  it('starts 10,000 miners in two processes, one listener each', () => {
    expect(sim.miners).toBe(10_000);
    expect(sim.listeners).toBe(10_000);
    expect(sim.workerPids).toHaveLength(2);
    expect(sim.sim.hosts.map((h) => h.miners).reduce((a, b) => a + b, 0)).toBe(10_000);
    console.log(`example farm with the test protocol: started in ${sim.startupMs} ms`);
  });

  it('serves every miner on its 127.x address', async () => {
    const fleets = (await (await fetch(`${sim.url}/sim/miners`)).json()) as {
      fleets: Array<{ fleet: string; miners: number; listeners: number; states: { hashing: number } }>;
      totals: { miners: number; listeners: number };
    };
    expect(fleets.totals).toMatchObject({ miners: 10_000, listeners: 10_000 });
    expect(fleets.fleets.every((f) => f.states.hashing === f.miners)).toBe(true);

    // every address of the farm: 10.b.c.d → 127.b.c.d, asked 200 at a time
    const hosts: string[] = [];
    const detail = (await (await fetch(`${sim.url}/healthz`)).json()) as {
      hosts: Array<{ fleets: string[] }>;
    };
    expect(detail.hosts).toHaveLength(2);
    for (const f of planFarm(sim.sim.farm)) for (const m of f.miners) hosts.push(m.simHost);
    expect(hosts).toHaveLength(10_000);
    let next = 0;
    let ok = 0;
    const wrong: string[] = [];
    const worker = async () => {
      while (next < hosts.length) {
        const h = hosts[next++] as string;
        const r = (await jsonlRequest(h, JSONL_PORT, { cmd: 'id' })) as { simHost: string };
        if (r.simHost === h) ok++;
        else wrong.push(h);
      }
    };
    await Promise.all(Array.from({ length: 200 }, worker));
    expect(wrong).toEqual([]);
    expect(ok).toBe(10_000);
  }, 60_000);

  it('logs the whole tree: the site draws what its fleets and GPU nodes draw', async () => {
    await sim.sim.waitForSample(sim.sim.clock.now() + 1000);
    const p = (await (await fetch(`${sim.url}/sim/power`)).json()) as {
      sites: Array<{ totalKw: number; nodes: Array<{ name: string; kw: number; over: boolean }> }>;
      fleets: Array<{ powerKw: number }>;
    };
    const site = p.sites[0];
    const fleetsKw = p.fleets.reduce((a, f) => a + f.powerKw, 0);
    expect(site?.totalKw).toBeCloseTo(fleetsKw + 32 * 1.6 + 24 * 1.7, 0);
    expect(site?.totalKw).toBeGreaterThan(32_000);
    expect(site?.nodes.some((n) => n.over)).toBe(false);
  });
});
