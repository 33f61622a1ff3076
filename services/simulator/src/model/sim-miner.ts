// One simulated ASIC. Physics is computed lazily from the clock whenever the miner is observed
// (no timers per miner): the miner keeps a phase (run, ramp, sleep, offline, fault) that started
// at a sim time, its settings (profile, power target, power percent) and the thermal
// environment it reads; power, hashrate and temperatures at time t follow from those.
//
// Power at the wall while running:
//   base     = profile power (or the power target) × powerPercent/100
//   throttle = 1 − 7 % per °C of inlet above the model's throttle limit (floor 50 %)
//   draw     = base × throttle × (1 + 0.15 %/°C × (inlet − 25 °C)) × (1 + per-miner offset ±1 %)
// and hashrate follows the efficiency curve at base × throttle (underclocking improves J/TH).
// See docs/simulator.md for the whole model.
import type {
  SimFault,
  SimMinerIdentity,
  SimMinerState,
  SimMinerView,
  SimObservation,
  SimBoard,
} from './sim-miner-api.ts';
import type { SimClock } from './sim-clock.ts';
import type { ThermalEnv } from './environment.ts';
import { chipsPerBoard, EfficiencyCurve, thermalLimitsFor, type ThermalLimits } from './miner-specs.ts';
import { hash32, mix32, mulberry32, unit } from './prng.ts';
import type { ChangeKind, ChangeLog, ChangeVia } from './change-log.ts';

export interface SimMinerTiming {
  /** Time for the draw to fall to sleepW after sleep (sim seconds). */
  sleepSeconds: number;
  /** Length of the wake ramp (sim seconds). */
  wakeSeconds: number;
  /** Time offline during a reboot (sim seconds). */
  rebootSeconds: number;
  /** Time to move between profiles or power targets while hashing (sim seconds). */
  retuneSeconds: number;
}

export const DEFAULT_TIMING: SimMinerTiming = {
  sleepSeconds: 3,
  wakeSeconds: 60,
  rebootSeconds: 45,
  retuneSeconds: 5,
};

export interface SimMinerInit {
  identity: SimMinerIdentity;
  clock: SimClock;
  env: ThermalEnv;
  timing?: Partial<SimMinerTiming>;
  /** Seed for the per-miner noise (combined with the farm address). */
  seed?: string | number;
  quirkRate?: number;
  credentials?: { username: string; password: string };
  /** A curve shared by the fleet's miners (built from identity.profiles when absent). */
  curve?: EfficiencyCurve;
  limits?: ThermalLimits;
  chipsPerBoard?: number;
  /**
   * Where the miner records every effective change a command makes, and every command that
   * changed nothing (see change-log.ts). Absent: nothing is recorded.
   */
  changes?: ChangeLog;
  initial?: {
    state?: 'hashing' | 'sleeping';
    /** Profile to start on (default: "normal" when the fleet has one, else the top profile). */
    profile?: string;
    /** Uptime at start (default: a deterministic 1-20 days). */
    uptimeS?: number;
  };
}

type Phase =
  | { kind: 'run' }
  | { kind: 'ramp'; since: number; fromW: number; durationMs: number; stuckAt: number | null }
  | { kind: 'sleep'; since: number; fromW: number }
  | { kind: 'offline'; since: number; until: number; next: 'run' | 'sleep' }
  | { kind: 'fault'; since: number; fromW: number; reason: string };

interface Retune {
  since: number;
  until: number;
  fromW: number;
  fromThs: number;
}

/** The cheap result of evaluating a miner at a time (reused object: copy what you keep). */
export interface MinerSample {
  state: SimMinerState;
  powerW: number;
  hashrateThs: number;
  /** True when the draw stays constant until a control, a fault or an environment change. */
  steady: boolean;
  inletC: number;
  /** Fraction of base power kept by thermal throttling (1 = not throttled). */
  throttle: number;
  rampRemainingS: number;
}

const THROTTLE_PER_C = 0.07;
const THROTTLE_FLOOR = 0.5;
const DRAW_PER_C = 0.0015;
const REFERENCE_INLET_C = 25;
/** Accepted shares per TH/s per second (a pool difficulty giving ~14 shares/min at 200 TH/s). */
const SHARES_PER_TH_S = 0.0012;
/** Fraction of the wake ramp spent booting before any hashrate. */
const BOOT_FRACTION = 0.1;
const BOARDS = 3;
const SENSORS_PER_BOARD = 4;
const FANS = 4;

