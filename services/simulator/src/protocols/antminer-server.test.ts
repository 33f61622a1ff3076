// The stock Antminer driver against the simulated stock firmware, over real sockets: every
// command the driver supports, the web UI's Digest auth, idempotency and each wire fault.
import { afterEach, describe, expect, test } from '@jest/globals';
import { AntminerDriver, MinerError, forgetJoinSupport, joinUnsupported } from '@switchyard/miners';
import type { AntminerDriverOptions } from '@switchyard/miners';
import { startAntminerServers } from './antminer-server.ts';
import { protocolFor } from './registry.ts';
import { createTestMiner } from './test-miner.ts';
import type { TestMiner, TestMinerOptions } from './test-miner.ts';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
  forgetJoinSupport();
});

async function setup(minerOpts: TestMinerOptions = {}, driverOpts: Partial<AntminerDriverOptions> = {}) {
  const miner = createTestMiner(minerOpts);
  const servers = await startAntminerServers(miner, { portMap: () => 0 });
  closers.push(() => servers.close());
  const [port, webPort] = servers.ports as [number, number];
  const driver = new AntminerDriver({
    host: miner.id.simHost,
    port,
    webPort,
    timeoutMs: 1500,
    credentials: { username: 'root', password: 'root' },
    ...driverOpts,
  });
  closers.push(() => driver.close());
  return { miner, driver, port, webPort };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(MinerError);
    return (err as MinerError).code;
  }
  throw new Error('expected a MinerError');
}

const sleeps = (m: TestMiner) => m.calls.filter((c) => c === 'sleep').length;
const wakes = (m: TestMiner) => m.calls.filter((c) => c === 'wake').length;

