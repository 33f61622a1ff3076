// GET /sim/changes end to end: a small farm in two worker processes with the real firmware
// servers, commands sent over the wire through the LuxOS driver and its raw RPC, through the
// simulator's own control API and to a GPU node. Addresses 10.208.x.y (127.208.x.y).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseFarmYaml } from '@switchyard/domain';
import { createLuxosDriver, FACTORY_CREDENTIALS, rpcCommand } from '@switchyard/miners';
import { startSimulator, type RunningSimulator } from '../start.ts';

const FARM = `
apiVersion: switchyard.io/v1alpha1
kind: Site
metadata: { name: chg }
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
      - { name: pdu-g, limitKw: 50 }
  coolingZones: [{ name: hall, capacityKw: 400 }]
---
apiVersion: switchyard.io/v1alpha1
kind: MinerFleet
metadata: { name: lx }
spec: { site: chg, feed: pdu-1, coolingZone: hall, model: S19j Pro, driver: luxos, endpoints: { cidr: 10.208.0.0/29, count: 4 } }
---
apiVersion: switchyard.io/v1alpha1
kind: MinerFleet
metadata: { name: bo }
spec: { site: chg, feed: pdu-2, coolingZone: hall, model: S21, driver: braiins, endpoints: { cidr: 10.208.1.0/29, count: 4 } }
---
apiVersion: switchyard.io/v1alpha1
kind: GpuPool
metadata: { name: gp }
spec:
  site: chg
  feed: pdu-g
  coolingZone: hall
  nodeSelector: { switchyard.io/pool: gp }
  nodes: 2
  gpuModel: H100-SXM-80GB
  gpusPerNode: 8
  vramGiB: 80
  nodePowerKw: { idle: 1.6, serving: 10.2, hashing: 8.4 }
  hashing: { enabled: true, image: example/hasher:1, payoutUsdPerGpuHour: 0.2 }
`;

// Replies are read loosely here; their shapes are what the assertions check.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let sim: RunningSimulator;
beforeAll(async () => {
  const parsed = parseFarmYaml(FARM);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  sim = await startSimulator({
    farm: parsed.farm,
    workers: 2,
    httpPort: 0,
    speed: 1,
    sleepSeconds: 1,
    wakeSeconds: 5,
    quirkRate: 0,
    logLevel: 'warn',
  });
}, 60_000);
afterAll(() => sim?.close());

async function get(url: string): Promise<{ status: number; body: Json }> {
  const res = await fetch(sim.url + url);
  return { status: res.status, body: (await res.json()) as Json };
}

async function post(url: string, body: unknown): Promise<Json> {
  const res = await fetch(sim.url + url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return res.json();
}

describe('GET /sim/changes', () => {
  it('runs the two fleets in two worker processes', () => {
    expect(sim.workerPids).toHaveLength(2);
    expect(sim.sim.hosts.map((h) => [...h.fleets]).sort()).toEqual([['bo'], ['lx']]);
  });

  it('reports one sleep and one wake for protocol commands, and the repeated sleep as a no-op', async () => {
    const host = '127.208.0.1';
    const driver = createLuxosDriver({
      host,
      port: 4028,
      timeoutMs: 3000,
      credentials: FACTORY_CREDENTIALS.luxos,
    });
    const before = Date.now();
    try {
      await driver.sleep();
      // the same sleep again, as a retry that did not check the state first
      const sid = driver.sessionId;
      expect(sid).toBeTruthy();
      await rpcCommand({ host, port: 4028, timeoutMs: 3000 }, 'curtail', `${sid},sleep`);
      await driver.wake();
    } finally {
      await driver.close();
    }
    const after = Date.now();

    const r = await get(`/sim/changes?since=${before}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      total: 2,
      byKind: {
        sleep: 1,
        wake: 1,
        profile: 0,
        'power-target': 0,
        'power-percent': 0,
        reboot: 0,
        'gpu-mode': 0,
      },
      noops: { sleep: 1, wake: 0 },
      first: { host: '10.208.0.1', kind: 'sleep', via: 'protocol' },
      last: { host: '10.208.0.1', kind: 'wake', via: 'protocol' },
      truncated: false,
      dropped: 0,
    });
    expect(r.body.first.at).toBeGreaterThanOrEqual(before);
    expect(r.body.first.at).toBeLessThanOrEqual(after);
    expect(r.body.last.at).toBeGreaterThanOrEqual(r.body.first.at);
    expect(Object.keys(r.body.perMiner)).toEqual(['10.208.0.1']);
    expect(r.body.perMiner['10.208.0.1'].map((c: Json) => [c.kind, c.via])).toEqual([
      ['sleep', 'protocol'],
      ['wake', 'protocol'],
    ]);

    // the same miner by its loopback address; keyed by its farm address
    const one = await get(`/sim/changes?since=${before}&host=${host}`);
    expect(one.body.perMiner).toEqual(r.body.perMiner);
    expect(one.body.noops.sleep).toBe(1);
    // nothing after the wake
    expect((await get(`/sim/changes?since=${after + 1}`)).body).toMatchObject({
      total: 0,
      first: null,
      last: null,
      perMiner: {},
    });
  });

  it('marks control-API commands as control, GPU mode changes as gpu-mode, across hosts', async () => {
    const since = Date.now();
    await post('/sim/miners/control', { action: 'sleep', hosts: ['10.208.1.1', '10.208.0.2'] });
    await post('/sim/miners/control', { action: 'sleep', hosts: ['10.208.1.1'] }); // no-op
    await post('/sim/gpu/gp/gp-node-01/mode', { mode: 'hashing' });
    await post('/sim/gpu/gp/gp-node-01/mode', { mode: 'hashing' }); // no-op

    const r = await get(`/sim/changes?since=${since}`);
    expect(r.body).toMatchObject({
      total: 3,
      byKind: { sleep: 2, 'gpu-mode': 1 },
      noops: { sleep: 1, 'gpu-mode': 1 },
    });
    expect(r.body.perMiner).toEqual({
      '10.208.1.1': [{ at: expect.any(Number), kind: 'sleep', via: 'control' }],
      '10.208.0.2': [{ at: expect.any(Number), kind: 'sleep', via: 'control' }],
      'gp-node-01': [{ at: expect.any(Number), kind: 'gpu-mode', via: 'protocol' }],
    });
    const control = await get(`/sim/changes?since=${since}&via=control`);
    expect(control.body.byKind).toMatchObject({ sleep: 2, 'gpu-mode': 0 });
    const gpu = await get(`/sim/changes?since=${since}&host=gp-node-01`);
    expect(gpu.body).toMatchObject({ total: 1, noops: { 'gpu-mode': 1, sleep: 0 } });

    const limited = await get(`/sim/changes?since=${since}&limit=1`);
    expect(limited.body.total).toBe(3);
    expect(Object.values(limited.body.perMiner).flat()).toHaveLength(1);
    expect(limited.body.truncated).toBe(true);

    // the method gives the same answer
    const direct = await sim.sim.changes({ sinceMs: since });
    expect(direct.total).toBe(3);
    expect(direct.perMiner).toEqual(r.body.perMiner);
  });

  it('rejects an unknown device and invalid queries', async () => {
    expect((await get('/sim/changes?host=10.208.9.9')).status).toBe(404);
    expect((await get('/sim/changes?since=-1')).status).toBe(400);
    expect((await get('/sim/changes?via=ssh')).status).toBe(400);
    expect((await get('/sim/changes?limit=200001')).status).toBe(400);
  });
});
