// The Whatsminer driver against the simulated Whatsminer firmware (API v2 on 4028 through
// serveRpc, API v3 on 4433), over real sockets: every command of both API generations, the
// API choice, token expiry and salt changes, wrong passwords, btminer's broken JSON, and each
// wire fault on each port.
import { afterEach, describe, expect, it } from '@jest/globals';
import { connect, createServer, type Socket } from 'node:net';
import {
  MinerError,
  WhatsminerDriver,
  rpcCommand,
  rpcRequest,
  v3Exchange,
  v3Request,
  type MinerErrorCode,
  type WhatsminerDriverOptions,
} from '@switchyard/miners';
import { createTestMiner, type TestMiner, type TestMinerOptions } from './test-miner.ts';
import {
  startWhatsminerServers,
  type WhatsminerServerOptions,
  type WhatsminerServers,
} from './whatsminer-server.ts';
import type { SimFault } from '../model/sim-miner-api.ts';
import { serveRpc, type RpcHandler } from './rpc-server.ts';

const CREDS = { username: 'admin', password: 'wm-secret1' };

interface Rig {
  miner: TestMiner;
  servers: WhatsminerServers;
  driver: WhatsminerDriver;
  v2Port: number;
  v3Port: number;
}

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** A port with nothing listening on it. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function rig(
  api: 'v2' | 'v3',
  opts: {
    miner?: TestMinerOptions;
    server?: Partial<WhatsminerServerOptions>;
    driver?: Partial<WhatsminerDriverOptions>;
  } = {},
): Promise<Rig> {
  const miner = createTestMiner({
    id: {
      model: 'M50S',
      driver: 'whatsminer',
      firmwareVersion: '20240520.16.REL',
      hostname: 'WhatsMiner',
      mac: 'C4:11:04:01:2A:3B',
    },
    credentials: CREDS,
    ...opts.miner,
  });
  const servers = await startWhatsminerServers(miner, { portMap: () => 0, ...opts.server });
  const [v2Port, v3Port] = servers.ports as [number, number];
  // The v2 rig points the driver's v3 port at nothing, so 'auto' has to fall back.
  const driver = new WhatsminerDriver({
    host: miner.id.simHost,
    port: v2Port,
    v3Port: api === 'v3' ? v3Port : await deadPort(),
    credentials: CREDS,
    timeoutMs: 1500,
    ...opts.driver,
  });
  cleanups.push(async () => {
    await driver.close();
    await servers.close();
  });
  return { miner, servers, driver, v2Port, v3Port };
}

async function codeOf(p: Promise<unknown>): Promise<MinerErrorCode | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof MinerError) return err.code;
    throw err;
  }
}

/** power_off with respbefore answers first and stops just after: let that happen. */
const settle = () => new Promise((r) => setTimeout(r, 20));

