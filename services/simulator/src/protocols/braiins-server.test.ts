// The Braiins OS driver against the simulated Braiins REST server, over real sockets: every
// command the driver has, token expiry and re-login, wrong credentials, and each wire fault.
import { afterEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import {
  BraiinsDriver,
  MinerError,
  type BraiinsDriverOptions,
  type MinerErrorCode,
} from '@switchyard/miners';
import { createTestMiner, type TestMiner } from './test-miner.ts';
import { startBraiinsServers, type BraiinsServerOptions } from './braiins-server.ts';
import type { SimFault } from '../model/sim-miner-api.ts';

const CREDS = { username: 'root', password: 'braiins-pw' };

interface Rig {
  miner: TestMiner;
  driver: BraiinsDriver;
  close(): Promise<void>;
}

const rigs: Rig[] = [];

async function rig(
  opts: {
    miner?: Parameters<typeof createTestMiner>[0];
    server?: Partial<BraiinsServerOptions>;
    driver?: Partial<BraiinsDriverOptions>;
  } = {},
): Promise<Rig> {
  const miner = createTestMiner({
    id: {
      model: 'S19 Pro',
      driver: 'braiins',
      firmwareVersion: '25.07',
      hostname: 'bos-1',
      mac: '02:00:00:00:00:07',
    },
    credentials: CREDS,
    ...opts.miner,
  });
  const servers = await startBraiinsServers(miner, { portMap: () => 0, ...opts.server });
  const driver = new BraiinsDriver({
    host: miner.id.simHost,
    port: servers.ports[0],
    credentials: CREDS,
    timeoutMs: 1500,
    ...opts.driver,
  });
  const r: Rig = {
    miner,
    driver,
    close: async () => {
      await driver.close();
      await servers.close();
    },
  };
  rigs.push(r);
  return r;
}

afterEach(async () => {
  while (rigs.length) await rigs.pop()?.close();
});

async function codeOf(p: Promise<unknown>): Promise<MinerErrorCode | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof MinerError) return err.code;
    throw err;
  }
}

