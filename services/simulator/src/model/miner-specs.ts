// Per-model facts the physical model needs beyond the farm model's profiles: thermal limits,
// chips per board, firmware strings, default credentials, and the efficiency curve that turns a
// power level into a hashrate. Figures are approximate public numbers; see docs/simulator.md.
import type { MinerDriverName, PowerProfile } from '@switchyard/domain';
import { normalizeModelName } from '@switchyard/domain';

export interface ThermalLimits {
  /** Inlet (ambient + hall) temperature above which the miner underclocks. */
  throttleC: number;
  /** Inlet temperature at or above which it stops hashing ('fault'). */
  shutdownC: number;
  /** It restarts (with a wake ramp) once the inlet is back below shutdownC − this. */
  resumeHysteresisC: number;
  /** Chip temperature above inlet at nameplate draw. */
  chipRiseC: number;
}

const S21_LIMITS: ThermalLimits = { throttleC: 40, shutdownC: 47, resumeHysteresisC: 3, chipRiseC: 42 };
const S19_LIMITS: ThermalLimits = { throttleC: 38, shutdownC: 45, resumeHysteresisC: 3, chipRiseC: 45 };
const MICROBT_LIMITS: ThermalLimits = { throttleC: 40, shutdownC: 46, resumeHysteresisC: 3, chipRiseC: 48 };
const DEFAULT_LIMITS: ThermalLimits = { throttleC: 40, shutdownC: 45, resumeHysteresisC: 3, chipRiseC: 45 };

const THERMAL: Record<string, ThermalLimits> = {
  s21: S21_LIMITS,
  s21pro: S21_LIMITS,
  s19pro: S19_LIMITS,
  s19jpro: S19_LIMITS,
  s19xp: S19_LIMITS,
  s19kpro: S19_LIMITS,
  'm30s++': MICROBT_LIMITS,
  m50s: MICROBT_LIMITS,
  m60s: MICROBT_LIMITS,
};

export function thermalLimitsFor(model: string): ThermalLimits {
  return THERMAL[normalizeModelName(model)] ?? DEFAULT_LIMITS;
}

const CHIPS_PER_BOARD: Record<string, number> = {
  s19pro: 114,
  s19jpro: 126,
  s19xp: 110,
  s19kpro: 77,
  s21: 108,
  s21pro: 65,
  'm30s++': 111,
  m50s: 156,
  m60s: 111,
};

export function chipsPerBoard(model: string): number {
  return CHIPS_PER_BOARD[normalizeModelName(model)] ?? 100;
}

export const FIRMWARE_VERSIONS: Readonly<Record<MinerDriverName, string>> = {
  antminer: '2023.11.17.173749',
  luxos: '2024.10.15.163031-c8a1a8d',
  braiins: '25.07',
  whatsminer: '20240520.16.REL',
};

/** What each simulated firmware accepts unless the simulator is told otherwise. */
export const DEFAULT_CREDENTIALS: Readonly<Record<MinerDriverName, { username: string; password: string }>> =
  {
    antminer: { username: 'root', password: 'root' },
    luxos: { username: 'root', password: 'root' },
    braiins: { username: 'root', password: 'root' },
    whatsminer: { username: 'admin', password: 'admin' },
  };

/** Relative J/TH change per unit of relative power, used beyond the profiles' range. */
const UNDERCLOCK_SLOPE = 0.32; // 75 % power → 8 % better J/TH, as the model table assumes
const OVERCLOCK_SLOPE = 0.5; // 110 % power → 5 % worse J/TH

/**
 * Hashrate at a power level, from the profiles (sorted by power): linear between profiles,
 * and beyond them J/TH keeps falling as power falls (floor: 60 % of the lowest profile's J/TH)
 * and rising as power rises.
 */
export class EfficiencyCurve {
  readonly points: ReadonlyArray<{ w: number; ths: number }>;
  readonly #lowSlope: number; // d(J/TH)/dW below the lowest profile
  readonly #highSlope: number; // d(J/TH)/dW above the top profile

  constructor(profiles: readonly PowerProfile[]) {
    if (profiles.length === 0) throw new Error('a miner needs at least one power profile');
    const pts = [...profiles]
      .sort((a, b) => a.powerW - b.powerW)
      .map((p) => ({ w: p.powerW, ths: p.hashrateThs }));
    this.points = pts;
    const first = pts[0] as { w: number; ths: number };
    const last = pts[pts.length - 1] as { w: number; ths: number };
    const j = (p: { w: number; ths: number }) => p.w / p.ths;
    const second = pts[1];
    const beforeLast = pts[pts.length - 2];
    const low = second && second.w > first.w ? (j(second) - j(first)) / (second.w - first.w) : 0;
    this.#lowSlope = low > 0 ? low : (UNDERCLOCK_SLOPE * j(first)) / first.w;
    const high =
      beforeLast && last.w > beforeLast.w ? (j(last) - j(beforeLast)) / (last.w - beforeLast.w) : 0;
    this.#highSlope = high > 0 ? high : (OVERCLOCK_SLOPE * j(last)) / last.w;
  }

  hashrateAt(w: number): number {
    const pts = this.points;
    if (w <= 0) return 0;
    const first = pts[0] as { w: number; ths: number };
    const last = pts[pts.length - 1] as { w: number; ths: number };
    if (w < first.w) {
      const j0 = first.w / first.ths;
      const jth = Math.max(j0 * 0.6, j0 - (first.w - w) * this.#lowSlope);
      return w / jth;
    }
    if (w > last.w) {
      const j1 = last.w / last.ths;
      return w / (j1 + (w - last.w) * this.#highSlope);
    }
    for (let i = 1; i < pts.length; i++) {
      const a = pts[i - 1] as { w: number; ths: number };
      const b = pts[i] as { w: number; ths: number };
      if (w <= b.w) {
        const f = b.w === a.w ? 1 : (w - a.w) / (b.w - a.w);
        return a.ths + (b.ths - a.ths) * f;
      }
    }
    return last.ths;
  }
}

/** Power-target bounds: from 60 % of the lowest profile up to the nameplate. */
export function powerTargetBounds(profiles: readonly PowerProfile[], nameplateW: number) {
  const lowest = Math.min(...profiles.map((p) => p.powerW));
  return { min: Math.round(lowest * 0.6), max: Math.round(nameplateW) };
}
