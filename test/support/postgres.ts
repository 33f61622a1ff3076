// A private, throwaway PostgreSQL cluster for tests that stop, crash or restart the database:
// initdb into a temporary directory, trust authentication, a free port on 127.0.0.1, and a
// database `switchyard` owned by the user `switchyard`. The data directory survives kill(),
// restart() and start(); stop() removes it.
//
// The same recipe as sy_ensure_postgres in scripts/lib/services.sh: the newest directory with
// both initdb and pg_ctl, and, since PostgreSQL refuses to run as root, the server runs as the
// `postgres` user (through runuser, or su without it) when the tests run as root.
import { execFileSync, spawn } from 'node:child_process';
import {
  accessSync,
  chownSync,
  constants,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
} from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { freePort } from './redis.ts';
import { isAlive, registerExitCleanup } from './processes.ts';

export interface PrivatePostgresOptions {
  /** Database created at start (default "switchyard"); also the superuser's name. */
  database?: string;
  /** Extra server settings, as `-c name=value` (e.g. { max_connections: '50' }). */
  settings?: Record<string, string>;
}

export interface PrivatePostgres {
  /** postgres://switchyard@127.0.0.1:<port>/switchyard */
  url: string;
  port: number;
  /** The temporary directory: data/ (the cluster), log (the server log), the Unix socket. */
  dir: string;
  /** True between a start and a kill/stop. */
  readonly running: boolean;
  /** Starts the server again on the same port and data after kill(); waits until it accepts connections. */
  start(): Promise<void>;
  /** Immediate shutdown (pg_ctl -m immediate, as a crash: recovery runs at the next start). */
  kill(): Promise<void>;
  /** Stops (mode: immediate, the default, or fast), waits downMs (default 0), starts again. */
  restart(opts?: { downMs?: number; mode?: 'immediate' | 'fast' }): Promise<void>;
  /** Runs SQL through psql and returns its unaligned, tuples-only output (trimmed). */
  psql(sql: string, opts?: { database?: string }): Promise<string>;
  /** The last lines of the server log, for error messages. */
  logTail(lines?: number): string;
  /** Immediate shutdown and removal of the directory. Idempotent. */
  stop(): Promise<void>;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function which(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (d && isExecutable(join(d, cmd))) return join(d, cmd);
  }
  return undefined;
}

/** Compares "15", "postgresql@16", "pgsql-14" by the numbers in them, newest first. */
function byVersionDesc(a: string, b: string): number {
  const na = (a.match(/\d+/g) ?? []).map(Number);
  const nb = (b.match(/\d+/g) ?? []).map(Number);
  for (let i = 0; i < Math.max(na.length, nb.length); i++) {
    const d = (nb[i] ?? -1) - (na[i] ?? -1);
    if (d !== 0) return d;
  }
  return b.localeCompare(a);
}

function globBinDirs(parent: string, re: RegExp, sub: string): string[] {
  try {
    return readdirSync(parent)
      .filter((n) => re.test(n))
      .sort(byVersionDesc)
      .map((n) => join(parent, n, sub));
  } catch {
    return [];
  }
}