describe('stock Antminer driver ↔ simulated firmware', () => {
  test('registers itself for the antminer driver', () => {
    expect(protocolFor('antminer')).toBe(startAntminerServers);
  });

  test('identify: RPC version + web get_system_info', async () => {
    const { driver, miner } = await setup();
    expect(await driver.identify()).toEqual({
      driver: 'antminer',
      make: 'Bitmain',
      model: 'S19 Pro',
      firmware: miner.id.firmwareVersion,
      hostname: miner.id.hostname,
      mac: miner.id.mac,
    });
  });

  test('read: a hashing S19 Pro, power estimated', async () => {
    const { driver, miner } = await setup();
    const t = await driver.read();
    const obs = miner.observe();
    expect(t).toMatchObject({
      driver: 'antminer',
      model: 'S19 Pro',
      state: 'hashing',
      profile: 'normal',
      powerSource: 'estimated',
      uptimeS: obs.uptimeS,
      errors: [],
    });
    expect(t.hashrateThs).toBeCloseTo(obs.hashrateThs, 1);
    expect(t.powerW).toBeCloseTo(obs.powerW, -2);
    expect(t.boards).toHaveLength(3);
    expect(t.boards[0]?.chipTempC).toBe(Math.round(Math.max(...(obs.boards[0]?.chipTempsC ?? []))));
    expect(t.fans).toEqual(obs.fans);
    expect(t.pools.map((p) => p.url)).toEqual([
      'stratum+tcp://pool.example.com:3333',
      'stratum+tcp://backup.example.com:3333',
    ]);
  });

  test('S19 builds answer joined commands with {}: the driver falls back and remembers', async () => {
    const { driver, port, miner } = await setup();
    await driver.read();
    expect(joinUnsupported({ host: miner.id.simHost, port })).toBe(true);
    expect((await driver.read()).state).toBe('hashing');
  });

  test('S21 answers joined commands', async () => {
    const { driver, port, miner } = await setup({ id: { model: 'S21' } });
    const t = await driver.read();
    expect(joinUnsupported({ host: miner.id.simHost, port })).toBe(false);
    expect(t.model).toBe('S21');
    expect(t.hashrateThs).toBeCloseTo(200, 0);
  });

  test('sleep is idempotent: a retry writes nothing', async () => {
    const { driver, miner } = await setup();
    expect(await driver.sleep()).toBe('applied');
    expect(miner.observe().state).toBe('sleeping');
    expect(await driver.sleep()).toBe('already');
    expect(sleeps(miner)).toBe(1);
    const t = await driver.read();
    expect(t).toMatchObject({ state: 'sleeping', powerW: 30, powerSource: 'estimated', hashrateThs: 0 });
  });

  test('wake ramps, then hashes; a second wake writes nothing', async () => {
    const { driver, miner } = await setup({ state: 'sleeping' });
    expect(await driver.wake()).toBe('applied');
    expect(await driver.wake()).toBe('already');
    expect(wakes(miner)).toBe(1);
    miner.advance(20);
    expect((await driver.read()).state).toBe('ramping');
    miner.advance(60);
    expect((await driver.read()).state).toBe('hashing');
    await driver.wake();
    expect(wakes(miner)).toBe(1);
  });

  test('setProfile low-power / normal through miner-mode 3 / 0', async () => {
    const { driver, miner } = await setup();
    await driver.setProfile('low-power');
    expect(miner.observe().profile).toBe('eco');
    await driver.setProfile('low-power');
    expect(miner.changes.filter((c) => c.startsWith('setProfile'))).toEqual(['setProfile:eco']);
    miner.advance(120);
    const t = await driver.read();
    expect(t.profile).toBe('low-power');
    expect(t.powerW).toBeCloseTo(2438, -1);
    await driver.setProfile('normal');
    expect(miner.observe().profile).toBe('normal');
  });

  test('setProfile on a sleeping miner does not wake it; the next wake uses it', async () => {
    const { driver, miner } = await setup({ state: 'sleeping' });
    await driver.setProfile('low-power');
    expect(miner.observe().state).toBe('sleeping');
    expect(wakes(miner)).toBe(0);
    await driver.wake();
    expect(miner.observe()).toMatchObject({ state: 'ramping', profile: 'eco' });
  });

  test('sleep then wake returns to the profile it was in', async () => {
    const { driver, miner } = await setup({ profile: 'eco' });
    await driver.sleep();
    await driver.wake();
    expect(miner.observe().profile).toBe('eco');
  });

  test('an unknown profile is an invalid argument, with nothing sent', async () => {
    const { driver, miner } = await setup();
    expect(await codeOf(driver.setProfile('turbo'))).toBe('invalid-argument');
    expect(miner.calls).toEqual([]);
  });

  test('capabilities: sleep, wake, normal/low-power profiles', async () => {
    const { driver } = await setup();
    expect(await driver.capabilities()).toEqual({
      sleep: true,
      wake: true,
      powerTarget: null,
      profiles: ['normal', 'low-power'],
      powerPercent: null,
    });
  });

  test('a wrong web password fails controls with auth and changes nothing; reads still work', async () => {
    const { driver, miner } = await setup({}, { credentials: { username: 'root', password: 'hunter2' } });
    const err = await driver.sleep().catch((e: unknown) => e);
    expect((err as MinerError).code).toBe('auth');
    expect((err as MinerError).permanent).toBe(true);
    expect(miner.calls).toEqual([]);
    const t = await driver.read();
    expect(t.state).toBe('hashing');
    expect(t.profile).toBeNull();
    expect(t.errors[0]).toMatch(/web UI: .*credentials/);
  });

  test('a miner with its own password', async () => {
    const { driver, miner } = await setup(
      { credentials: { username: 'admin', password: 's3cret' } },
      { credentials: { username: 'admin', password: 's3cret' } },
    );
    await driver.sleep();
    expect(miner.observe().state).toBe('sleeping');
  });

  test('close is idempotent', async () => {
    const { driver } = await setup();
    await driver.close();
    await driver.close();
  });

  test('quirks at rate 1: `}{`, `[,{`, "Pool Stale%%" and trailing garbage still read', async () => {
    const { driver } = await setup({ quirkRate: 1 });
    for (let i = 0; i < 10; i++) {
      const t = await driver.read();
      expect(t.state).toBe('hashing');
      expect(t.boards).toHaveLength(3);
      expect(t.pools).toHaveLength(2);
    }
  });

  test.each([
    ['timeout', 'timeout'],
    ['refuse', 'refused'],
    ['garbage', 'malformed'],
    ['truncate', 'malformed'],
    ['slow-drip', 'timeout'],
    ['oversized', 'reply-too-large'],
  ] as const)('wire fault %s → read fails with %s', async (fault, code) => {
    const { driver, miner } = await setup({ fault });
    expect(await codeOf(driver.read())).toBe(code);
    miner.fault = null;
    expect((await driver.read()).state).toBe('hashing');
  });

  test.each([
    ['timeout', 'timeout'],
    ['refuse', 'refused'],
    ['garbage', 'protocol'],
    ['truncate', 'malformed'],
    ['slow-drip', 'timeout'],
    ['oversized', 'reply-too-large'],
  ] as const)('wire fault %s on the web UI → sleep fails with %s, nothing changes', async (fault, code) => {
    const { driver, miner } = await setup({ fault });
    expect(await codeOf(driver.sleep())).toBe(code);
    expect(miner.calls).toEqual([]);
  });

  test('a rebooting miner refuses connections', async () => {
    const { driver, miner } = await setup();
    miner.reboot();
    expect(await codeOf(driver.read())).toBe('refused');
    miner.advance(31);
    expect((await driver.read()).state).toBe('ramping');
  });
});
