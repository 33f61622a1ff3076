// The coordinator's view of a miner host: the same interface whether the host runs in this
// process (LocalHostHandle) or in a forked worker process (ChildHostHandle, one OS process per
// worker so each has its own open-file budget for the miners' sockets).
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Logger } from '@switchyard/telemetry';
import { MinerHost } from './miner-host.ts';
import type {
  ChildMessage,
  HostInit,
  HostOp,
  HostOps,
  HostReady,
  ParentMessage,
  SampleBatch,
} from './messages.ts';

export interface HostHandle {
  readonly label: string;
  readonly fleets: readonly string[];
  /** Set before start(). */
  onSamples: (batch: SampleBatch) => void;
  /** Called when the host dies on its own (never after close()). */
  onExit: (error: Error) => void;
  start(): Promise<HostReady>;
  request<K extends HostOp>(op: K, args: HostOps[K]['req']): Promise<HostOps[K]['res']>;
  close(): Promise<void>;
}

export class LocalHostHandle implements HostHandle {
  readonly label = 'in-process';
  readonly fleets: readonly string[];
  readonly host: MinerHost;
  onSamples: (batch: SampleBatch) => void = () => {};
  onExit: (error: Error) => void = () => {};

  constructor(init: HostInit, logger?: Logger, portMap?: (realPort: number) => number) {
    this.fleets = init.fleets;
    this.host = new MinerHost(init, logger, portMap);
  }

  async start(): Promise<HostReady> {
    this.host.onSamples = (b) => this.onSamples(b);
    this.host.startSampling();
    return this.host.startServers();
  }

  request<K extends HostOp>(op: K, args: HostOps[K]['req']): Promise<HostOps[K]['res']> {
    return this.host.handle(op, args);
  }

  close(): Promise<void> {
    return this.host.close();
  }
}

/** worker-main.ts, next to this file (import.meta.dirname; __dirname under jest's transform). */
export function workerMainPath(): string {
  return path.join(import.meta.dirname, 'worker-main.ts');
}

const CLOSE_TIMEOUT_MS = 15_000;

export class ChildHostHandle implements HostHandle {
  readonly label: string;
  readonly fleets: readonly string[];
  readonly #init: HostInit;
  readonly #logger: Logger | undefined;
  #child: ChildProcess | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #closing: Promise<void> | undefined;
  #exited: Promise<void> = Promise.resolve();
  onSamples: (batch: SampleBatch) => void = () => {};
  onExit: (error: Error) => void = () => {};

  constructor(init: HostInit, index: number, logger?: Logger) {
    this.label = `worker ${index}`;
    this.fleets = init.fleets;
    this.#init = init;
    this.#logger = logger;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  start(): Promise<HostReady> {
    const child = fork(workerMainPath(), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: process.env.SIM_WORKER_EXEC_ARGV ? process.env.SIM_WORKER_EXEC_ARGV.split(' ') : [],
    });
    this.#child = child;
    this.#exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return new Promise<HostReady>((resolve, reject) => {
      let ready = false;
      child.on('message', (raw) => {
        const msg = raw as ChildMessage;
        switch (msg.kind) {
          case 'ready':
            ready = true;
            resolve(msg.ready);
            break;
          case 'fatal':
            if (!ready) reject(new Error(`${this.label}: ${msg.message}`));
            else this.#logger?.error({ worker: this.label, message: msg.message }, 'worker failed');
            break;
          case 'samples':
            this.onSamples(msg.batch);
            break;
          case 'res': {
            const p = this.#pending.get(msg.id);
            if (!p) break;
            this.#pending.delete(msg.id);
            if (msg.ok) p.resolve(msg.value);
            else p.reject(new Error(msg.error));
            break;
          }
          case 'closed':
            break;
        }
      });
      child.once('error', (e) => {
        if (!ready) reject(e);
      });
      child.once('exit', (code, signal) => {
        const err = new Error(`${this.label} (pid ${child.pid}) exited (${signal ?? `code ${code}`})`);
        for (const p of this.#pending.values()) p.reject(err);
        this.#pending.clear();
        if (!ready) reject(err);
        else if (!this.#closing) this.onExit(err);
      });
      this.#send({ kind: 'init', init: this.#init });
    });
  }

  request<K extends HostOp>(op: K, args: HostOps[K]['req']): Promise<HostOps[K]['res']> {
    const child = this.#child;
    if (!child || !child.connected) return Promise.reject(new Error(`${this.label} is not running`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#send({ kind: 'req', id, op, args });
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    if (child.connected) this.#send({ kind: 'close' });
    else child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
    await this.#exited;
    clearTimeout(timer);
  }

  #send(msg: ParentMessage): void {
    const child = this.#child;
    if (!child?.connected) return;
    child.send(msg, (err) => {
      if (err) this.#logger?.warn({ err, worker: this.label }, 'cannot reach worker');
    });
  }
}