describe.each(['v2', 'v3'] as const)('Whatsminer driver ↔ simulated firmware, API %s', (api) => {
  it('chooses the API and says so in identify()', async () => {
    const { driver } = await rig(api);
    expect(driver.api).toBeNull();
    await expect(driver.identify()).resolves.toEqual({
      driver: 'whatsminer',
      make: 'MicroBT',
      model: 'M50S',
      firmware: '20240520.16.REL',
      hostname: 'WhatsMiner',
      mac: 'C4:11:04:01:2A:3B',
      api,
      apiVersion: api === 'v3' ? '3.0.1' : '2.0.5',
    });
    expect(driver.api).toBe(api);
  });

  it('reads telemetry with the power the miner reports as measured', async () => {
    const { driver, miner } = await rig(api);
    const t = await driver.read();
    const o = miner.observe();
    expect(t).toMatchObject({
      driver: 'whatsminer',
      make: 'MicroBT',
      state: 'hashing',
      powerW: o.powerW,
      powerSource: 'measured',
      uptimeS: o.uptimeS,
      errors: [],
    });
    expect(t.hashrateThs).toBeCloseTo(o.hashrateThs, 2);
    expect(t.efficiencyJth).toBeCloseTo(o.powerW / o.hashrateThs, 1);
    expect(t.boards.map((b) => b.index)).toEqual([0, 1, 2]);
    expect(t.boards[0]?.chips).toBe(76);
    expect(t.fans).toEqual(o.fans.slice(0, 2));
    expect(t.pools).toEqual([expect.objectContaining({ url: 'stratum+tcp://btc.f2pool.com:3333' })]);
  });

  it('sleeps once, however often it is asked', async () => {
    const { driver, miner } = await rig(api);
    expect(await driver.sleep()).toBe('applied');
    await settle();
    expect(await driver.sleep()).toBe('already');
    await settle();
    expect(miner.calls).toEqual(['sleep']);
    expect((await driver.read()).state).toBe('sleeping');
  });

  it('wakes once, reports the ramp until the hashrate is stable, then hashing', async () => {
    const { driver, miner } = await rig(api, { miner: { state: 'sleeping' } });
    expect(await driver.wake()).toBe('applied');
    expect(await driver.wake()).toBe('already');
    expect(miner.calls).toEqual(['wake']);
    miner.advance(10);
    expect((await driver.read()).state).toBe('ramping');
    miner.advance(60);
    expect((await driver.read()).state).toBe('hashing');
  });

  it('sets a power percentage; bad values never leave the driver', async () => {
    const { driver, miner } = await rig(api);
    const full = (await driver.read()).powerW as number;
    await driver.setPowerPercent(80);
    await driver.setPowerPercent(80);
    expect(miner.changes).toEqual(['setPowerPercent:80']);
    expect((await driver.read()).powerW).toBe(Math.round(miner.id.sleepW + (full * 0.8 - miner.id.sleepW)));
    for (const p of [101, -1, 50.5, Number.NaN])
      expect(await codeOf(driver.setPowerPercent(p))).toBe('invalid-argument');
    expect(miner.calls).toEqual(['setPowerPercent:80', 'setPowerPercent:80']);
  });

  it("reports 'unsupported' for the controls Whatsminer lacks, and its capabilities", async () => {
    const { driver, miner } = await rig(api);
    expect(await codeOf(driver.setPowerTarget(3000))).toBe('unsupported');
    expect(await codeOf(driver.setProfile('eco'))).toBe('unsupported');
    expect(miner.calls).toEqual([]);
    await expect(driver.capabilities()).resolves.toEqual({
      sleep: true,
      wake: true,
      powerTarget: null,
      profiles: null,
      powerPercent: { min: 0, max: 100 },
    });
  });

  it('closes idempotently and works again afterwards', async () => {
    const { driver } = await rig(api);
    await driver.sleep();
    await driver.close();
    await driver.close();
    expect(driver.api).toBeNull();
    await driver.wake();
    expect(driver.api).toBe(api);
  });

  it("gives 'auth' for a wrong password, and changes nothing", async () => {
    const { driver, miner } = await rig(api, {
      driver: { credentials: { username: 'admin', password: 'wrong' } },
    });
    expect(await codeOf(driver.sleep())).toBe('auth');
    expect(await codeOf(driver.setPowerPercent(50))).toBe('auth');
    expect(miner.calls).toEqual([]);
    // Reads need no password.
    expect((await driver.read()).state).toBe('hashing');
  });

  it("gives 'auth' for writes without credentials", async () => {
    const { driver } = await rig(api, { driver: { credentials: undefined } });
    expect(await codeOf(driver.sleep())).toBe('auth');
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
      const { driver, miner } = await rig(api, { driver: { timeoutMs: 700 } });
      await driver.identify(); // the API is chosen before the fault
      miner.fault = fault;
      expect(await codeOf(driver.read())).toBe(code);
      expect(await codeOf(driver.sleep())).toBe(code);
      expect(miner.calls).toEqual([]);
    });
  });
});

