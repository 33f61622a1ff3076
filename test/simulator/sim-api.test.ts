// The simulator end to end on a small farm: miners served on their loopback addresses by a
// test-only protocol, in this process and in a worker process, and the HTTP control API over
// real sockets. Also the command line as a subprocess.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSimulator, type RunningSimulator } from '../../services/simulator/src/start.ts';
import { LAB_FARM_YAML, labFarm } from '../../services/simulator/src/testing/lab-farm.ts';
import { JSONL_PORT, jsonlRequest } from './support/jsonl-protocol.ts';

const PROTOCOL = path.join(import.meta.dirname, 'support', 'jsonl-protocol.ts');

// Replies are read loosely here; their shapes are what the assertions check.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function api(sim: RunningSimulator, method: string, url: string, body?: unknown) {
  const res = await fetch(sim.url + url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    body: (await res.json()) as Json,
  };
}

describe('simulator in this process, small farm', () => {
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await startSimulator({
      farm: labFarm(),
      workers: 0,
      protocols: [PROTOCOL],
      httpPort: 0,
      speed: 20,
    });
  });
  afterAll(() => sim?.close());

  it('serves one listener per miner on its 127.x address', async () => {
    expect(sim.miners).toBe(50);
    expect(sim.listeners).toBe(50);
    expect(sim.workerPids).toEqual([]);
    const ids = await Promise.all(
      sim.sim.miners().map((m) => jsonlRequest(m.id.simHost, JSONL_PORT, { cmd: 'id' })),
    );
    expect(ids.map((r) => (r as { farmHost: string }).farmHost)).toEqual(
      sim.sim.miners().map((m) => m.id.farmHost),
    );
    expect(ids[0]).toEqual({
      farmHost: '10.201.0.1',
      simHost: '127.201.0.1',
      fleet: 'fa',
      driver: 'braiins',
    });
  });

  it('reports health, power with limits and headroom, and history', async () => {
    await sim.sim.waitForSample();
    const h = await api(sim, 'GET', '/healthz');
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ status: 'ok', miners: 50, speed: 20, portOffset: 0 });
    const p = await api(sim, 'GET', '/sim/power');
    const site = p.body.sites[0];
    expect(site).toMatchObject({ site: 'lab', interconnectKw: 500, safetyMarginPct: 5, pue: 1.1 });
    const pduA = site.nodes.find((n: { name: string }) => n.name === 'pdu-a');
    expect(pduA).toMatchObject({ parent: 'tx', limitKw: 76, marginLimitKw: 72.2, over: false });
    expect(pduA.kw).toBeGreaterThan(69);
    expect(pduA.headroomKw).toBeCloseTo(76 - pduA.kw, 3);
    expect(site.totalKw).toBeCloseTo(site.nodes[0].kw, 6);
    expect(site.facilityKw).toBeCloseTo(site.totalKw * 1.1, 2);
    const hist = await api(sim, 'GET', '/sim/power/history?node=pdu-a&limit=5');
    expect(hist.status).toBe(200);
    expect(hist.body.samples.length).toBeGreaterThan(0);
    expect(hist.body.samples.length).toBeLessThanOrEqual(5);
    const since = hist.body.samples[0].t;
    const later = await api(sim, 'GET', `/sim/power/history?node=pdu-a&since=${since}`);
    expect(later.body.samples.every((s: { t: number }) => s.t > since)).toBe(true);
    const missing = await api(sim, 'GET', '/sim/power/history?node=pdu-zz');
    expect(missing.status).toBe(404);
    expect(missing.type).toContain('application/problem+json');
    expect((await api(sim, 'GET', '/sim/power/history')).status).toBe(400);
    expect((await api(sim, 'GET', '/sim/violations')).body.violations).toEqual([]);
  });

  it('counts miners by state per fleet, and follows controls sent over the wire', async () => {
    const m = await api(sim, 'GET', '/sim/miners?fleet=fa');
    expect(m.body.fleets[0]).toMatchObject({ fleet: 'fa', miners: 20, served: true, listeners: 20 });
    expect(m.body.fleets[0].states.hashing).toBe(20);
    expect((await api(sim, 'GET', '/sim/miners?fleet=zz')).status).toBe(404);
    await jsonlRequest('127.201.0.3', JSONL_PORT, { cmd: 'sleep' });
    const after = await api(sim, 'GET', '/sim/miners?fleet=fa');
    expect(after.body.fleets[0].states).toMatchObject({ hashing: 19, sleeping: 1 });
    const all = await api(sim, 'GET', '/sim/miners');
    expect(all.body.totals.miners).toBe(50);
    const one = await api(sim, 'GET', '/sim/miners/10.201.0.3');
    expect(one.body.observation.state).toBe('sleeping');
    expect(one.body.ports).toEqual([JSONL_PORT]);
    expect((await api(sim, 'GET', '/sim/miners/10.9.9.9')).status).toBe(404);
    const ctl = await api(sim, 'POST', '/sim/miners/control', { action: 'wake', hosts: ['10.201.0.3'] });
    expect(ctl.body.matched).toBe(1);
    expect((await api(sim, 'POST', '/sim/miners/control', { action: 'profile' })).status).toBe(400);
  });

  it('injects faults the protocol servers act on, and validates the body', async () => {
    const bad = await api(sim, 'POST', '/sim/faults', { fault: 'meltdown', fraction: 2, extra: 1 });
    expect(bad.status).toBe(400);
    expect(bad.type).toContain('application/problem+json');
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['', 'fault', 'fraction']);
    expect((await api(sim, 'POST', '/sim/faults', { fleet: 'fa' })).status).toBe(400);
    expect((await api(sim, 'POST', '/sim/faults', { fault: 'refuse', fleet: 'zz' })).status).toBe(400);
    const bin = await fetch(`${sim.url}/sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{',
    });
    expect(bin.status).toBe(400);

    const r = await api(sim, 'POST', '/sim/faults', { fault: 'refuse', hosts: ['10.201.0.9', '10.7.7.7'] });
    expect(r.body).toMatchObject({ matched: 1, hosts: ['10.201.0.9'], unknownHosts: ['10.7.7.7'] });
    await expect(jsonlRequest('127.201.0.9', JSONL_PORT, { cmd: 'id' })).rejects.toThrow();
    await api(sim, 'POST', '/sim/faults', { fault: null, hosts: ['10.201.0.9'] });
    await expect(jsonlRequest('127.201.0.9', JSONL_PORT, { cmd: 'id' })).resolves.toMatchObject({
      farmHost: '10.201.0.9',
    });
  });

  it('sets ambient, GPU modes and speed', async () => {
    expect((await api(sim, 'POST', '/sim/ambient', { site: 'lab', ambientC: 30 })).body).toEqual({
      ambientC: { lab: 30 },
    });
    expect((await api(sim, 'POST', '/sim/ambient', { site: 'nope', ambientC: 30 })).status).toBe(400);
    expect((await api(sim, 'POST', '/sim/ambient', { site: 'lab', ambientC: 'hot' })).status).toBe(400);
    const g = await api(sim, 'GET', '/sim/gpu');
    expect(g.body.pools[0]).toMatchObject({
      pool: 'gpu',
      nodes: 4,
      modes: { idle: 4, serving: 0, hashing: 0 },
    });
    const set = await api(sim, 'POST', '/sim/gpu/gpu/gpu-node-00/mode', { mode: 'hashing' });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ node: 'gpu-node-00', mode: 'hashing' });
    expect((await api(sim, 'POST', '/sim/gpu/gpu/gpu-node-00/mode', { mode: 'mining' })).status).toBe(400);
    expect((await api(sim, 'POST', '/sim/gpu/gpu/gpu-node-99/mode', { mode: 'idle' })).status).toBe(404);
    const sp = await api(sim, 'POST', '/sim/speed', { speed: 10 });
    expect(sp.body.speed).toBe(10);
    expect((await api(sim, 'GET', '/sim/clock')).body.speed).toBe(10);
    expect((await api(sim, 'POST', '/sim/speed', { speed: 0 })).status).toBe(400);
    expect((await api(sim, 'GET', '/sim/nothing')).status).toBe(404);
  });

  it('closes every socket, idempotently', async () => {
    await Promise.all([sim.close(), sim.close()]);
    await expect(jsonlRequest('127.201.0.1', JSONL_PORT, { cmd: 'id' })).rejects.toThrow(/ECONNREFUSED/);
    await expect(fetch(`${sim.url}/healthz`)).rejects.toThrow();
  });
});

describe('simulator with a worker process, small farm', () => {
  it('hosts the miners in a child process and stops it on close', async () => {
    const sim = await startSimulator({
      farm: labFarm(),
      workers: 1,
      protocols: [PROTOCOL],
      httpPort: 0,
      speed: 20,
      logLevel: 'warn',
    });
    try {
      expect(sim.workerPids).toHaveLength(1);
      const pid = sim.workerPids[0] as number;
      expect(pid).not.toBe(process.pid);
      expect(sim.listeners).toBe(50);
      await expect(jsonlRequest('127.201.1.5', JSONL_PORT, { cmd: 'id' })).resolves.toMatchObject({
        fleet: 'fb',
      });
      await sim.sim.waitForSample(sim.sim.clock.now() + 1000);
      const p = await api(sim, 'GET', '/sim/power');
      expect(p.body.sites[0].nodes.find((n: { name: string }) => n.name === 'pdu-b').kw).toBeGreaterThan(90);
      const f = await api(sim, 'POST', '/sim/faults', { fault: 'refuse', fleet: 'fb' });
      expect(f.body.matched).toBe(30);
      await expect(jsonlRequest('127.201.1.5', JSONL_PORT, { cmd: 'id' })).rejects.toThrow();
      const m = await api(sim, 'GET', '/sim/miners?fleet=fb');
      expect(m.body.fleets[0].faults).toEqual({ refuse: 30 });
      await sim.close();
      expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
    } finally {
      await sim.close();
    }
  });
});

describe('simulator port mapping', () => {
  it('binds where a portMap says, in this process', async () => {
    const sim = await startSimulator({
      farm: labFarm(),
      workers: 0,
      protocols: [PROTOCOL],
      httpPort: 0,
      portMap: (p) => p + 100,
    });
    try {
      await expect(jsonlRequest('127.201.0.2', JSONL_PORT + 100, { cmd: 'id' })).resolves.toMatchObject({
        farmHost: '10.201.0.2',
      });
      expect((await api(sim, 'GET', '/sim/miners/10.201.0.2')).body.ports).toEqual([JSONL_PORT + 100]);
    } finally {
      await sim.close();
    }
  });

  it('refuses a portMap function with worker processes, and a bad offset', async () => {
    await expect(
      startSimulator({ farm: labFarm(), workers: 1, protocols: [PROTOCOL], httpPort: 0, portMap: (p) => p }),
    ).rejects.toThrow(/portMap cannot reach worker processes/);
    await expect(
      startSimulator({ farm: labFarm(), workers: 0, protocols: false, httpPort: 0, portOffset: -5 }),
    ).rejects.toThrow(/portOffset must be an integer/);
  });
});

describe('simulator command line', () => {
  it('starts from a farm file, prints its API and stops on SIGTERM', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sim-cli-'));
    try {
      const farmFile = path.join(dir, 'farm.yaml');
      writeFileSync(farmFile, LAB_FARM_YAML);
      const main = path.join(import.meta.dirname, '../../services/simulator/src/main.ts');
      const child = spawn(
        process.execPath,
        [main, '--farm', farmFile, '--http-port', '0', '--workers', '1', '--no-protocols', '--speed', '30'],
        { env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no API line:\n${out}\n${err}`)), 20_000);
        child.stdout.on('data', () => {
          const m = /control API (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1] as string);
          }
        });
      });
      expect(out).toMatch(/50 miners in 2 fleets, 4 GPU nodes; 1 worker processes/);
      const h = (await (await fetch(`${url}/healthz`)).json()) as { miners: number };
      expect(h.miners).toBe(50);
      const code = await new Promise<number | null>((resolve) => {
        child.once('exit', (c) => resolve(c));
        child.kill('SIGTERM');
      });
      expect(code).toBe(0);
      expect(out).toMatch(/stopped \(SIGTERM\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 on a usage error and 1 on an invalid farm file', async () => {
    const main = path.join(import.meta.dirname, '../../services/simulator/src/main.ts');
    const run = (args: string[]) =>
      new Promise<{ code: number | null; err: string }>((resolve) => {
        const c = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        c.stderr.on('data', (d: Buffer) => (err += d.toString()));
        c.once('exit', (code) => resolve({ code, err }));
      });
    const usage = await run(['--speed', 'fast']);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/--speed must be a number/);
    const missing = await run(['--farm', '/nonexistent/farm.yaml']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/cannot read farm file/);
  });
});