/** The newest directory holding both initdb and pg_ctl (one installation), like sy__pg_bindir. */
export function findPostgresBinDir(): string {
  const candidates: string[] = [];
  const initdb = which('initdb');
  if (initdb) {
    try {
      candidates.push(dirname(realpathSync(initdb)));
    } catch {
      candidates.push(dirname(initdb));
    }
  }
  try {
    const out = execFileSync('pg_config', ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    candidates.push(out.trim());
  } catch {
    // no pg_config
  }
  candidates.push(
    ...globBinDirs('/usr/lib/postgresql', /^\d/, 'bin'),
    ...globBinDirs('/usr', /^pgsql-\d/, 'bin'),
    ...globBinDirs('/opt/homebrew/opt', /^postgresql/, 'bin'),
    ...globBinDirs('/usr/local/opt', /^postgresql/, 'bin'),
  );
  const dir = candidates.find((d) => d && isExecutable(join(d, 'initdb')) && isExecutable(join(d, 'pg_ctl')));
  if (!dir)
    throw new Error(
      'initdb/pg_ctl not found: install PostgreSQL (apt-get install postgresql) to run the tests that restart it',
    );
  return dir;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

interface RunAs {
  user: string | undefined;
  /** The command line that runs cmd args as the server's user. */
  wrap(cmd: string, args: string[]): [string, string[]];
}

/** As root, commands run as `postgres` (PostgreSQL will not run as root); else as ourselves. */
function serverUser(): RunAs {
  if (process.getuid?.() !== 0) return { user: undefined, wrap: (cmd, args) => [cmd, args] };
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
  } catch {
    throw new Error(
      "running as root, but there is no 'postgres' user to run PostgreSQL as (it refuses to run as root)",
    );
  }
  const runuser = which('runuser') ?? ['/usr/sbin/runuser', '/sbin/runuser'].find(isExecutable);
  if (runuser)
    return { user: 'postgres', wrap: (cmd, args) => [runuser, ['-u', 'postgres', '--', cmd, ...args]] };
  const su = which('su') ?? '/bin/su';
  return {
    user: 'postgres',
    wrap: (cmd, args) => [su, ['-s', '/bin/sh', 'postgres', '-c', [cmd, ...args].map(shellQuote).join(' ')]],
  };
}

interface RunResult {
  ok: boolean;
  stdout: string;
  /** stdout and stderr together, for messages. */
  out: string;
}

function run(
  file: string,
  args: string[],
  opts: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      // "/" because the test's directory (e.g. /root) may be closed to the postgres user
      cwd: '/',
      env: { ...process.env, PGSSLMODE: 'disable', PGCONNECT_TIMEOUT: '10', ...opts.env },
      // its own session: a Ctrl-C meant for the test run does not hit pg_ctl half way
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let both = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      both += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => (both += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, stdout, out: `${both}${e.message}`.trim() });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, stdout, out: both.trim() });
    });
  });
}

