// The fleet poller, detection and the miner CLI against the simulator's real firmware servers:
// one small fleet per driver on its own loopback addresses, with wire faults injected.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseFarmYaml, type Farm } from '@switchyard/domain';
import {
  createMinerDriver,
  detectMiner,
  FACTORY_CREDENTIALS,
  FleetPoller,
  pollTargets,
  ThreadedFleetPoller,
  toObservationRows,
  MINER_STATES,
  type PollResult,
} from '@switchyard/miners';
import { ObservationRepository, migrateDatabase, openDatabase } from '@switchyard/db';
import { startSimulator, type RunningSimulator } from '@switchyard/simulator';

const FARM = `
apiVersion: switchyard.io/v1alpha1
kind: Site
metadata: { name: mini }
spec:
  interconnectKw: 500
  marketNode: HB_WEST
  pue: 1.1
  powerTree:
    name: site
    limitKw: 400
    children:
      - { name: pdu-1, limitKw: 100 }
      - { name: pdu-2, limitKw: 100 }
  coolingZones: [{ name: hall, capacityKw: 400 }]
${[
  ['am', 'S19 Pro', 'antminer', 'pdu-1', '10.203.0.0/29'],
  ['lx', 'S19j Pro', 'luxos', 'pdu-1', '10.203.1.0/29'],
  ['bo', 'S21', 'braiins', 'pdu-2', '10.203.2.0/29'],
  ['wm', 'M50S', 'whatsminer', 'pdu-2', '10.203.3.0/29'],
]
  .map(
    ([name, model, driver, feed, cidr]) => `---
apiVersion: switchyard.io/v1alpha1
kind: MinerFleet
metadata: { name: ${name} }
spec: { site: mini, feed: ${feed}, coolingZone: hall, model: ${model}, driver: ${driver}, endpoints: { cidr: ${cidr}, count: 6 } }
`,
  )
  .join('')}`;

const parsed = parseFarmYaml(FARM);
if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
const farm: Farm = parsed.farm;
const toSim = (h: string) => h.replace(/^\d+\./, '127.');

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({
    farm,
    workers: 0,
    httpPort: 0,
    speed: 1,
    sleepSeconds: 1,
    wakeSeconds: 5,
    quirkRate: 0.2,
    seed: 7,
  });
}, 60_000);
afterAll(() => sim?.close());

const makePoller = () =>
  new FleetPoller({
    concurrency: 8,
    mapHost: toSim,
    createDriver: (t) =>
      createMinerDriver(t.driver, {
        host: t.host,
        port: t.port + (t.port < 1024 ? sim.portOffset : 0),
        timeoutMs: 1500,
        credentials: FACTORY_CREDENTIALS[t.driver],
        nameplateW: t.nameplateW,
      }),
  });

function totals(r: PollResult) {
  const out = Object.fromEntries(MINER_STATES.map((s) => [s, 0])) as Record<string, number>;
  for (const f of r.fleets) for (const [k, v] of Object.entries(f.byState)) out[k] = (out[k] ?? 0) + v;
  return out;
}

