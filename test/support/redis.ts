// Test helpers for Redis: the shared server started by scripts/test, and private throwaway
// servers for tests that must change server settings, kill the server or restart it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerExitCleanup } from './processes.ts';

export function requireRedisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: run tests through ./scripts/test');
  return url;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface PrivateRedisOptions {
  /**
   * Keep data across kill() and restart(): an append-only file fsynced on every write
   * (--appendonly yes --appendfsync always). Default false: nothing is ever written to disk,
   * so a restart comes back empty.
   */
  persistent?: boolean;
}

export interface PrivateRedis {
  url: string;
  port: number;
  /** The server's --dir (the append-only files of a persistent server live here). */
  dir: string;
  /** The redis-server process (the latest one after a restart; exited after kill/stop). */
  readonly process: ChildProcess;
  /** True while a redis-server is running (between start and kill/stop). */
  readonly running: boolean;
  /** SIGKILL, as a crash would: no shutdown save; waits for the exit. Keeps port and dir. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and dir after kill(); waits for PING. */
  start(): Promise<void>;
  /** kill(), downMs (default 0) of downtime, start(). */
  restart(opts?: { downMs?: number }): Promise<void>;
  /** Kills the server and removes its dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * One PING over a raw socket: true on +PONG, false on anything else (refused, -LOADING while a
 * restarted server reads its append-only file, no answer within a second). A raw socket
 * because a failed ioredis connect leaves a timer behind that keeps jest from exiting.
 */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    let reply = '';
    const s = connect({ host: '127.0.0.1', port }, () => s.write('*1\r\n$4\r\nPING\r\n'));
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.on('data', (d: Buffer) => {
      reply += d.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    s.once('error', () => done(false));
    s.once('close', () => done(false));
  });
}

function tailOf(file: string, n = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Starts a private redis-server (the binary scripts/test made sure exists) on a free port of
 * 127.0.0.1, with extra args appended to the command line (later settings win).
 */
export async function startPrivateRedis(
  extraArgs: string[] = [],
  opts: PrivateRedisOptions = {},
): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sy-redis-'));
  const logFile = join(dir, 'redis.log');
  const url = `redis://127.0.0.1:${port}`;
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    ...(opts.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    '--dir',
    dir,
    '--logfile',
    logFile,
    ...extraArgs,
  ];

  let child: ChildProcess | undefined;
  let last: ChildProcess | undefined;
  let exitedChild: Promise<void> = Promise.resolve();
  let unregister = () => {};

  const launch = async () => {
    // After a SIGKILL the port is free at once (redis binds with SO_REUSEADDR), but retry a
    // bind failure for a moment all the same.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const c = spawn('redis-server', args, { stdio: 'ignore' });
      let gone = false;
      const exited = new Promise<void>((resolve) => {
        c.once('exit', () => {
          gone = true;
          resolve();
        });
        c.once('error', () => {
          gone = true;
          resolve();
        });
      });
      child = c;
      last = c;
      exitedChild = exited;
      unregister = registerExitCleanup(() => {
        if (!gone) c.kill('SIGKILL');
      });
      for (;;) {
        if (await ping(port)) return;
        if (gone || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      unregister();
      if (!gone) {
        c.kill('SIGKILL');
        await exited;
      }
      const log = tailOf(logFile);
      if (Date.now() > deadline || !/Address already in use/i.test(log))
        throw new Error(`redis-server did not start on port ${port}; its log:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const kill = async () => {
    const c = child;
    if (!c) return;
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await exitedChild;
    unregister();
    child = undefined;
  };

  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  // runs after the server's own cleanup (cleanups run newest first)
  const unregisterDir = registerExitCleanup(removeDir);
  try {
    await launch();
  } catch (e) {
    unregisterDir();
    removeDir();
    throw e;
  }
  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    dir,
    get process() {
      return last as ChildProcess;
    },
    get running() {
      return child !== undefined;
    },
    kill,
    start: async () => {
      if (stopped) throw new Error('private redis was stopped for good');
      if (child) return;
      await launch();
    },
    restart: async ({ downMs = 0 } = {}) => {
      if (stopped) throw new Error('private redis was stopped for good');
      await kill();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
    stop: () => (stopped ??= kill().then(() => rmSync(dir, { recursive: true, force: true }))),
  };
}
