// Real switchyard processes for tests: `switchyard sim`, `controller`, `worker`, ... run as
// child processes of the test, each in its own process group so that a kill reaches whatever it
// forked (the simulator's worker processes). Their output is kept line by line in a ring buffer
// for waitForLine() and for error messages, and optionally written to a log file.
//
// Every process started here is in a registry: stopAll() in an afterAll stops whatever a test
// left running, and when the test process exits anyway, the survivors get SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { runInThisContext } from 'node:vm';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
/** The CLI entry that ./scripts/switchyard runs with the repository's Node. */
export const CLI_MAIN = join(REPO_ROOT, 'services', 'cli', 'src', 'main.ts');

// ---------------------------------------------------------------- exit cleanups

// Jest gives every test file a copy of `process` whose 'exit' listeners never fire; the real
// one is the global of the context node:vm runs in.
const realProcess = ((): NodeJS.Process => {
  try {
    const p = runInThisContext('process') as NodeJS.Process | undefined;
    if (p && typeof p.on === 'function') return p;
  } catch {
    // not available: fall back to what we have
  }
  return process;
})();

const exitCleanups = new Set<() => void>();
const runExitCleanups = () => {
  for (const fn of [...exitCleanups].reverse()) {
    try {
      fn();
    } catch {
      // best effort: the process is exiting
    }
  }
  exitCleanups.clear();
};

/**
 * Runs fn (synchronously, best effort) when the test process exits with it still registered,
 * e.g. to SIGKILL a server an afterAll never stopped. Returns the unregister function.
 */
export function registerExitCleanup(fn: () => void): () => void {
  if (exitCleanups.size === 0) realProcess.on('exit', runExitCleanups);
  exitCleanups.add(fn);
  return () => {
    exitCleanups.delete(fn);
    if (exitCleanups.size === 0) realProcess.off('exit', runExitCleanups);
  };
}

/** Sends a signal to a process group, or to the process when it has no group of its own. */
export function signalGroup(pid: number, signal: NodeJS.Signals | 0, group = true): boolean {
  try {
    process.kill(group ? -pid : pid, signal);
    return true;
  } catch {
    if (!group) return false;
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** True while pid exists and is not a zombie (kill(pid, 0) succeeds on zombies). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return true; // no /proc (macOS): trust kill(0)
  }
}

// ---------------------------------------------------------------- managed processes