describe('Braiins driver ↔ simulated Braiins OS REST', () => {
  it('identifies the miner', async () => {
    const { driver } = await rig();
    await expect(driver.identify()).resolves.toEqual({
      driver: 'braiins',
      make: 'Bitmain',
      model: 'S19 Pro',
      firmware: '25.07',
      hostname: 'bos-1',
      mac: '02:00:00:00:00:07',
    });
  });

  it('reads telemetry with the firmware power figure as measured', async () => {
    const { driver, miner } = await rig();
    const t = await driver.read();
    const o = miner.observe();
    expect(t).toMatchObject({
      driver: 'braiins',
      state: 'hashing',
      hashrateThs: o.hashrateThs,
      powerW: o.powerW,
      powerSource: 'measured',
      uptimeS: o.uptimeS,
      profile: null,
      errors: [],
    });
    expect(t.efficiencyJth).toBeCloseTo(o.powerW / o.hashrateThs, 1);
    expect(t.boards).toHaveLength(3);
    expect(t.boards[0]).toMatchObject({ index: 0, chips: 76, hashrateThs: o.boards[0]?.hashrateThs });
    expect(t.fans).toEqual(o.fans);
    expect(t.pools).toEqual([expect.objectContaining({ status: 'Active', priority: 0 })]);
  });

  it('sleeps once, however often it is asked', async () => {
    const { driver, miner } = await rig();
    expect(await driver.sleep()).toBe('applied');
    expect(await driver.sleep()).toBe('already');
    expect(miner.calls).toEqual(['sleep']);
    expect((await driver.read()).state).toBe('sleeping');
  });

  it('wakes once, reports the ramp, then hashing', async () => {
    const { driver, miner } = await rig({ miner: { state: 'sleeping' } });
    expect(await driver.wake()).toBe('applied');
    expect(await driver.wake()).toBe('already');
    expect(miner.calls).toEqual(['wake']);
    expect((await driver.read()).state).toBe('ramping');
    miner.advance(61);
    expect((await driver.read()).state).toBe('hashing');
  });

  it('runs concurrent controls one at a time', async () => {
    const { driver, miner } = await rig();
    await Promise.all([driver.sleep(), driver.sleep(), driver.wake()]);
    expect(miner.calls).toEqual(['sleep', 'wake']);
  });

  it('sets a power target within the firmware bounds, once', async () => {
    const { driver, miner } = await rig();
    await driver.setPowerTarget(3000);
    await driver.setPowerTarget(3000.2);
    expect(miner.changes).toEqual(['setPowerTarget:3000']);
    expect(miner.calls).toEqual(['setPowerTarget:3000']);
    expect((await driver.read()).powerW).toBe(3000);
  });

  it('refuses an out-of-bounds power target before sending it', async () => {
    const { driver, miner } = await rig();
    for (const w of [0, 100, 9000, Number.NaN, -5]) {
      expect(await codeOf(driver.setPowerTarget(w))).toBe('invalid-argument');
    }
    expect(miner.calls).toEqual([]);
  });

  it("maps the firmware's refusal to 'rejected'", async () => {
    const { driver, miner } = await rig();
    miner.setPowerTarget = () => 'tuner is busy';
    const err = await driver.setPowerTarget(3000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MinerError);
    expect((err as MinerError).code).toBe('rejected');
    expect((err as MinerError).message).toMatch(/tuner is busy/);
  });

  it('reports capabilities with the power-target bounds of the firmware', async () => {
    const { driver } = await rig();
    await expect(driver.capabilities()).resolves.toEqual({
      sleep: true,
      wake: true,
      powerTarget: { minW: 1625, maxW: 3575 },
      profiles: null,
      powerPercent: null,
    });
  });

  it('sets quick ramping and validates it', async () => {
    const { driver } = await rig();
    await expect(driver.setQuickRamping(5, 2)).resolves.toBeUndefined();
    expect(await codeOf(driver.setQuickRamping(-1, 2))).toBe('invalid-argument');
  });

  it('closes idempotently and works again afterwards', async () => {
    const { driver } = await rig();
    await driver.read();
    await driver.close();
    await driver.close();
    expect((await driver.read()).state).toBe('hashing');
  });

  it('logs in again once when the miner forgets the token (401)', async () => {
    let serverNow = 1_000_000;
    const { driver } = await rig({ server: { now: () => serverNow, tokenTimeoutS: 60 } });
    await driver.read();
    serverNow += 10 * 60_000; // the miner's clock moves on: every token it gave is stale
    await expect(driver.read()).resolves.toMatchObject({ state: 'hashing' });
  });

  it("logs in again before the sliding validity runs out, by the driver's own clock", async () => {
    let now = 5_000_000;
    const { driver } = await rig({
      server: { now: () => now, tokenTimeoutS: 60 },
      driver: { now: () => now },
    });
    await driver.identify();
    now += 59_000;
    await expect(driver.identify()).resolves.toMatchObject({ driver: 'braiins' });
    now += 120_000;
    await expect(driver.identify()).resolves.toMatchObject({ driver: 'braiins' });
  });

  it("gives 'auth' when even a fresh token is refused", async () => {
    let tick = 0;
    const { driver } = await rig({ server: { now: () => (tick += 10_000), tokenTimeoutS: 1 } });
    expect(await codeOf(driver.read())).toBe('auth');
  });

  it("gives 'auth' for a wrong password or no credentials", async () => {
    const wrong = await rig({ driver: { credentials: { username: 'root', password: 'nope' } } });
    expect(await codeOf(wrong.driver.read())).toBe('auth');
    expect(await codeOf(wrong.driver.sleep())).toBe('auth');
    expect(wrong.miner.calls).toEqual([]);
    const none = await rig({ driver: { credentials: undefined } });
    expect(await codeOf(none.driver.identify())).toBe('auth');
  });

  it('accepts the token bare in the Authorization header as well', async () => {
    const { driver } = await rig({ driver: { authScheme: 'raw' } });
    await expect(driver.read()).resolves.toMatchObject({ state: 'hashing' });
  });

  describe('wire faults', () => {
    it.each<[SimFault, MinerErrorCode]>([
      ['refuse', 'refused'],
      ['timeout', 'timeout'],
      ['garbage', 'malformed'],
      ['truncate', 'malformed'],
      ['slow-drip', 'timeout'],
      ['oversized', 'reply-too-large'],
    ])('%s → %s', async (fault, code) => {
      const { driver, miner } = await rig({ driver: { timeoutMs: 700 } });
      miner.fault = fault;
      expect(await codeOf(driver.read())).toBe(code);
      // Logged in before the fault: the authenticated calls fail the same way.
      miner.fault = null;
      await driver.read();
      miner.fault = fault;
      expect(await codeOf(driver.sleep())).toBe(code);
      expect(miner.calls).toEqual([]);
    });

    it('a rebooting (offline) miner refuses connections, then answers again', async () => {
      const { driver, miner } = await rig({ driver: { timeoutMs: 700 } });
      await driver.read();
      miner.reboot();
      expect(await codeOf(driver.read())).toBe('refused');
      miner.advance(31);
      expect((await driver.read()).state).toBe('ramping');
    });

    it('a smaller reply limit cuts an ordinary reply', async () => {
      const { driver } = await rig({ driver: { maxReplyBytes: 200 } });
      expect(await codeOf(driver.read())).toBe('reply-too-large');
    });
  });
});

