// The LuxOS driver against the simulated LuxOS firmware, over real sockets: every command the
// driver supports, sessions (conflicts, expiry, logoff), ATM around profileset, idempotency
// and each wire fault.
import { afterEach, describe, expect, test } from '@jest/globals';
import { LuxosDriver, MinerError, rpcCommand } from '@switchyard/miners';
import type { LuxosDriverOptions } from '@switchyard/miners';
import { luxosHandler, startLuxosServers } from './luxos-server.ts';
import type { LuxosState } from './luxos-server.ts';
import { protocolFor } from './registry.ts';
import { rpcErrorReply, serveRpc } from './rpc-server.ts';
import type { RpcHandler } from './rpc-server.ts';
import { createTestMiner } from './test-miner.ts';
import type { TestMiner, TestMinerOptions } from './test-miner.ts';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** A manual clock shared by the server (session expiry) and, optionally, the driver. */
function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

interface Setup {
  miner: TestMiner;
  driver: LuxosDriver;
  state: LuxosState;
  port: number;
  serverClock: ReturnType<typeof clock>;
}

async function setup(
  minerOpts: TestMinerOptions = {},
  driverOpts: Partial<LuxosDriverOptions> = {},
  wrap?: (inner: RpcHandler) => RpcHandler,
): Promise<Setup> {
  const miner = createTestMiner({
    ...minerOpts,
    id: { driver: 'luxos', model: 'S19k Pro', ...minerOpts.id },
  });
  const serverClock = clock();
  const state: LuxosState = { session: null, atmEnabled: true };
  let port: number;
  if (wrap) {
    const server = await serveRpc('127.0.0.1', 0, wrap(luxosHandler(miner, state, serverClock.now)), {
      miner,
      now: serverClock.now,
    });
    closers.push(() => server.close());
    port = server.port;
  } else {
    const servers = await startLuxosServers(miner, { portMap: () => 0, now: serverClock.now, state });
    closers.push(() => servers.close());
    port = servers.ports[0] as number;
  }
  const driver = new LuxosDriver({ host: '127.0.0.1', port, timeoutMs: 1500, ...driverOpts });
  closers.push(() => driver.close());
  return { miner, driver, state, port, serverClock };
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

const count = (m: TestMiner, call: string) => m.calls.filter((c) => c === call).length;

describe('LuxOS driver ↔ simulated LuxOS', () => {
  test('registers itself for the luxos driver', () => {
    expect(protocolFor('luxos')).toBe(startLuxosServers);
  });

  test('identify: version and config', async () => {
    const { driver, miner } = await setup();
    expect(await driver.identify()).toEqual({
      driver: 'luxos',
      make: 'Bitmain',
      model: 'S19k Pro',
      firmware: `LuxOS ${miner.id.firmwareVersion}`,
      hostname: miner.id.hostname,
      mac: miner.id.mac,
    });
  });

  test('read: measured power from `power`, profile from devs', async () => {
    const { driver, miner } = await setup();
    const t = await driver.read();
    const obs = miner.observe();
    expect(t).toMatchObject({
      driver: 'luxos',
      model: 'S19k Pro',
      state: 'hashing',
      powerW: obs.powerW,
      powerSource: 'measured',
      profile: 'normal',
      errors: [],
    });
    expect(t.hashrateThs).toBeCloseTo(obs.hashrateThs, 1);
    expect(t.boards).toHaveLength(3);
    expect(t.fans).toEqual(obs.fans);
  });

  test('sleep via curtail with a session; a second sleep sends nothing', async () => {
    const { driver, miner, state } = await setup();
    expect(await driver.sleep()).toBe('applied');
    expect(miner.observe().state).toBe('sleeping');
    expect(state.session?.id).toBe(driver.sessionId);
    expect(await driver.sleep()).toBe('already');
    expect(count(miner, 'sleep')).toBe(1);
    expect((await driver.read()).state).toBe('sleeping');
  });

  test('wake via curtail wakeup; ramping, then hashing; a second wake sends nothing', async () => {
    const { driver, miner } = await setup({ state: 'sleeping' });
    expect(await driver.wake()).toBe('applied');
    expect(await driver.wake()).toBe('already');
    expect(count(miner, 'wake')).toBe(1);
    miner.advance(10);
    expect((await driver.read()).state).toBe('ramping');
    miner.advance(60);
    expect((await driver.read()).state).toBe('hashing');
  });

  test('capabilities list the firmware profiles', async () => {
    const { driver } = await setup();
    expect(await driver.capabilities()).toEqual({
      sleep: true,
      wake: true,
      powerTarget: null,
      profiles: ['eco', 'normal', 'turbo'],
      powerPercent: null,
    });
  });

  test('setProfile switches ATM off, sets the profile, switches ATM back on', async () => {
    const { driver, miner, state } = await setup();
    await driver.setProfile('eco');
    expect(miner.observe().profile).toBe('eco');
    expect(state.atmEnabled).toBe(true);
    await driver.setProfile('eco');
    expect(miner.calls.filter((c) => c.startsWith('setProfile'))).toEqual(['setProfile:eco']);
    expect((await driver.read()).profile).toBe('eco');
  });

  test('setProfile with ATM already off leaves it off', async () => {
    const { driver, miner, state } = await setup();
    state.atmEnabled = false;
    await driver.setProfile('turbo');
    expect(miner.observe().profile).toBe('turbo');
    expect(state.atmEnabled).toBe(false);
  });

  test('ATM is restored even when profileset fails', async () => {
    const { driver, miner, state } = await setup();
    miner.setProfile = () => 'board 2 refused the profile';
    const err = await driver.setProfile('eco').catch((e: unknown) => e);
    expect((err as MinerError).code).toBe('rejected');
    expect((err as MinerError).message).toMatch(/refused the profile/);
    expect(state.atmEnabled).toBe(true);
  });

  test('a failed ATM restore is retried by the next call', async () => {
    let failRestore = true;
    const { driver, miner, state } = await setup({}, {}, (inner) => (req) => {
      if (req.command === 'atmset' && req.parameter?.endsWith('enabled=true') && failRestore) {
        failRestore = false;
        return rpcErrorReply(400, 'ATM busy', 'LUXminer');
      }
      return inner(req);
    });
    const err = await driver.setProfile('eco').catch((e: unknown) => e);
    expect((err as MinerError).message).toMatch(/ATM could not be switched back on/);
    expect(miner.observe().profile).toBe('eco');
    expect(state.atmEnabled).toBe(false);
    await driver.sleep();
    expect(state.atmEnabled).toBe(true);
  });

  test('an unknown profile is an invalid argument; nothing is changed', async () => {
    const { driver, miner, state } = await setup();
    expect(await codeOf(driver.setProfile('ludicrous'))).toBe('invalid-argument');
    expect(miner.calls).toEqual([]);
    expect(state.atmEnabled).toBe(true);
  });

  test('session conflict: another client holds the session → the driver adopts it via `session`', async () => {
    const { driver, miner, state, port } = await setup();
    const other = await rpcCommand({ host: '127.0.0.1', port }, 'logon');
    const otherId = (other.body.SESSION as Array<{ SessionID: string }>)[0]?.SessionID;
    await driver.sleep();
    expect(driver.sessionId).toBe(otherId);
    expect(state.session?.id).toBe(otherId);
    expect(miner.observe().state).toBe('sleeping');
  });

  test('a session that is active but not shown by `session` → rejected (retriable), nothing sent', async () => {
    const { driver, miner } = await setup({}, {}, (inner) => (req) => {
      if (req.command === 'logon') return rpcErrorReply(402, 'Another session is active', 'LUXminer');
      if (req.command === 'session')
        return {
          STATUS: [{ STATUS: 'S', Code: 318, Msg: 'Session info' }],
          SESSION: [{ SessionID: '' }],
          id: 1,
        };
      return inner(req);
    });
    const err = await driver.sleep().catch((e: unknown) => e);
    expect((err as MinerError).code).toBe('rejected');
    expect((err as MinerError).permanent).toBe(false);
    expect(miner.calls).toEqual([]);
  });

  test('a second logon fails with 402 "Another session is active"', async () => {
    const { port } = await setup();
    await rpcCommand({ host: '127.0.0.1', port }, 'logon');
    const err = await rpcCommand({ host: '127.0.0.1', port }, 'logon').catch((e: unknown) => e);
    expect((err as { status: { code: number; msg: string } }).status).toMatchObject({
      code: 402,
      msg: 'Another session is active',
    });
  });

  test('session expiry on the miner: the driver logs on again and retries once', async () => {
    const driverClock = clock();
    const { driver, miner, serverClock, state } = await setup({}, { now: driverClock.now });
    await driver.sleep();
    const first = driver.sessionId;
    serverClock.advance(61_000); // the miner expired it; the driver still trusts it
    driverClock.advance(10_000);
    await driver.wake();
    expect(miner.observe().state).toBe('ramping');
    expect(driver.sessionId).not.toBe(first);
    expect(state.session?.id).toBe(driver.sessionId);
  });

  test('a session idle past the reuse window is not trusted: a fresh logon', async () => {
    const driverClock = clock();
    const { driver, serverClock } = await setup({}, { now: driverClock.now });
    await driver.sleep();
    const first = driver.sessionId;
    serverClock.advance(61_000);
    driverClock.advance(61_000);
    await driver.wake();
    expect(driver.sessionId).not.toBe(first);
  });

  test('a foreign session that expired does not block a logon', async () => {
    const { driver, miner, serverClock, port } = await setup();
    await rpcCommand({ host: '127.0.0.1', port }, 'logon');
    serverClock.advance(61_000);
    await driver.sleep();
    expect(miner.observe().state).toBe('sleeping');
  });

  test('close logs off; close is idempotent', async () => {
    const { driver, state } = await setup();
    await driver.sleep();
    expect(state.session).not.toBeNull();
    await driver.close();
    expect(state.session).toBeNull();
    expect(driver.sessionId).toBeNull();
    await driver.close();
  });

  test('quirks at rate 1 (newline framing on an open socket, trailing garbage) still read', async () => {
    // A client waiting for close on a kept-open socket would fail with 'timeout'.
    const { driver, miner } = await setup({ quirkRate: 1 });
    for (let i = 0; i < 5; i++) expect((await driver.read()).state).toBe('hashing');
    await driver.sleep();
    expect(miner.observe().state).toBe('sleeping');
  });

  test.each([
    ['timeout', 'timeout'],
    ['refuse', 'refused'],
    ['garbage', 'malformed'],
    ['truncate', 'malformed'],
    ['slow-drip', 'timeout'],
    ['oversized', 'reply-too-large'],
  ] as const)('wire fault %s → read and sleep fail with %s', async (fault, code) => {
    const { driver, miner } = await setup({ fault });
    expect(await codeOf(driver.read())).toBe(code);
    expect(await codeOf(driver.sleep())).toBe(code);
    expect(miner.calls).toEqual([]);
    miner.fault = null;
    expect((await driver.read()).state).toBe('hashing');
  });
});