export interface LogLine {
  /** Position in the process's output, counting from 0 (both streams together). */
  index: number;
  stream: 'stdout' | 'stderr';
  text: string;
  /** The line parsed as JSON when it is a JSON object (pino logs), else undefined. */
  json?: Record<string, unknown> | undefined;
  /** Wall-clock time the line was read (ms since the epoch). */
  at: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A RegExp is tried on the raw line and on the `msg` of a JSON log line; a function gets the line. */
export type LineMatcher = RegExp | ((line: LogLine) => boolean);

export interface WaitForLineOptions {
  /** Only lines with index >= after count (default 0: everything still in the buffer). */
  after?: number;
  stream?: 'stdout' | 'stderr';
}

export interface SpawnOptions {
  /** Used in error messages and log lines. */
  name: string;
  /** Added to the test's environment; an undefined value removes the variable. */
  env?: Record<string, string | undefined>;
  /** Working directory (default: the repository root, where examples/ lives). */
  cwd?: string;
  /** Appends every line here (default: <SWITCHYARD_TEST_LOG_DIR>/<name>-<pid>.log when that is set). */
  logFile?: string;
  /** Mirror every line to the test's stderr, prefixed with [name] (default: SWITCHYARD_TEST_ECHO=1). */
  echo?: boolean;
  /** Lines kept for waitForLine and error messages (default 2000). */
  bufferLines?: number;
  /** Extra node options before the entry script, e.g. ['--max-old-space-size=256']. */
  nodeArgs?: string[];
  /** Run this script instead of the CLI entry (same node, same handling). */
  script?: string;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves once the process has exited and its output has been read. Never rejects. */
  readonly exited: Promise<ExitInfo>;
  /** Exit code and signal once exited, else undefined. */
  readonly exitInfo: ExitInfo | undefined;
  /** Lines read so far (also those already dropped from the buffer): use it as `after`. */
  readonly lineCount: number;
  /** The buffered lines (the last bufferLines), oldest first. */
  lines(): LogLine[];
  /** The last n lines as text, "stream| line" each, for messages. */
  tail(n?: number): string;
  /**
   * Resolves with the first matching line (already buffered ones included, see opts.after);
   * rejects on timeout or when the process exits first, with the last 50 lines in the message.
   */
  waitForLine(match: LineMatcher, timeoutMs?: number, opts?: WaitForLineOptions): Promise<LogLine>;
  /** Sends a signal without waiting (SIGSTOP, SIGCONT, SIGHUP, ...); group: its whole process group (default). */
  signal(signal: NodeJS.Signals, opts?: { group?: boolean }): void;
  /** Sends the signal (default SIGKILL, to the whole group) and waits for the exit. */
  kill(signal?: NodeJS.Signals, opts?: { group?: boolean; timeoutMs?: number }): Promise<ExitInfo>;
  /**
   * SIGTERM to the process, SIGKILL to its group after graceMs (default 5000), then clears out
   * anything left in its group. Safe to call at any time, any number of times.
   */
  stop(opts?: { graceMs?: number }): Promise<ExitInfo>;
}

const live = new Set<ManagedProcess>();

/** Every managed process that has not exited yet. */
export function liveProcesses(): ManagedProcess[] {
  return [...live];
}

/** Stops every managed process that is still running (for afterAll). */
export async function stopAll(opts: { graceMs?: number } = {}): Promise<void> {
  await Promise.all([...live].map((p) => p.stop(opts)));
}

function formatRegExp(m: LineMatcher): string {
  return m instanceof RegExp ? String(m) : 'the given predicate';
}

function parseJsonLine(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function matches(m: LineMatcher, line: LogLine): boolean {
  if (typeof m === 'function') return m(line);
  m.lastIndex = 0;
  if (m.test(line.text)) return true;
  const msg = line.json?.msg;
  if (typeof msg === 'string') {
    m.lastIndex = 0;
    return m.test(msg);
  }
  return false;
}

function describeExit(e: ExitInfo): string {
  return e.signal ? `signal ${e.signal}` : `code ${e.code}`;
}

interface Waiter {
  match: LineMatcher;
  after: number;
  stream: 'stdout' | 'stderr' | undefined;
  resolve: (l: LogLine) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Runs `node services/cli/src/main.ts ...args` (what ./scripts/switchyard runs) with the test's
 * own Node, in a new process group, stdin closed, stdout and stderr read line by line.
 */
export function spawnSwitchyard(args: string[], opts: SpawnOptions): ManagedProcess {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const capacity = opts.bufferLines ?? 2000;
  const echo = opts.echo ?? process.env.SWITCHYARD_TEST_ECHO === '1';
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.script ?? CLI_MAIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env,
    detached: true, // setsid: its own process group, and no signal from a terminal
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    // spawn failed synchronously (e.g. a bad cwd); the 'error' event carries the reason
    const err = new Error(`${opts.name}: could not spawn ${process.execPath}`);
    child.once('error', () => undefined);
    throw err;
  }
  const pid = child.pid;
  const name = opts.name;

  const logDir = process.env.SWITCHYARD_TEST_LOG_DIR;
  const logPath = opts.logFile ?? (logDir ? join(logDir, `${name}-${pid}.log`) : undefined);
  let log: WriteStream | undefined;
  if (logPath) {
    mkdirSync(dirname(logPath), { recursive: true });
    log = createWriteStream(logPath, { flags: 'a' });
    log.on('error', () => undefined);
    log.write(`# ${new Date().toISOString()} ${name} pid ${pid}: ${args.join(' ')}\n`);
  }

  const buffer: LogLine[] = [];
  let count = 0;
  const waiters = new Set<Waiter>();
  let exitInfo: ExitInfo | undefined;

  const tail = (n = 50) =>
    buffer
      .slice(-n)
      .map((l) => `${l.stream === 'stderr' ? 'err' : 'out'}| ${l.text}`)
      .join('\n');

  const onLine = (stream: 'stdout' | 'stderr') => (text: string) => {
    const line: LogLine = { index: count++, stream, text, json: parseJsonLine(text), at: Date.now() };
    buffer.push(line);
    if (buffer.length > capacity) buffer.splice(0, buffer.length - capacity);
    log?.write(`${new Date(line.at).toISOString()} ${stream} ${text}\n`);
    if (echo) process.stderr.write(`[${name}] ${text}\n`);
    for (const w of waiters) {
      if (line.index < w.after || (w.stream && w.stream !== stream) || !matches(w.match, line)) continue;
      waiters.delete(w);
      clearTimeout(w.timer);
      w.resolve(line);
    }
  };
  const readers = [
    { stream: 'stdout' as const, rl: createInterface({ input: child.stdout!, crlfDelay: Infinity }) },
    { stream: 'stderr' as const, rl: createInterface({ input: child.stderr!, crlfDelay: Infinity }) },
  ].map(
    ({ stream, rl }) =>
      new Promise<void>((done) => {
        rl.on('line', onLine(stream));
        rl.once('close', () => done());
      }),
  );

  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));
  const exitedError = (info: ExitInfo, match: LineMatcher) =>
    new Error(
      `${name} (pid ${pid}) exited with ${describeExit(info)} before printing a line matching ` +
        `${formatRegExp(match)}${spawnError ? ` (${spawnError.message})` : ''}; its last 50 lines:\n${tail(50)}`,
    );