describe('Braiins driver against a hostile or broken REST server', () => {
  /** A server answering each path with a canned status and body. */
  async function cannedServer(routes: Record<string, [number, string]>): Promise<number> {
    const server = http.createServer((req, res) => {
      const [status, body] = routes[(req.url ?? '').replace(/\/+$/, '')] ?? [404, '{"message":"not found"}'];
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    rigs.push({
      miner: createTestMiner(),
      driver: new BraiinsDriver({ host: '127.0.0.1' }),
      close: () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    });
    return (server.address() as { port: number }).port;
  }

  const login: Record<string, [number, string]> = {
    '/api/v1/auth/login': [200, '{"token":"t0k","timeout_s":3600}'],
  };
  const driverOn = (port: number) => {
    const d = new BraiinsDriver({ host: '127.0.0.1', port, credentials: CREDS, timeoutMs: 1000 });
    rigs.push({ miner: createTestMiner(), driver: d, close: () => d.close() });
    return d;
  };

  it("a login reply without a token is 'protocol'; a login that is not JSON is 'malformed'", async () => {
    expect(
      await codeOf(driverOn(await cannedServer({ '/api/v1/auth/login': [200, '{"ok":true}'] })).read()),
    ).toBe('protocol');
    expect(await codeOf(driverOn(await cannedServer({ '/api/v1/auth/login': [200, '<html>'] })).read())).toBe(
      'malformed',
    );
  });

  it("a reply that is JSON but not an object is 'protocol'; nested junk reads as missing values", async () => {
    const port = await cannedServer({
      ...login,
      '/api/v1/miner/details': [200, '"hello"'],
      '/api/v1/miner/stats': [200, '[]'],
      '/api/v1/performance/tuner-state': [200, '{}'],
    });
    expect(await codeOf(driverOn(port).read())).toBe('protocol');

    const port2 = await cannedServer({
      ...login,
      '/api/v1/miner/details': [
        200,
        JSON.stringify({ hostname: 7, detailed_status: { status: { running: 'x', stopped: {} } } }),
      ],
      '/api/v1/miner/stats': [
        200,
        JSON.stringify({ miner_stats: { real_hashrate: { last_5s: { gigahash_per_second: '1e999' } } } }),
      ],
      '/api/v1/performance/tuner-state': [200, JSON.stringify({ mode_state: [1, 2, 3] })],
      '/api/v1/miner/hw/hashboards': [200, JSON.stringify({ hashboards: new Array(1000).fill({ id: 'x' }) })],
      '/api/v1/cooling/state': [500, 'boom'],
    });
    const t = await driverOn(port2).read();
    expect(t).toMatchObject({ state: 'fault', hashrateThs: null, fans: [], pools: [] });
    expect(t.boards.length).toBeLessThanOrEqual(16);
  });

  it("a deeply nested reply is 'malformed', not a crash", async () => {
    const port = await cannedServer({ ...login, '/api/v1/miner/details': [200, '['.repeat(200_000)] });
    expect(await codeOf(driverOn(port).identify())).toBe('malformed');
  });

  it("an endpoint the firmware lacks is 'unsupported'; a server error is 'rejected'", async () => {
    const port = await cannedServer({
      ...login,
      '/api/v1/miner/details': [503, '{"message":"bosminer down"}'],
    });
    const d = driverOn(port);
    expect(await codeOf(d.identify())).toBe('rejected');
    expect(await codeOf(d.setQuickRamping(1, 1))).toBe('unsupported');
  });
});