describe('fleet poller against the simulated firmware', () => {
  it('reads every miner of every driver and aggregates per fleet and power-tree node', async () => {
    const poller = makePoller();
    try {
      const r = await poller.poll(farm);
      expect(totals(r)).toMatchObject({ hashing: 24, fault: 0, offline: 0 });
      expect(r.degraded).toEqual([]);
      for (const f of r.fleets) {
        expect(f.miners).toBe(6);
        expect(f.hashrateThs).toBeGreaterThan(6 * 80);
        expect(f.powerKw).toBeGreaterThan(6 * 2.5);
        expect(f.maxChipTempC).not.toBeNull();
      }
      // Antminer stock firmware reports no power: estimated. The others measure it.
      expect(r.fleets.find((f) => f.fleet === 'am')?.powerKwBySource.measured).toBe(0);
      expect(r.fleets.find((f) => f.fleet === 'lx')?.powerKwBySource.estimated).toBe(0);
      const node = (n: string) => r.nodes.find((x) => x.node === n);
      const fleet = (n: string) => r.fleets.find((x) => x.fleet === n);
      expect(node('pdu-1')?.powerKw).toBeCloseTo(
        (fleet('am')?.powerKw ?? 0) + (fleet('lx')?.powerKw ?? 0),
        6,
      );
      expect(node('site')?.powerKw).toBeCloseTo(
        r.fleets.reduce((n, f) => n + f.powerKw, 0),
        6,
      );
      expect(node('site')?.miners).toBe(24);
    } finally {
      await poller.close();
    }
  });

  it('marks faulted miners offline or fault with a reason and counts them at nameplate', async () => {
    const poller = makePoller();
    const victims = ['10.203.0.1', '10.203.1.1', '10.203.2.1', '10.203.3.1', '10.203.0.2', '10.203.3.2'];
    try {
      await sim.sim.applyFaults({ fault: 'timeout', hosts: victims.slice(0, 4) });
      await sim.sim.applyFaults({ fault: 'garbage', hosts: victims.slice(4) });
      const r = await poller.poll(farm);
      expect(r.degraded.map((d) => d.host).sort()).toEqual(victims.map(toSim).sort());
      for (const d of r.degraded) {
        const timedOut = victims.slice(0, 4).map(toSim).includes(d.host);
        expect(d.state).toBe(timedOut ? 'offline' : 'fault');
        expect(d.reason).toMatch(timedOut ? /^timeout: / : /^(malformed|protocol): /);
      }
      const am = r.fleets.find((f) => f.fleet === 'am');
      expect(am?.degraded).toBe(2);
      expect(am?.powerKwBySource.nameplate).toBeCloseTo((2 * 3250) / 1000, 6);
      expect(Object.values(am?.degradedReasons ?? {}).reduce((a, b) => a + b, 0)).toBe(2);
      // Aggregates never carry a host name.
      expect(JSON.stringify(r.fleets)).not.toMatch(/127\.203\./);
    } finally {
      await sim.sim.applyFaults({ fault: null, hosts: victims });
      await poller.close();
    }
  }, 30_000);

  it('sleeps every miner and confirms it by reading back; a second sleep changes nothing', async () => {
    const poller = makePoller();
    try {
      const targets = pollTargets(farm, toSim);
      expect(await poller.act(targets, 'sleep')).toEqual([]);
      let r: PollResult;
      const deadline = Date.now() + 15_000;
      // Sleeping is reported at once; the draw falls over the simulator's sleep time (1 s).
      do {
        await new Promise((res) => setTimeout(res, 500));
        r = await poller.poll(farm);
      } while (
        (totals(r).sleeping !== 24 || r.fleets.reduce((n, f) => n + f.powerKw, 0) > 1.2) &&
        Date.now() < deadline
      );
      expect(totals(r)).toMatchObject({ sleeping: 24, hashing: 0 });
      expect(r.fleets.reduce((n, f) => n + f.powerKw, 0)).toBeLessThan(24 * 0.05);
      expect(await poller.act(targets, 'sleep')).toEqual([]);
      expect(totals(await poller.poll(farm)).sleeping).toBe(24);
      expect(await poller.act(targets, 'wake')).toEqual([]);
      const after = await poller.poll(farm);
      expect(totals(after).sleeping).toBe(0);
    } finally {
      await poller.close();
    }
  }, 60_000);

  it('stores observations per fleet, never per miner', async () => {
    const poller = makePoller();
    const db = await openDatabase({});
    try {
      await migrateDatabase(db);
      const r = await poller.poll(farm);
      const repo = new ObservationRepository(db.db);
      expect(await repo.appendFleetObservations(r.startedAt, toObservationRows(r.fleets))).toBe(4);
      const latest = await repo.latestPerFleet();
      expect(latest.map((o) => o.fleet).sort()).toEqual(['am', 'bo', 'lx', 'wm']);
      expect(latest.find((o) => o.fleet === 'am')?.powerSource).toBe('estimated');
      expect(latest.find((o) => o.fleet === 'wm')?.powerSource).toBe('measured');
    } finally {
      await poller.close();
      await db.close();
    }
  }, 30_000);

  it('reads the same across worker threads', async () => {
    const threaded = new ThreadedFleetPoller({ threads: 2, concurrency: 8, timeoutMs: 1500, mapHost: toSim });
    try {
      if (sim.portOffset !== 0) return; // threads dial the real ports; the offset only applies when not root
      const r = await threaded.poll(farm);
      expect(r.fleets.map((f) => f.fleet).sort()).toEqual(['am', 'bo', 'lx', 'wm']);
      // Miners woken by the previous test may still be ramping (Braiins says "preheating").
      expect(r.degraded.filter((d) => d.state !== 'ramping')).toEqual([]);
      expect((totals(r).hashing ?? 0) + (totals(r).ramping ?? 0)).toBe(24);
    } finally {
      await threaded.close();
    }
  }, 30_000);
});

describe('detection', () => {
  it.each([
    ['127.203.0.3', 'antminer', 'S19 Pro'],
    ['127.203.1.3', 'luxos', 'S19j Pro'],
    ['127.203.2.3', 'braiins', 'S21'],
    ['127.203.3.3', 'whatsminer', 'M50S'],
  ])('%s is %s (%s)', async (host, driver, model) => {
    const r = await detectMiner({ host, webPort: 80 + sim.portOffset, timeoutMs: 1500 });
    expect(r.driver).toBe(driver);
    if (r.driver) expect(r.identity?.model).toBe(model);
  });

  it('says "unknown firmware" rather than guessing', async () => {
    const r = await detectMiner({ host: '127.203.9.9', timeoutMs: 500 });
    expect(r.driver).toBeNull();
    if (r.driver === null) {
      expect(r.reason).toMatch(/^unknown firmware/);
      expect(r.evidence).toHaveLength(3);
    }
  });
});

describe('switchyard miner probe --json', () => {
  const MAIN = join(process.cwd(), 'services/cli/src/main.ts');
  it.each([
    ['127.203.0.4', 'antminer'],
    ['127.203.1.4', 'luxos'],
    ['127.203.2.4', 'braiins'],
    ['127.203.3.4', 'whatsminer'],
  ])('prints the documented telemetry for %s (%s)', async (host, driver) => {
    if (sim.portOffset !== 0) return; // the CLI dials the firmware's real ports
    // Asynchronously: the simulator runs in this process and must keep answering.
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [MAIN, 'miner', 'probe', host, '--json']);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const t = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(t).sort()).toEqual(
      [
        'host',
        'port',
        'driver',
        'make',
        'model',
        'firmware',
        'state',
        'hashrateThs',
        'hashrateAvgThs',
        'powerW',
        'powerSource',
        'efficiencyJth',
        'boards',
        'fans',
        'pools',
        'uptimeS',
        'profile',
        'errors',
      ].sort(),
    );
    expect(t).toMatchObject({ host, driver });
    expect(['hashing', 'ramping']).toContain(t.state);
    expect(typeof t.hashrateThs).toBe('number');
    expect(typeof t.powerW).toBe('number');
    expect(t.powerSource).toBe(driver === 'antminer' ? 'estimated' : 'measured');
    expect((t.boards as unknown[]).length).toBeGreaterThan(0);
  });
});