  const unregisterExit = registerExitCleanup(() => {
    signalGroup(pid, 'SIGKILL');
  });
  const exited = new Promise<ExitInfo>((resolveExit) => {
    child.once('exit', (code, signal) => {
      const info: ExitInfo = { code, signal };
      // The output may still be in the pipes; give the readers a moment (a forked grandchild
      // holding the pipe open must not delay this for long).
      let grace: NodeJS.Timeout | undefined;
      const drained = new Promise<void>((r) => (grace = setTimeout(r, 500)));
      void Promise.race([Promise.all(readers), drained]).then(() => {
        clearTimeout(grace);
        exitInfo = info;
        log?.write(`# ${new Date().toISOString()} exited with ${describeExit(info)}\n`);
        log?.end();
        live.delete(entry); // declared below; 'exit' comes long after
        unregisterExit();
        for (const w of waiters) {
          clearTimeout(w.timer);
          w.reject(exitedError(info, w.match));
        }
        waiters.clear();
        resolveExit(info);
      });
    });
  });

  const waitExit = async (timeoutMs: number): Promise<ExitInfo | undefined> => {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      exited,
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs))),
    ]);
    clearTimeout(timer);
    return r;
  };

  /** Anything still in the group once the leader is gone (a grandchild it did not reap). */
  const reapGroup = async () => {
    if (!signalGroup(pid, 0, true)) return;
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 20; i++) {
      await sleep(100);
      try {
        process.kill(-pid, 0);
      } catch {
        return;
      }
    }
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  };

  let stopping: Promise<ExitInfo> | undefined;
  const entry: ManagedProcess = {
    name,
    pid,
    child,
    exited,
    get exitInfo() {
      return exitInfo;
    },
    get lineCount() {
      return count;
    },
    lines: () => [...buffer],
    tail,
    waitForLine(match, timeoutMs = 15_000, wopts = {}) {
      const after = wopts.after ?? 0;
      const found = buffer.find(
        (l) => l.index >= after && (!wopts.stream || wopts.stream === l.stream) && matches(match, l),
      );
      if (found) return Promise.resolve(found);
      if (exitInfo) return Promise.reject(exitedError(exitInfo, match));
      return new Promise<LogLine>((res, rej) => {
        const w: Waiter = {
          match,
          after,
          stream: wopts.stream,
          resolve: res,
          reject: rej,
          timer: setTimeout(() => {
            waiters.delete(w);
            rej(
              new Error(
                `${name} (pid ${pid}) printed no line matching ${formatRegExp(match)} within ${timeoutMs} ms; ` +
                  `its last 50 lines:\n${tail(50)}`,
              ),
            );
          }, timeoutMs),
        };
        waiters.add(w);
      });
    },
    signal(sig, sopts = {}) {
      if (exitInfo) return;
      signalGroup(pid, sig, sopts.group ?? true);
    },
    async kill(sig = 'SIGKILL', kopts = {}) {
      if (!exitInfo) signalGroup(pid, sig, kopts.group ?? true);
      const timeoutMs = kopts.timeoutMs ?? 10_000;
      const info = await waitExit(timeoutMs);
      if (!info)
        throw new Error(
          `${name} (pid ${pid}) still running ${timeoutMs} ms after ${sig}; last lines:\n${tail(20)}`,
        );
      return info;
    },
    stop(stopOpts = {}) {
      return (stopping ??= (async () => {
        if (!exitInfo) {
          signalGroup(pid, 'SIGTERM', false);
          let info = await waitExit(stopOpts.graceMs ?? 5000);
          if (!info) {
            signalGroup(pid, 'SIGKILL');
            info = await waitExit(10_000);
          }
          if (!info) throw new Error(`${name} (pid ${pid}) survived SIGKILL`);
        }
        await reapGroup();
        return exited;
      })());
    },
  };
  live.add(entry);
  return entry;
}

/** Polls fn until it returns a value other than undefined/false; throws its last error on timeout. */
export async function waitUntil<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 15_000, intervalMs = 100, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what} not reached within ${timeoutMs} ms${last ? `: ${(last as Error).message ?? String(last)}` : ''}`,
      );
    await sleep(intervalMs);
  }
}