export function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

export class SimMiner implements SimMinerView {
  readonly id: SimMinerIdentity;
  readonly quirkRate: number;
  readonly credentials: { username: string; password: string };
  readonly env: ThermalEnv;
  readonly clock: SimClock;
  readonly timing: SimMinerTiming;
  readonly limits: ThermalLimits;
  readonly curve: EfficiencyCurve;
  readonly chipsPerBoard: number;

  // fixed per-miner variation (deterministic from seed + host)
  readonly #powerOffset: number;
  readonly #hashOffset: number;
  readonly #inletOffset: number;
  readonly #boardShare: number[];
  readonly #sensorOffset: number[];
  readonly #fanOffset: number[];
  readonly #noiseSeed: number;
  readonly #stuckFraction: number;
  readonly #rejectRate: number;
  readonly #wireRandom: () => number;

  // settings
  #profile: string | null;
  #targetW: number | null = null;
  #percent: number | null = null;
  #baseW = 0;
  #baseThs = 0;

  // state
  #phase: Phase;
  #retune: Retune | null = null;
  #prev: Phase | null = null;
  #phaseStart = -Infinity;
  #fault: SimFault | null = null;
  #uptimeStart: number;
  #integralThsS = 0;
  #lastT: number;
  #lastThs = 0;
  #onChange: ((m: SimMiner) => void) | null = null;
  readonly #changes: ChangeLog | null;
  readonly #out: MinerSample = {
    state: 'hashing',
    powerW: 0,
    hashrateThs: 0,
    steady: true,
    inletC: 0,
    throttle: 1,
    rampRemainingS: 0,
  };

  constructor(init: SimMinerInit) {
    this.id = init.identity;
    this.clock = init.clock;
    this.env = init.env;
    this.timing = { ...DEFAULT_TIMING, ...init.timing };
    this.quirkRate = init.quirkRate ?? 0;
    this.credentials = init.credentials ?? { username: 'root', password: 'root' };
    this.curve = init.curve ?? new EfficiencyCurve(init.identity.profiles);
    this.limits = init.limits ?? thermalLimitsFor(init.identity.model);
    this.chipsPerBoard = init.chipsPerBoard ?? chipsPerBoard(init.identity.model);
    this.#changes = init.changes ?? null;

    const seed = `${init.seed ?? 0}|${init.identity.farmHost}`;
    const rnd = mulberry32(hash32(seed));
    const sym = (amp: number) => (rnd() * 2 - 1) * amp;
    this.#powerOffset = sym(0.01);
    this.#hashOffset = sym(0.015);
    this.#inletOffset = sym(1.5);
    const shares = Array.from({ length: BOARDS }, () => 1 + sym(0.03));
    const total = shares.reduce((a, b) => a + b, 0);
    this.#boardShare = shares.map((s) => s / total);
    this.#sensorOffset = Array.from({ length: BOARDS * SENSORS_PER_BOARD }, () => sym(0.08));
    this.#fanOffset = Array.from({ length: FANS }, () => sym(0.04));
    this.#noiseSeed = hash32(`${seed}|noise`);
    this.#stuckFraction = 0.3 + 0.3 * rnd();
    this.#rejectRate = 0.001 + 0.004 * rnd();
    this.#wireRandom = mulberry32(hash32(`${seed}|wire`));

    const profiles = init.identity.profiles;
    const wanted = init.initial?.profile;
    const start =
      (wanted !== undefined ? profiles.find((p) => p.name === wanted) : undefined) ??
      profiles.find((p) => p.name === 'normal') ??
      profiles.reduce((a, b) => (b.powerW > a.powerW ? b : a));
    this.#profile = start.name;
    this.#recomputeBase();

    const t0 = this.clock.now();
    const uptimeS = init.initial?.uptimeS ?? Math.round(86_400 * (1 + 19 * rnd()));
    this.#uptimeStart = t0 - uptimeS * 1000;
    this.#lastT = t0;
    if (init.initial?.state === 'sleeping') {
      this.#phase = { kind: 'sleep', since: -Infinity, fromW: init.identity.sleepW };
    } else {
      this.#phase = { kind: 'run' };
      const s = this.#compute(t0);
      this.#lastThs = s.hashrateThs;
      this.#integralThsS = s.hashrateThs * uptimeS;
    }
  }

  // ------------------------------------------------------------------ view

  get fault(): SimFault | null {
    return this.#fault;
  }

  random(): number {
    return this.#wireRandom();
  }

  simNow(): number {
    return this.clock.now();
  }

  /** Called after any change that can alter the draw (controls, faults, thermal events). */
  attach(listener: ((m: SimMiner) => void) | null): void {
    this.#onChange = listener;
  }

  /** Cheap evaluation at sim time t (defaults to now): state, draw and hashrate only. */
  sample(t: number = this.clock.now()): MinerSample {
    return this.#evaluate(t);
  }

  observe(): SimObservation {
    return this.observeAt(this.clock.now());
  }

  observeAt(t: number): SimObservation {
    const s = this.#evaluate(t);
    const { id } = this;
    const load = s.powerW / id.nameplateW;
    const hashing = s.hashrateThs > 0;
    const chipBase = s.inletC + (s.state === 'offline' ? 0 : this.limits.chipRiseC * load);
    // the 5-second hashrate wobbles ±2 % around the true rate, changing every 5 sim seconds
    const wobble = hashing ? 1 + 0.04 * (unit(mix32(this.#noiseSeed ^ Math.floor(t / 5000))) - 0.5) : 0;
    const ths5s = s.hashrateThs * wobble;
    const boards: SimBoard[] = [];
    for (let b = 0; b < BOARDS; b++) {
      const chipTempsC: number[] = [];
      for (let k = 0; k < SENSORS_PER_BOARD; k++) {
        const off = this.#sensorOffset[b * SENSORS_PER_BOARD + k] as number;
        chipTempsC.push(round1(s.inletC + (chipBase - s.inletC) * (1 + off)));
      }
      boards.push({
        index: b,
        hashrateThs: round3(ths5s * (this.#boardShare[b] as number)),
        chips: this.chipsPerBoard,
        chipTempsC,
        boardTempC: round1(s.inletC + (chipBase - s.inletC) * 0.65),
      });
    }
    const fans = this.#fans(s, chipBase);
    const uptimeS = s.state === 'offline' ? 0 : Math.max(0, Math.floor((t - this.#uptimeStart) / 1000));
    const accepted = Math.floor(this.#integralThsS * SHARES_PER_TH_S);
    const reasons: string[] = [];
    if (s.throttle < 1)
      reasons.push(
        `throttled to ${Math.round(s.throttle * 100)} %: inlet ${round1(s.inletC)} °C above ${this.limits.throttleC} °C`,
      );
    const ph = this.#phase;
    if (ph.kind === 'fault') reasons.push(ph.reason);
    if (ph.kind === 'offline') reasons.push('rebooting');
    return {
      state: s.state,
      powerW: round1(s.powerW),
      hashrateThs: round3(ths5s),
      hashrateAvgThs: round3(uptimeS > 0 ? this.#integralThsS / uptimeS : 0),
      boards,
      fans,
      uptimeS,
      profile: this.#targetW === null ? this.#profile : null,
      powerTargetW: this.#targetW,
      powerPercent: this.#percent,
      ambientC: this.env.ambientC,
      accepted,
      rejected: Math.floor(accepted * this.#rejectRate),
      rampRemainingS: Math.ceil(s.rampRemainingS),
      reasons,
    };
  }

  // ------------------------------------------------------------------ controls
  //
  // Each control records in the change log (when the miner has one) either the change it made or
  // a no-op. `via` says how the command came: protocol servers call the controls without it
  // ('protocol'); the simulator's control API and fault injection pass 'control'. Invalid
  // arguments (an unknown profile, a target out of bounds) are neither.

  sleep(via: ChangeVia = 'protocol'): void {
    if (this.#ignores('sleep', via)) return;
    const t = this.clock.now();
    const s = this.#evaluate(t);
    const ph = this.#phase;
    if (ph.kind === 'sleep') return this.#noop('sleep', via);
    if (ph.kind === 'offline') {
      // rebooting: it will come up asleep instead of hashing
      if (ph.next === 'sleep') return this.#noop('sleep', via);
      this.#phase = { ...ph, next: 'sleep' };
      this.#record('sleep', via);
      return;
    }
    this.#setPhase({ kind: 'sleep', since: t, fromW: s.powerW }, t);
    this.#retune = null;
    this.#record('sleep', via);
    this.#changed();
  }

  wake(via: ChangeVia = 'protocol'): void {
    if (this.#ignores('wake', via)) return;
    const t = this.clock.now();
    const s = this.#evaluate(t);
    const ph = this.#phase;
    if (ph.kind === 'offline') {
      // rebooting: it will come up hashing instead of asleep
      if (ph.next === 'run') return this.#noop('wake', via);
      this.#phase = { ...ph, next: 'run' };
      this.#record('wake', via);
      return;
    }
    // running, ramping: nothing to do; fault: it restarts by itself once cool enough
    if (ph.kind !== 'sleep') return this.#noop('wake', via);
    this.#startRamp(t, s.powerW, this.timing.wakeSeconds * 1000);
    this.#record('wake', via);
    this.#changed();
  }

  setProfile(name: string, via: ChangeVia = 'protocol'): string | null {
    const p = this.id.profiles.find((x) => x.name === name);
    if (!p)
      return `unknown profile "${name}" (this miner has ${this.id.profiles.map((x) => x.name).join(', ')})`;
    if (this.#ignores('profile', via)) return null;
    if (this.#profile === name && this.#targetW === null) {
      this.#noop('profile', via);
      return null;
    }
    this.#applySettings('profile', via, () => {
      this.#profile = name;
      this.#targetW = null;
    });
    return null;
  }

  setPowerTarget(watts: number, via: ChangeVia = 'protocol'): string | null {
    const { min, max } = this.id.powerTargetBoundsW;
    if (typeof watts !== 'number' || !Number.isFinite(watts)) return 'power target must be a number of watts';
    if (watts < min || watts > max) return `power target ${watts} W is outside [${min}, ${max}] W`;
    if (this.#ignores('power-target', via)) return null;
    if (this.#targetW === watts) {
      this.#noop('power-target', via);
      return null;
    }
    this.#applySettings('power-target', via, () => {
      this.#targetW = watts;
    });
    return null;
  }

  setPowerPercent(percent: number, via: ChangeVia = 'protocol'): string | null {
    if (typeof percent !== 'number' || !Number.isFinite(percent) || percent < 0 || percent > 100)
      return `power percent must be between 0 and 100, got ${String(percent)}`;
    if (this.#ignores('power-percent', via)) return null;
    if (this.#percent === percent) {
      this.#noop('power-percent', via);
      return null;
    }
    this.#applySettings('power-percent', via, () => {
      this.#percent = percent;
    });
    return null;
  }

  reboot(via: ChangeVia = 'protocol'): void {
    if (this.#ignores('reboot', via)) return;
    const t = this.clock.now();
    this.#evaluate(t);
    const ph = this.#phase;
    if (ph.kind === 'offline') return this.#noop('reboot', via);
    this.#goOffline(t, ph.kind === 'sleep' ? 'sleep' : 'run');
    this.#record('reboot', via);
    this.#changed();
  }

  /**
   * Sets or clears the miner's fault (see SimFault). Idempotent. Setting 'reboot' on a miner that
   * is not already offline is recorded as a `reboot` change via `control`; other faults change how
   * the miner answers, not what it does, and are not recorded.
   */
  setFault(fault: SimFault | null): void {
    if (fault === this.#fault) return;
    const t = this.clock.now();
    const s = this.#evaluate(t);
    const prev = this.#fault;
    this.#fault = fault;
    const ph = this.#phase;
    if (fault === 'reboot') {
      if (ph.kind !== 'offline') {
        this.#goOffline(t, 'run');
        this.#record('reboot', 'control');
      } else this.#phase = { ...ph, next: 'run' };
    } else if (fault === 'stuck-ramp' && ph.kind === 'ramp' && ph.stuckAt === null) {
      // freeze where it is now
      ph.stuckAt = clamp01((t - ph.since) / ph.durationMs);
    }
    if (prev === 'stuck-ramp' && fault !== 'stuck-ramp' && ph.kind === 'ramp' && ph.stuckAt !== null) {
      // let it finish the rest of the ramp
      this.#setPhase(
        {
          kind: 'ramp',
          since: t,
          fromW: s.powerW,
          durationMs: Math.max(1000, (1 - ph.stuckAt) * this.timing.wakeSeconds * 1000),
          stuckAt: null,
        },
        t,
      );
    }
    this.#changed();
  }

  // ------------------------------------------------------------------ internals

  #applySettings(kind: ChangeKind, via: ChangeVia, change: () => void): void {
    const t = this.clock.now();
    const s = this.#evaluate(t);
    const fromW = s.powerW;
    const fromThs = s.hashrateThs;
    change();
    this.#recomputeBase();
    if (this.#phase.kind === 'run') {
      this.#retune = { since: t, until: t + this.timing.retuneSeconds * 1000, fromW, fromThs };
    }
    this.#record(kind, via);
    this.#changed();
  }

  #record(kind: ChangeKind, via: ChangeVia): void {
    this.#changes?.record(this.id.farmHost, kind, via);
  }

  #noop(kind: ChangeKind, via: ChangeVia): void {
    this.#changes?.noop(this.id.farmHost, kind, via);
  }

  /** Under 'ignore-commands' a command over the wire is acknowledged and does nothing (a no-op). */
  #ignores(kind: ChangeKind, via: ChangeVia): boolean {
    if (this.#fault !== 'ignore-commands' || via !== 'protocol') return false;
    this.#noop(kind, via);
    return true;
  }

  #recomputeBase(): void {
    const profile = this.id.profiles.find((p) => p.name === this.#profile) ?? this.id.profiles[0];
    let w = this.#targetW ?? profile?.powerW ?? 0;
    let ths = this.#targetW === null ? (profile?.hashrateThs ?? 0) : this.curve.hashrateAt(w);
    if (this.#percent !== null && this.#percent !== 100) {
      w = Math.max(this.id.powerTargetBoundsW.min, (w * this.#percent) / 100);
      ths = this.curve.hashrateAt(w);
    }
    this.#baseW = w;
    this.#baseThs = ths;
  }

  #startRamp(t: number, fromW: number, durationMs: number): void {
    this.#setPhase(
      {
        kind: 'ramp',
        since: t,
        fromW,
        durationMs: Math.max(1, durationMs),
        stuckAt: this.#fault === 'stuck-ramp' ? this.#stuckFraction : null,
      },
      t,
    );
    this.#retune = null;
    this.#resetUptime(t);
  }

  /**
   * Switches phase at sim time `at`, keeping the previous one: a sample computed late for a time
   * before the switch (the sampler runs a few real milliseconds behind) still sees the old phase.
   */
  #setPhase(next: Phase, at: number): void {
    this.#prev = this.#phase;
    this.#phaseStart = at;
    this.#phase = next;
  }

  #goOffline(t: number, next: 'run' | 'sleep'): void {
    this.#setPhase({ kind: 'offline', since: t, until: t + this.timing.rebootSeconds * 1000, next }, t);
    this.#retune = null;
  }

  #resetUptime(t: number): void {
    this.#uptimeStart = t;
    this.#integralThsS = 0;
    this.#lastT = t;
    this.#lastThs = 0;
  }

  #changed(): void {
    this.#onChange?.(this);
  }

  /** Scheduled transitions and thermal protection up to time t, then the state at t. */
  #evaluate(t: number): MinerSample {
    if (t >= this.#lastT) this.#advance(t);
    const s = this.#compute(t);
    if (t > this.#lastT) {
      this.#integralThsS += ((this.#lastThs + s.hashrateThs) / 2) * ((t - this.#lastT) / 1000);
      this.#lastT = t;
      this.#lastThs = s.hashrateThs;
    }
    return s;
  }

  #advance(t: number): void {
    let ph = this.#phase;
    let changed = false;
    if (ph.kind === 'offline' && t >= ph.until) {
      const at = ph.until;
      if (this.#fault === 'reboot') this.#fault = null;
      if (ph.next === 'run') {
        this.#setPhase({ kind: 'run' }, at);
        this.#resetUptime(at);
      } else {
        this.#setPhase({ kind: 'sleep', since: -Infinity, fromW: this.id.sleepW }, at);
      }
      changed = true;
    }
    ph = this.#phase;
    if (ph.kind === 'ramp' && ph.stuckAt === null && t >= ph.since + ph.durationMs) {
      this.#setPhase({ kind: 'run' }, ph.since + ph.durationMs);
      changed = true;
    }
    if (this.#retune && t >= this.#retune.until) this.#retune = null;
    ph = this.#phase;
    const inlet = this.#inlet();
    if ((ph.kind === 'run' || ph.kind === 'ramp') && inlet >= this.limits.shutdownC) {
      const fromW = this.#compute(t).powerW;
      this.#setPhase(
        {
          kind: 'fault',
          since: t,
          fromW,
          reason: `thermal shutdown: inlet ${round1(inlet)} °C at or above ${this.limits.shutdownC} °C`,
        },
        t,
      );
      this.#retune = null;
      changed = true;
    } else if (ph.kind === 'fault' && inlet < this.limits.shutdownC - this.limits.resumeHysteresisC) {
      const fromW = this.#compute(t).powerW;
      this.#startRamp(t, fromW, this.timing.wakeSeconds * 1000);
      changed = true;
    }
    if (changed) this.#changed();
  }

  #inlet(): number {
    return this.env.inletC + this.#inletOffset;
  }

  /**
   * Pure: the miner's state at t under the current phase, settings and environment (or the
   * previous phase when t is before the switch; never "steady" then, so a fleet aggregate keeps
   * evaluating the miner until its samples reach the current phase).
   */
  #compute(t: number): MinerSample {
    const late = t < this.#phaseStart && this.#prev !== null;
    const o = this.#computePhase(late ? (this.#prev as Phase) : this.#phase, t);
    if (late) o.steady = false;
    return o;
  }

  #computePhase(ph: Phase, t: number): MinerSample {
    const o = this.#out;
    const inlet = this.#inlet();
    o.inletC = inlet;
    o.throttle = 1;
    o.rampRemainingS = 0;
    const sleepW = this.id.sleepW;
    switch (ph.kind) {
      case 'run': {
        this.#steady(inlet, o);
        o.state = 'hashing';
        o.steady = true;
        const r = this.#retune;
        if (r && t < r.until) {
          const f = clamp01((t - r.since) / (r.until - r.since));
          o.powerW = r.fromW + (o.powerW - r.fromW) * f;
          o.hashrateThs = r.fromThs + (o.hashrateThs - r.fromThs) * f;
          o.steady = false;
          o.rampRemainingS = (r.until - t) / 1000;
        }
        return o;
      }
      case 'ramp': {
        this.#steady(inlet, o);
        let p = clamp01((t - ph.since) / ph.durationMs);
        if (ph.stuckAt !== null) p = Math.min(p, ph.stuckAt);
        o.state = 'ramping';
        o.powerW = ph.fromW + (o.powerW - ph.fromW) * p;
        o.hashrateThs = o.hashrateThs * clamp01((p - BOOT_FRACTION) / (1 - BOOT_FRACTION));
        o.steady = ph.stuckAt !== null && p >= ph.stuckAt;
        o.rampRemainingS =
          ph.stuckAt === null
            ? Math.max(0, ph.since + ph.durationMs - t) / 1000
            : Math.max(1, ((1 - ph.stuckAt) * ph.durationMs) / 1000);
        return o;
      }
      case 'sleep':
      case 'fault': {
        const f = ph.since === -Infinity ? 1 : clamp01((t - ph.since) / (this.timing.sleepSeconds * 1000));
        o.state = ph.kind === 'sleep' ? 'sleeping' : 'fault';
        o.powerW = ph.fromW + (sleepW - ph.fromW) * f;
        o.hashrateThs = 0;
        o.steady = f >= 1;
        return o;
      }
      case 'offline': {
        o.state = 'offline';
        o.powerW = sleepW;
        o.hashrateThs = 0;
        o.steady = false;
        o.rampRemainingS = Math.max(0, (ph.until - t) / 1000);
        return o;
      }
    }
  }

  /** Steady running draw and hashrate at an inlet temperature, into o. */
  #steady(inlet: number, o: MinerSample): void {
    let w = this.#baseW;
    let ths = this.#baseThs;
    if (inlet > this.limits.throttleC) {
      const f = Math.max(THROTTLE_FLOOR, 1 - THROTTLE_PER_C * (inlet - this.limits.throttleC));
      o.throttle = f;
      w *= f;
      ths = this.curve.hashrateAt(w);
    }
    o.powerW = w * (1 + DRAW_PER_C * (inlet - REFERENCE_INLET_C)) * (1 + this.#powerOffset);
    o.hashrateThs = ths * (1 + this.#hashOffset);
  }

  #fans(s: MinerSample, chipC: number): number[] {
    let rpm: number;
    if (s.state === 'offline') rpm = 6000;
    else if (s.state === 'fault') rpm = 6600;
    else if (s.state === 'sleeping') rpm = 1000;
    else rpm = Math.min(6600, Math.max(2400, 2400 + (chipC - 50) * 140));
    return this.#fanOffset.map((o) => Math.round((rpm * (1 + o)) / 10) * 10);
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
