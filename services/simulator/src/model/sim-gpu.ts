// A simulated GPU node of a GpuPool: idle, serving inference or hashing, drawing the pool's
// nodePowerKw for its mode. A mode change moves the draw linearly over a short transition
// (default 10 sim seconds), computed lazily from the clock like the miners.
import type { GpuPool } from '@switchyard/domain';
import type { SimClock } from './sim-clock.ts';
import { clamp01 } from './sim-miner.ts';

export const GPU_MODES = ['idle', 'serving', 'hashing'] as const;
export type GpuMode = (typeof GPU_MODES)[number];

export interface SimGpuObservation {
  pool: string;
  node: string;
  mode: GpuMode;
  /** True draw at the wall now (kW). */
  powerKw: number;
  transitionRemainingS: number;
  gpuModel: string;
  gpus: number;
}

export class SimGpuNode {
  readonly pool: GpuPool;
  readonly name: string;
  readonly clock: SimClock;
  readonly transitionMs: number;
  #mode: GpuMode = 'idle';
  #since = -Infinity;
  #fromKw: number;

  constructor(pool: GpuPool, index: number, clock: SimClock, transitionSeconds = 10) {
    this.pool = pool;
    this.name = gpuNodeName(pool.metadata.name, index);
    this.clock = clock;
    this.transitionMs = Math.max(0, transitionSeconds * 1000);
    this.#fromKw = pool.spec.nodePowerKw.idle;
  }

  get mode(): GpuMode {
    return this.#mode;
  }

  /** Returns an error message when the mode is not allowed. Idempotent. */
  setMode(mode: GpuMode): string | null {
    if (!GPU_MODES.includes(mode)) return `mode must be one of ${GPU_MODES.join(', ')}`;
    if (mode === 'hashing' && !this.pool.spec.hashing?.enabled)
      return `GpuPool ${this.pool.metadata.name} does not allow hashing (spec.hashing.enabled is not true)`;
    if (mode === this.#mode) return null;
    const t = this.clock.now();
    this.#fromKw = this.powerKwAt(t);
    this.#since = t;
    this.#mode = mode;
    return null;
  }

  powerKwAt(t: number): number {
    const target = this.pool.spec.nodePowerKw[this.#mode];
    if (this.transitionMs === 0) return target;
    const f = clamp01((t - this.#since) / this.transitionMs);
    return this.#fromKw + (target - this.#fromKw) * f;
  }

  observe(t: number = this.clock.now()): SimGpuObservation {
    return {
      pool: this.pool.metadata.name,
      node: this.name,
      mode: this.#mode,
      powerKw: Math.round(this.powerKwAt(t) * 1000) / 1000,
      transitionRemainingS: Math.max(0, Math.ceil((this.#since + this.transitionMs - t) / 1000)),
      gpuModel: this.pool.spec.gpuModel,
      gpus: this.pool.spec.gpusPerNode,
    };
  }
}

/** Standalone node names: "<pool>-node-00", "<pool>-node-01", ... */
export function gpuNodeName(pool: string, index: number): string {
  return `${pool}-node-${String(index).padStart(2, '0')}`;
}