describe('Whatsminer API v2 specifics', () => {
  it('gets a new token once when the old one has expired', async () => {
    const { driver, miner, servers } = await rig('v2');
    await driver.setPowerPercent(90);
    expect(servers.stats.tokensIssued).toBe(1);
    await driver.setPowerPercent(85);
    expect(servers.stats.tokensIssued).toBe(1); // reused
    servers.expireTokens();
    await driver.setPowerPercent(80);
    expect(servers.stats.tokensIssued).toBe(2);
    expect(miner.changes).toEqual(['setPowerPercent:90', 'setPowerPercent:85', 'setPowerPercent:80']);
  });

  it('reuses a token for 25 minutes by its own clock, then asks for a new one', async () => {
    let now = 1_700_000_000_000;
    const { driver, servers } = await rig('v2', { driver: { now: () => now }, server: { now: () => now } });
    await driver.setPowerPercent(90);
    now += 24 * 60_000;
    await driver.setPowerPercent(91);
    expect(servers.stats.tokensIssued).toBe(1);
    now += 2 * 60_000;
    await driver.setPowerPercent(92);
    expect(servers.stats.tokensIssued).toBe(2);
  });

  it('reads through btminer broken JSON (trailing commas, raw newlines), encrypted replies too', async () => {
    const { driver, miner } = await rig('v2', { miner: { quirkRate: 1 } });
    for (let i = 0; i < 5; i++) expect((await driver.read()).state).toBe('hashing');
    await driver.setPowerPercent(70);
    await driver.sleep();
    await settle();
    expect(miner.changes).toEqual(['setPowerPercent:70', 'sleep']);
  });

  it('answers status with STATUS as a string, and refuses writes sent in clear', async () => {
    const { miner, v2Port } = await rig('v2');
    const opts = { host: miner.id.simHost, port: v2Port, timeoutMs: 1000 };
    const status = await rpcCommand(opts, 'status');
    expect(status.body).toMatchObject({ STATUS: 'S', Code: 131, Msg: { btmineroff: 'false' } });
    expect(await codeOf(rpcCommand(opts, 'power_off'))).toBe('auth');
    expect(await codeOf(rpcCommand(opts, 'no_such_command'))).toBe('rejected');
    expect(miner.calls).toEqual([]);
  });

  it('answers encrypted garbage with a token error, never with a crash', async () => {
    const { miner, v2Port, driver } = await rig('v2');
    const opts = { host: miner.id.simHost, port: v2Port, timeoutMs: 1000 };
    await expect(rpcRequest(opts, { enc: 1, data: 'AAAAAAAAAAAAAAAAAAAAAA==' })).resolves.toMatchObject({
      Code: 135,
    });
    await expect(rpcRequest(opts, { enc: 1, data: '!!' })).resolves.toMatchObject({ Code: 137 });
    await expect(rpcRequest(opts, { enc: 1 })).resolves.toMatchObject({ Code: 137 });
    expect((await driver.read()).state).toBe('hashing');
  });

  it("refuses writes while the password is still the factory one, when told to ('auth')", async () => {
    const creds = { username: 'admin', password: 'admin' };
    const { driver, miner } = await rig('v2', {
      miner: { credentials: creds },
      server: { requireChangedPassword: true },
      driver: { credentials: creds },
    });
    expect(await codeOf(driver.sleep())).toBe('auth');
    expect(miner.calls).toEqual([]);
  });

  it('uses v2 when told to, even with v3 answering', async () => {
    const { miner, servers } = await rig('v3');
    const driver = new WhatsminerDriver({
      host: miner.id.simHost,
      port: servers.ports[0],
      v3Port: servers.ports[1],
      credentials: CREDS,
      api: 'v2',
    });
    await expect(driver.identify()).resolves.toMatchObject({ api: 'v2' });
  });
});

describe('Whatsminer API v2 against a broken or hostile btminer', () => {
  /** A v2 server whose answers the test writes; v3 is absent. */
  async function fake(handler: RpcHandler): Promise<WhatsminerDriver> {
    const miner = createTestMiner({ id: { model: 'M50S', driver: 'whatsminer' } });
    const server = await serveRpc('127.0.0.1', 0, handler, { miner });
    const driver = new WhatsminerDriver({
      host: '127.0.0.1',
      port: server.port,
      v3Port: await deadPort(),
      credentials: CREDS,
      timeoutMs: 1000,
    });
    cleanups.push(async () => {
      await driver.close();
      await server.close();
    });
    return driver;
  }
  const on = { STATUS: 'S', When: 1, Code: 131, Msg: { btmineroff: 'false' }, Description: '' };
  const token = {
    STATUS: 'S',
    When: 1,
    Code: 134,
    Msg: { time: '1634', salt: 'BQ5hoXV9', newsalt: 'jbzkfQls' },
  };

  it("'over max connect' from get_token is 'auth'", async () => {
    const driver = await fake(({ command }) =>
      command === 'status'
        ? on
        : { STATUS: 'E', When: 1, Code: 136, Msg: 'over max connect', Description: '' },
    );
    expect(await codeOf(driver.sleep())).toBe('auth');
  });

  it("an encrypted reply that does not decrypt is 'malformed'; one that is not an object is 'protocol'", async () => {
    const bad = await fake(({ command }) =>
      command === 'status' ? on : command === 'get_token' ? token : { enc: 'AAAA' },
    );
    expect(await codeOf(bad.sleep())).toBe('malformed');
    const odd = await fake(({ command }) =>
      command === 'status' ? on : command === 'get_token' ? token : '[1,2]',
    );
    expect(await codeOf(odd.sleep())).toBe('protocol');
  });

  it("a status that does not say whether mining is off is 'protocol' (no blind write)", async () => {
    let writes = 0;
    const driver = await fake(({ command }) => {
      if (command === '') writes++;
      return command === 'status' ? { STATUS: 'S', Code: 131, Msg: 'fine' } : token;
    });
    expect(await codeOf(driver.wake())).toBe('protocol');
    expect(writes).toBe(0);
  });

  it('reads with a summary and no devs or pools, and reports what was missing', async () => {
    const driver = await fake(({ command }) => {
      if (command === 'status') return on;
      if (command === 'summary')
        return {
          STATUS: [{ STATUS: 'S', Msg: 'Summary' }],
          SUMMARY: [{ 'MHS 5s': 1e8, Power: 3300, 'Hash Stable': true }],
        };
      return { STATUS: [{ STATUS: 'E', Code: 14, Msg: 'invalid cmd' }] };
    });
    const t = await driver.read();
    expect(t).toMatchObject({
      state: 'hashing',
      hashrateThs: 100,
      powerW: 3300,
      powerSource: 'measured',
      boards: [],
      pools: [],
    });
    expect(t.errors).toEqual(['devs: rejected', 'pools: rejected']);
  });

  it('takes MicroBT\'s {"cmd":…} form for reads as well', async () => {
    const { miner, v2Port } = await rig('v2');
    const reply = await rpcRequest(
      { host: miner.id.simHost, port: v2Port, timeoutMs: 1000 },
      { cmd: 'get_version' },
    );
    expect(reply).toMatchObject({ STATUS: 'S', Code: 131, Msg: { api_ver: '2.0.5' } });
  });
});

