// A fleet's total draw and hashrate at a sim time, kept incrementally: miners whose draw is
// constant ("steady": hashing on a profile, asleep, shut down) are summed once and cached;
// only miners in transition (waking, going to sleep, retuning, rebooting) are evaluated per
// sample. A control, fault or thermal event on a miner moves it back to the active set; an
// environment change (ambient, zone load) re-evaluates the whole fleet once.
import type { SimMiner } from '../model/sim-miner.ts';
import type { ThermalEnv } from '../model/environment.ts';

/** Full re-evaluation every this many samples, to wash out floating-point drift. */
const FULL_PASS_EVERY = 600;

export class FleetAggregate {
  readonly name: string;
  readonly miners: readonly SimMiner[];
  readonly #w: Float64Array;
  readonly #ths: Float64Array;
  readonly #isActive: Uint8Array;
  #active: number[] = [];
  #steadyW = 0;
  #steadyThs = 0;
  #dirty = true;
  #sinceFull = 0;
  readonly #unsubscribe: () => void;

  constructor(name: string, miners: readonly SimMiner[], env: ThermalEnv) {
    this.name = name;
    this.miners = miners;
    this.#w = new Float64Array(miners.length);
    this.#ths = new Float64Array(miners.length);
    this.#isActive = new Uint8Array(miners.length);
    miners.forEach((m, i) => m.attach(() => this.#markActive(i)));
    this.#unsubscribe = env.onChange(() => {
      this.#dirty = true;
    });
  }

  /** Total draw (W) and hashrate (TH/s) of the fleet at sim time t. */
  sample(t: number): { powerW: number; hashrateThs: number } {
    if (this.#dirty || ++this.#sinceFull >= FULL_PASS_EVERY) return this.#full(t);
    let w = this.#steadyW;
    let ths = this.#steadyThs;
    const list = this.#active;
    let keep = 0;
    for (let k = 0; k < list.length; k++) {
      const i = list[k] as number;
      const s = (this.miners[i] as SimMiner).sample(t);
      if (s.steady) {
        this.#w[i] = s.powerW;
        this.#ths[i] = s.hashrateThs;
        this.#steadyW += s.powerW;
        this.#steadyThs += s.hashrateThs;
        this.#isActive[i] = 0;
      } else {
        list[keep++] = i;
      }
      w += s.powerW;
      ths += s.hashrateThs;
    }
    list.length = keep;
    return { powerW: w, hashrateThs: ths };
  }

  /** How many miners are being evaluated per sample (for diagnostics). */
  get activeCount(): number {
    return this.#active.length;
  }

  detach(): void {
    this.#unsubscribe();
    for (const m of this.miners) m.attach(null);
  }

  #full(t: number): { powerW: number; hashrateThs: number } {
    this.#dirty = false;
    this.#sinceFull = 0;
    let steadyW = 0;
    let steadyThs = 0;
    let w = 0;
    let ths = 0;
    const active: number[] = [];
    for (let i = 0; i < this.miners.length; i++) {
      const s = (this.miners[i] as SimMiner).sample(t);
      w += s.powerW;
      ths += s.hashrateThs;
      if (s.steady) {
        this.#w[i] = s.powerW;
        this.#ths[i] = s.hashrateThs;
        steadyW += s.powerW;
        steadyThs += s.hashrateThs;
        this.#isActive[i] = 0;
      } else {
        this.#isActive[i] = 1;
        active.push(i);
      }
    }
    // a miner may have marked itself active during the pass (thermal event): trust the flags
    this.#active = active.filter((i) => this.#isActive[i] === 1);
    this.#steadyW = steadyW;
    this.#steadyThs = steadyThs;
    return { powerW: w, hashrateThs: ths };
  }

  #markActive(i: number): void {
    if (this.#isActive[i] === 1) return;
    this.#isActive[i] = 1;
    this.#steadyW -= this.#w[i] as number;
    this.#steadyThs -= this.#ths[i] as number;
    this.#active.push(i);
  }
}
