// The ground-truth power log, with the miners in this process and no protocol servers.
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FarmSimulator } from './farm-sim.ts';
import type { PowerSample } from './power/power-tree.ts';
import { labFarm } from './testing/lab-farm.ts';

const running: FarmSimulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(opts: ConstructorParameters<typeof FarmSimulator>[1] = {}) {
  const sim = new FarmSimulator(labFarm(), { workers: 0, protocols: false, speed: 20, ...opts });
  running.push(sim);
  await sim.start();
  return sim;
}

/** Collects samples for a while (resolves after n samples). */
function collect(sim: FarmSimulator, n: number, check?: (s: PowerSample[]) => void): Promise<PowerSample[]> {
  const out: PowerSample[] = [];
  return new Promise((resolve) => {
    const off = sim.onSample((s) => {
      check?.(s);
      out.push(s[0] as PowerSample);
      if (out.length >= n) {
        off();
        resolve(out);
      }
    });
  });
}

const nodeKw = (sim: FarmSimulator, s: PowerSample, node: string) =>
  s.kw[sim.tree.sites[0]?.index.get(node) as number] as number;

describe('FarmSimulator power log', () => {
  it('sums every node from its miners and GPU nodes, through every ancestor', async () => {
    const sim = await start();
    const miners = sim.miners();
    expect(miners).toHaveLength(50);
    let checked = 0;
    const fleetKw = (fleet: string, t: number) =>
      miners.filter((m) => m.id.fleet === fleet).reduce((a, m) => a + m.sample(t).powerW, 0) / 1000;
    // stir things up so some miners are in transition while we compare
    await sim.control({ action: 'sleep', fleet: 'fb', fraction: 0.5 });
    await collect(sim, 20, ([s]) => {
      if (!s) return;
      const a = fleetKw('fa', s.t);
      const b = fleetKw('fb', s.t);
      expect(nodeKw(sim, s, 'pdu-a')).toBeCloseTo(a, 6);
      expect(nodeKw(sim, s, 'pdu-b')).toBeCloseTo(b, 6);
      expect(nodeKw(sim, s, 'pdu-g')).toBeCloseTo(4 * 1.6, 6);
      expect(nodeKw(sim, s, 'tx')).toBeCloseTo(a + b + 6.4, 6);
      expect(nodeKw(sim, s, 'site')).toBeCloseTo(nodeKw(sim, s, 'tx'), 6);
      checked++;
    });
    expect(checked).toBe(20);
    expect(nodeKw(sim, (await sim.waitForSample())[0] as PowerSample, 'pdu-b')).toBeLessThan(70);
  });

  it('samples at 1 Hz of simulated time, with no gaps', async () => {
    const sim = await start({ speed: 50 });
    const t0 = performance.now();
    const samples = await collect(sim, 60);
    expect(performance.now() - t0).toBeLessThan(5000); // 60 sim seconds in ~1.2 real seconds
    for (let i = 1; i < samples.length; i++) {
      expect((samples[i] as PowerSample).t - (samples[i - 1] as PowerSample).t).toBe(1000);
      expect((samples[i] as PowerSample).t % 1000).toBe(0);
    }
  });

  it('flags a node over its limit and over its margin, in memory and in the JSON-lines log', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sim-power-'));
    const file = path.join(dir, 'power.jsonl');
    try {
      const sim = await start({ powerLog: file, speed: 20 });
      await sim.waitForSample();
      expect(sim.violations().violations).toEqual([]);
      const before = sim.power()[0]?.nodes.find((n) => n.name === 'pdu-a');
      expect(before?.kw).toBeGreaterThan(69);
      expect(before?.over).toBe(false);

      // every miner of pdu-a's fleet to its top profile: 20 × 3850 W = 77 kW > 76 kW
      const r = await sim.control({ action: 'profile', profile: 'turbo', fleet: 'fa' });
      expect(r.matched).toBe(20);
      await sim.waitForSample(sim.clock.now() + 8000);
      const v = sim.violations({ kind: 'limit' });
      expect(v.violations.length).toBeGreaterThan(0);
      expect(new Set(v.violations.map((x) => x.node))).toEqual(new Set(['pdu-a']));
      const first = v.violations[0];
      expect(first?.limitKw).toBe(76);
      expect(first?.kw).toBeGreaterThan(76);
      const margin = sim.violations({ kind: 'margin', node: 'pdu-a' }).violations;
      expect(margin[0]?.limitKw).toBeCloseTo(72.2, 6);
      expect(margin[0]?.t).toBeLessThanOrEqual(first?.t ?? 0); // the margin is crossed first
      expect(sim.power()[0]?.nodes.find((n) => n.name === 'pdu-a')?.over).toBe(true);
      await sim.close();

      const lines = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines[0]?.type).toBe('header');
      const samples = lines.filter((l) => l.type === 'sample');
      expect(samples.length).toBeGreaterThan(5);
      expect(samples.some((l) => (l.over as string[]).includes('pdu-a'))).toBe(true);
      expect(samples[0]?.over).toEqual([]);
      expect(lines.some((l) => l.type === 'event' && l.event === 'control')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('follows GPU node modes, with a short transition', async () => {
    const sim = await start({ gpuTransitionSeconds: 10 });
    for (const g of sim.gpuNodes()) expect(sim.setGpuMode('gpu', g.node, 'serving')).toBeNull();
    expect(sim.setGpuMode('gpu', 'nope', 'serving')).toMatch(/no GPU node/);
    const [s] = await sim.waitForSample(sim.clock.now() + 11_000);
    expect(nodeKw(sim, s as PowerSample, 'pdu-g')).toBeCloseTo(4 * 10.2, 6);
  });

  it('chooses a deterministic fraction of miners for a fault, a superset for a larger fraction', async () => {
    const sim = await start();
    const a = await sim.applyFaults({ fault: 'garbage', fleet: 'fb', fraction: 0.4 });
    const b = await sim.applyFaults({ fault: 'garbage', fleet: 'fb', fraction: 0.4 });
    const c = await sim.applyFaults({ fault: 'garbage', fleet: 'fb', fraction: 0.8 });
    expect(a.hosts).toEqual(b.hosts);
    expect(a.matched).toBeGreaterThan(4);
    expect(a.matched).toBeLessThan(26);
    expect(c.hosts).toEqual(expect.arrayContaining(a.hosts));
    const byHost = await sim.applyFaults({ fault: null, hosts: ['10.201.1.1', '127.201.1.2', '10.9.9.9'] });
    expect(byHost.matched).toBe(2);
    expect(byHost.unknownHosts).toEqual(['10.9.9.9']);
    await expect(sim.applyFaults({ fault: 'refuse', fleet: 'nope' })).rejects.toThrow(/no MinerFleet "nope"/);
  });

  it('throttles miners when the site gets hot, which the log shows', async () => {
    const sim = await start();
    const [s0] = await sim.waitForSample();
    const cool = nodeKw(sim, s0 as PowerSample, 'pdu-a');
    await sim.setAmbient('lab', 41);
    const [s1] = await sim.waitForSample(sim.clock.now() + 2000);
    expect(nodeKw(sim, s1 as PowerSample, 'pdu-a')).toBeLessThan(cool * 0.9);
    const fa = (await sim.fleetStatus('fa'))[0];
    expect(fa?.throttled).toBe(20);
    expect(fa?.states.fault).toBe(0);
    await sim.setAmbient('lab', 52);
    await sim.waitForSample(sim.clock.now() + 1000);
    expect((await sim.fleetStatus('fa'))[0]?.states.fault).toBe(20);
  });
});
