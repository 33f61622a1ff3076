// The fault-test support itself: a real `switchyard sim` process that is reachable and dies
// with its worker process on SIGKILL; a private PostgreSQL that keeps its rows across an
// immediate (crash) restart; a persistent private Redis that keeps its keys across SIGKILL.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { openDatabase } from '@switchyard/db';
import { isAlive, spawnSwitchyard, stopAll, waitUntil } from './processes.ts';
import { startPrivatePostgres } from './postgres.ts';
import { startPrivateRedis } from './redis.ts';
import { smallFarmYaml } from './small-farm.ts';

const dir = mkdtempSync(join(tmpdir(), 'sy-support-'));
const farmFile = join(dir, 'farm.yaml');
// two LuxOS miners at 10.207.0.1-2, served on 127.207.0.1-2:4028
writeFileSync(farmFile, smallFarmYaml({ block: '10.207', fleets: 1, minersPerFleet: 2 }));

afterAll(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const canConnect = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host, port });
    s.setTimeout(2000, () => {
      s.destroy();
      resolve(false);
    });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

describe('spawnSwitchyard', () => {
  it('runs `switchyard sim`, which answers until SIGKILL ends it and its worker process', async () => {
    const sim = spawnSwitchyard(['sim', '--farm', farmFile, '--http-port', '0', '--workers', '1'], {
      name: 'sim',
      env: { LOG_LEVEL: 'info' },
    });
    // a pino line, matched on its msg
    const listening = await sim.waitForLine(/^Server listening at http/, 20_000);
    expect(listening.json?.name).toBe('switchyard-sim');
    const api = await sim.waitForLine(/control API (http:\/\/127\.0\.0\.1:\d+)/, 20_000);
    const url = /control API (http:\/\/127\.0\.0\.1:\d+)/.exec(api.text)?.[1] as string;
    const started = await sim.waitForLine(/1 worker processes \(pids (\d+)\)/);
    const workerPid = Number(/pids (\d+)/.exec(started.text)?.[1]);
    expect(isAlive(workerPid)).toBe(true);

    const health = (await (await fetch(`${url}/healthz`)).json()) as { miners: number };
    expect(health.miners).toBe(2);
    expect(await canConnect('127.207.0.1', 4028)).toBe(true);

    const exit = await sim.kill();
    expect(exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(sim.exitInfo).toEqual(exit);
    await waitUntil(() => !isAlive(workerPid), { timeoutMs: 5000, what: 'simulator worker gone' });
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    expect(await canConnect('127.207.0.1', 4028)).toBe(false);
  }, 30_000);

  it('stops gracefully on stop(), and an early exit fails waitForLine with the last lines', async () => {
    const sim = spawnSwitchyard(
      ['sim', '--farm', farmFile, '--http-port', '0', '--workers', '0', '--no-protocols'],
      { name: 'sim-graceful', env: { LOG_LEVEL: 'warn' } },
    );
    const broken = spawnSwitchyard(['sim', '--farm', join(dir, 'missing.yaml')], { name: 'sim-broken' });
    await sim.waitForLine(/started in \d+ ms/, 20_000);
    const mark = sim.lineCount;
    expect(await sim.stop()).toEqual({ code: 0, signal: null });
    expect((await sim.waitForLine(/stopped \(SIGTERM\)/, 1000, { after: mark })).stream).toBe('stdout');

    const err = await broken.waitForLine(/control API/, 20_000).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      /sim-broken \(pid \d+\) exited with code 1 before printing a line/,
    );
    expect((err as Error).message).toMatch(/err\| switchyard sim: cannot read farm file .*missing\.yaml/);
    expect(await broken.exited).toEqual({ code: 1, signal: null });
  }, 30_000);
});

describe('startPrivatePostgres', () => {
  it('keeps committed rows across an immediate restart, on the same port', async () => {
    const pg = await startPrivatePostgres();
    try {
      expect(pg.url).toBe(`postgres://switchyard@127.0.0.1:${pg.port}/switchyard`);
      await pg.psql("create table kept (id int primary key, v text); insert into kept values (1, 'before')");

      await pg.restart({ downMs: 200 });
      expect(pg.running).toBe(true);
      expect(await pg.psql('select v from kept where id = 1')).toBe('before');

      await pg.kill();
      expect(pg.running).toBe(false);
      await pg.start();
      // what the services use to connect
      const db = await openDatabase({ url: pg.url, poolMax: 1 });
      try {
        await db.ping();
      } finally {
        await db.close();
      }
      expect(await pg.psql('select count(*) from kept')).toBe('1');
    } finally {
      await pg.stop();
    }
  }, 60_000);
});

describe('startPrivateRedis', () => {
  it('keeps keys across a SIGKILL restart when persistent, and loses them when not', async () => {
    const persistent = await startPrivateRedis([], { persistent: true });
    const ephemeral = await startPrivateRedis();
    const clients = [persistent, ephemeral].map((r) => {
      const c = new Redis(r.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
      c.on('error', () => undefined);
      return c;
    });
    const [p, e] = clients as [Redis, Redis];
    try {
      await p.set('kept', 'yes');
      await e.set('kept', 'yes');
      const pid = persistent.process.pid as number;
      await persistent.restart({ downMs: 200 });
      await ephemeral.restart();
      expect(persistent.process.pid).not.toBe(pid);
      expect(isAlive(pid)).toBe(false);
      // the same clients reconnect to the same port
      expect(await p.get('kept')).toBe('yes');
      expect(await e.get('kept')).toBeNull();
    } finally {
      for (const c of clients) c.disconnect();
      await persistent.stop();
      await ephemeral.stop();
    }
  }, 30_000);
});