describe('Whatsminer API v3 specifics', () => {
  it('fetches the salt again once when it has changed', async () => {
    const { driver, miner, servers } = await rig('v3');
    await driver.setPowerPercent(90);
    servers.rotateSalt();
    await driver.setPowerPercent(80);
    expect(miner.changes).toEqual(['setPowerPercent:90', 'setPowerPercent:80']);
    expect(servers.stats.writesRefused).toBe(1);
  });

  it("refuses a stale timestamp ('auth' when the clocks disagree by more than the window)", async () => {
    const { driver, miner } = await rig('v3', { driver: { now: () => Date.now() - 3_600_000 } });
    expect(await codeOf(driver.sleep())).toBe('auth');
    expect(miner.calls).toEqual([]);
  });

  it('answers length-prefixed frames, several on one connection, and bounds their size', async () => {
    const { miner, v3Port } = await rig('v3');
    const target = { host: miner.id.simHost, port: v3Port, timeoutMs: 1000 };
    await expect(
      v3Request(target, { cmd: 'get.miner.status', param: 'summary+edevs' }),
    ).resolves.toMatchObject({
      code: 0,
      desc: 'get.miner.status',
      msg: { summary: expect.any(Object), edevs: expect.any(Array) },
    });
    await expect(v3Request(target, { cmd: 'get.no.such' })).resolves.toMatchObject({ code: -2 });
    await expect(
      v3Request(target, { cmd: 'set.miner.service', param: 'stop', ts: 1, account: 'super', token: 'x' }),
    ).resolves.toMatchObject({
      code: -4,
    });
    expect(miner.calls).toEqual([]);

    // A frame declaring more than 64 KiB is refused without reading it.
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const s = connect(v3Port, miner.id.simHost, () => {
        const head = Buffer.alloc(4);
        head.writeUInt32LE(10 * 1024 * 1024, 0);
        s.write(head);
      });
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('close', () => resolve(Buffer.concat(chunks)));
      s.on('error', reject);
    });
    expect(JSON.parse(reply.subarray(4).toString())).toMatchObject({ code: -3 });
  });

  it('rejects a reply frame that is not JSON as malformed, not as a size problem', async () => {
    const open = new Set<Socket>();
    const server = createServer((s) => {
      open.add(s);
      s.on('error', () => {});
      s.end(Buffer.from([0xff, 0xff, 0xff, 0x7f, 0x41, 0x42]));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const s of open) s.destroy();
          server.close(() => r());
        }),
    );
    const port = (server.address() as { port: number }).port;
    expect(
      await codeOf(v3Exchange({ host: '127.0.0.1', port, timeoutMs: 500 }, { cmd: 'get.device.info' })),
    ).toBe('malformed');
  });
});
