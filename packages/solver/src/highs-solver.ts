// HighsSolver: the MipSolver adapter. Solves run one at a time in a worker thread that owns a
// HiGHS instance, with HiGHS's own time_limit and a hard wall-clock kill behind it. A killed or
// crashed worker is replaced by a fresh one (fresh WebAssembly instance), so one bad solve never
// poisons the next. close() is idempotent and ends the worker.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { MipModel, MipSolution, MipSolver } from '@switchyard/domain';
import type { WorkerRequest, WorkerResponse } from './messages.ts';

export interface HighsSolverOptions {
  /** Wall-clock slack after HiGHS's own time limit before the worker is killed. */
  killGraceMs?: number;
  /** Relative MIP gap at which HiGHS stops (default 1e-4). */
  mipRelGap?: number;
  /** How long a fresh worker may take to load HiGHS. */
  startupTimeoutMs?: number;
  /** The worker's entry file (tests substitute their own). */
  workerPath?: string;
}

export class SolverClosedError extends Error {
  readonly code = 'SOLVER_CLOSED';
  constructor() {
    super('the HiGHS solver is closed');
    this.name = 'SolverClosedError';
  }
}

/** highs-worker.ts next to this file (import.meta.dirname; __dirname under jest's transform). */
export function highsWorkerPath(): string {
  return path.join(import.meta.dirname, 'highs-worker.ts');
}

interface Job {
  model: MipModel;
  timeLimitMs: number;
  resolve: (s: MipSolution) => void;
  reject: (e: Error) => void;
}

interface Live {
  worker: Worker;
  ready: Promise<void>;
  /** Resolves the solve in flight on this worker, if any. */
  settle: ((r: WorkerResponse | { kind: 'exit'; message: string }) => void) | null;
}

const failed = (message: string, solveMs: number): MipSolution => ({
  status: 'error',
  objective: null,
  values: null,
  mipGap: null,
  solveMs,
  message,
});

export class HighsSolver implements MipSolver {
  readonly #opts: Required<Omit<HighsSolverOptions, 'mipRelGap'>> & { mipRelGap: number | undefined };
  readonly #queue: Job[] = [];
  #live: Live | null = null;
  #busy = false;
  #closing: Promise<void> | null = null;
  #seq = 0;
  /** Counters for metrics and tests. */
  readonly stats = { solves: 0, kills: 0, workersStarted: 0 };

  constructor(opts: HighsSolverOptions = {}) {
    this.#opts = {
      killGraceMs: opts.killGraceMs ?? 250,
      mipRelGap: opts.mipRelGap,
      startupTimeoutMs: opts.startupTimeoutMs ?? 15_000,
      workerPath: opts.workerPath ?? highsWorkerPath(),
    };
  }

  /** Loads HiGHS in the worker ahead of the first solve. */
  async start(): Promise<void> {
    if (this.#closing) throw new SolverClosedError();
    await this.#ensure().ready;
  }

  solve(model: MipModel, opts: { timeLimitMs: number }): Promise<MipSolution> {
    if (this.#closing) return Promise.reject(new SolverClosedError());
    return new Promise<MipSolution>((resolve, reject) => {
      this.#queue.push({ model, timeLimitMs: opts.timeLimitMs, resolve, reject });
      this.#pump();
    });
  }

  /** Kills the worker now; a solve in flight ends with status "error". The next solve gets a fresh one. */
  async abortCurrent(): Promise<void> {
    await this.#kill('aborted');
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const job of this.#queue.splice(0)) job.reject(new SolverClosedError());
      await this.#kill('solver closed');
    })();
    return this.#closing;
  }

  #pump(): void {
    if (this.#busy) return;
    const job = this.#queue.shift();
    if (!job) return;
    this.#busy = true;
    this.#run(job)
      .then(job.resolve, job.reject)
      .finally(() => {
        this.#busy = false;
        this.#pump();
      });
  }

  #ensure(): Live {
    if (this.#live) return this.#live;
    const worker = new Worker(this.#opts.workerPath, { execArgv: [] });
    this.stats.workersStarted++;
    const live: Live = { worker, ready: Promise.resolve(), settle: null };
    live.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('HiGHS worker did not start in time')),
        this.#opts.startupTimeoutMs,
      );
      worker.on('message', (msg: WorkerResponse) => {
        if (msg.kind === 'ready') {
          clearTimeout(timer);
          resolve();
        } else live.settle?.(msg);
      });
      const gone = (message: string) => {
        clearTimeout(timer);
        reject(new Error(message));
        live.settle?.({ kind: 'exit', message });
        if (this.#live === live) this.#live = null;
      };
      worker.once('error', (e) => gone(`HiGHS worker failed: ${e.message}`));
      worker.once('exit', (code) => gone(`HiGHS worker exited (code ${code})`));
    });
    live.ready.catch(() => {}); // observed by #run; avoid an unhandled rejection when idle
    worker.unref();
    this.#live = live;
    return live;
  }

  async #kill(why: string): Promise<void> {
    const live = this.#live;
    if (!live) return;
    this.#live = null;
    live.settle?.({ kind: 'exit', message: why });
    await live.worker.terminate();
  }

  async #run(job: Job): Promise<MipSolution> {
    const t0 = performance.now();
    const elapsed = () => performance.now() - t0;
    if (this.#closing) throw new SolverClosedError();
    const live = this.#ensure();
    live.worker.ref();
    try {
      await live.ready;
    } catch (e) {
      return failed((e as Error).message, elapsed());
    }
    const id = ++this.#seq;
    this.stats.solves++;
    const killAfter = job.timeLimitMs + Math.max(this.#opts.killGraceMs, job.timeLimitMs / 2);
    try {
      return await new Promise<MipSolution>((resolve) => {
        const timer = setTimeout(() => {
          this.stats.kills++;
          live.settle = null;
          resolve({
            status: 'time-limit',
            objective: null,
            values: null,
            mipGap: null,
            solveMs: elapsed(),
            message: `killed after ${Math.round(elapsed())} ms`,
          });
          void this.#kill('time limit').then(() => this.#warm());
        }, killAfter);
        live.settle = (msg) => {
          if (msg.kind === 'ready' || ('id' in msg && msg.id !== id)) return;
          clearTimeout(timer);
          live.settle = null;
          if (msg.kind === 'result') resolve({ ...msg.solution, solveMs: elapsed() });
          else resolve(failed(msg.message, elapsed()));
        };
        const req: WorkerRequest = {
          kind: 'solve',
          id,
          model: job.model,
          timeLimitMs: job.timeLimitMs,
          mipRelGap: this.#opts.mipRelGap,
        };
        live.worker.postMessage(req);
      });
    } finally {
      if (this.#live === live) live.worker.unref();
    }
  }

  /** After a kill, load a fresh instance in the background so the next solve does not wait. */
  #warm(): void {
    if (this.#closing || this.#live) return;
    this.#ensure();
  }
}