function tailOf(file: string, n: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * initdb and start a private PostgreSQL on a free port (fsync and full_page_writes off: a
 * killed server loses nothing the OS has, and commits stay synchronous so an immediate stop
 * keeps every committed row).
 */
export async function startPrivatePostgres(opts: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const bindir = findPostgresBinDir();
  const as = serverUser();
  const database = opts.database ?? 'switchyard';
  const user = 'switchyard';
  // Always under /tmp, not $TMPDIR: the postgres user must reach it and the socket path must
  // stay short (pg_ctl -o also splits on spaces).
  const dir = mkdtempSync('/tmp/sy-pg-');
  const data = join(dir, 'data');
  const log = join(dir, 'log');
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  // runs after the server's own cleanup (cleanups run newest first)
  const unregisterDir = registerExitCleanup(() => {
    try {
      removeDir();
    } catch {
      // still shutting down; /tmp is cleaned eventually
    }
  });
  try {
    if (as.user) {
      const uid = Number(execFileSync('id', ['-u', as.user], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', as.user], { encoding: 'utf8' }).trim());
      chownSync(dir, uid, gid);
    }
    const init = await run(
      ...as.wrap(join(bindir, 'initdb'), [
        '-A',
        'trust',
        '-U',
        user,
        '--no-sync',
        '-E',
        'UTF8',
        '--locale=C',
        '-D',
        data,
      ]),
    );
    if (!init.ok) throw new Error(`initdb failed:\n${init.out.split('\n').slice(-20).join('\n')}`);
  } catch (e) {
    unregisterDir();
    removeDir();
    throw e;
  }

  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    fsync: 'off',
    full_page_writes: 'off',
    ...opts.settings,
  };
  const pgCtl = join(bindir, 'pg_ctl');
  let port = 0;
  let running = false;
  let unregister = () => {};

  const postmasterPid = (): number | undefined => {
    try {
      const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  };

  const launch = async (): Promise<RunResult> => {
    const o = [`-p ${port}`, `-k ${dir}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(
      ' ',
    );
    const r = await run(...as.wrap(pgCtl, ['-D', data, '-l', log, '-w', '-t', '30', '-o', o, 'start']));
    if (r.ok) {
      running = true;
      const pid = postmasterPid();
      unregister = registerExitCleanup(() => {
        // SIGQUIT is what pg_ctl -m immediate sends; give it a moment before removing the dir
        if (pid) {
          try {
            process.kill(pid, 'SIGQUIT');
          } catch {
            // gone
          }
          const tick = new Int32Array(new SharedArrayBuffer(4));
          for (let i = 0; i < 40 && isAlive(pid); i++) Atomics.wait(tick, 0, 0, 50);
        }
      });
    }
    return r;
  };

  const shutdown = async (mode: 'immediate' | 'fast') => {
    if (!existsSync(join(data, 'postmaster.pid'))) {
      running = false;
      unregister();
      return;
    }
    const r = await run(...as.wrap(pgCtl, ['-D', data, '-m', mode, '-t', '30', '-w', 'stop']));
    if (!r.ok) {
      const pid = postmasterPid();
      if (pid && isAlive(pid)) {
        try {
          process.kill(pid, 'SIGQUIT');
        } catch {
          // gone
        }
        for (let i = 0; i < 50 && isAlive(pid); i++) await sleep(100);
        if (isAlive(pid)) process.kill(pid, 'SIGKILL');
        for (let i = 0; i < 50 && isAlive(pid); i++) await sleep(100);
      }
    }
    running = false;
    unregister();
  };

  // First start: a new free port each try, in case another process takes it in between.
  let started: RunResult = { ok: false, stdout: '', out: '' };
  for (let attempt = 1; attempt <= 3 && !started.ok; attempt++) {
    port = await freePort();
    rmSync(log, { force: true });
    started = await launch();
    if (!started.ok && !/already in use/i.test(tailOf(log, 50))) break;
  }
  if (!started.ok) {
    const why = `pg_ctl start failed:\n${started.out}\n${tailOf(log, 20)}`;
    await shutdown('immediate').catch(() => undefined);
    unregisterDir();
    removeDir();
    throw new Error(why);
  }

  const createdb = isExecutable(join(bindir, 'createdb')) ? join(bindir, 'createdb') : 'createdb';
  const psqlBin = isExecutable(join(bindir, 'psql')) ? join(bindir, 'psql') : 'psql';
  const made = await run(createdb, ['-h', '127.0.0.1', '-p', String(port), '-U', user, database]);
  if (!made.ok) {
    await shutdown('immediate').catch(() => undefined);
    unregisterDir();
    removeDir();
    throw new Error(`createdb ${database} failed: ${made.out}`);
  }

  const url = `postgres://${user}@127.0.0.1:${port}/${database}`;
  let stopped: Promise<void> | undefined;
  const start = async () => {
    if (stopped) throw new Error('private PostgreSQL was stopped for good');
    if (running) return;
    const r = await launch();
    if (!r.ok) throw new Error(`pg_ctl start on port ${port} failed:\n${r.out}\n${tailOf(log, 20)}`);
  };
  return {
    url,
    port,
    dir,
    get running() {
      return running;
    },
    start,
    kill: () => shutdown('immediate'),
    restart: async ({ downMs = 0, mode = 'immediate' } = {}) => {
      await shutdown(mode);
      if (downMs > 0) await sleep(downMs);
      await start();
    },
    psql: async (sql, popts = {}) => {
      const target = popts.database ? url.replace(/\/[^/]*$/, `/${popts.database}`) : url;
      const r = await run(psqlBin, [target, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
      if (!r.ok) throw new Error(`psql failed: ${r.out}`);
      return r.stdout.trim();
    },
    logTail: (n = 50) => tailOf(log, n),
    stop: () =>
      (stopped ??= shutdown('immediate')
        .catch(() => undefined)
        .then(() => {
          unregisterDir();
          removeDir();
        })),
  };
}
