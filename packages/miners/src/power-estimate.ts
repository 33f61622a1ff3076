// Power estimates for firmwares that report no power (stock Antminer), or when a power reading
// is missing. An estimate scales the reference profile's draw with the hashrate actually
// delivered; it is always labelled 'estimated' (or 'nameplate' for the worst case), never
// 'measured'.
import { findMinerModel } from '@switchyard/domain';
import type { PowerProfile } from '@switchyard/domain';
import type { MinerState, PowerSource } from './telemetry.ts';

export interface PowerReference {
  /** The model's (or fleet's) profiles, lowest power first. */
  profiles: readonly PowerProfile[];
  /** Worst-case draw; used for faulted miners. */
  nameplateW: number | null;
  /** Draw while asleep. */
  sleepW: number | null;
}

export interface PowerReferenceOptions {
  profiles?: readonly PowerProfile[] | undefined;
  nameplateW?: number | undefined;
  sleepW?: number | undefined;
}

/** Reference figures from explicit options, else from the known model table. */
export function powerReference(model: string | null, opts: PowerReferenceOptions): PowerReference {
  const known = model ? findMinerModel(model) : undefined;
  const profiles = [...(opts.profiles ?? known?.profiles ?? [])].sort((a, b) => a.powerW - b.powerW);
  const top = profiles[profiles.length - 1];
  return {
    profiles,
    nameplateW: opts.nameplateW ?? known?.nameplateW ?? top?.powerW ?? null,
    sleepW: opts.sleepW ?? known?.sleepW ?? null,
  };
}

/**
 * The profile a miner is running: by name when known, else the lowest for a low-power mode,
 * else the one whose hashrate is nearest the firmware's ideal hashrate, else "normal", else the
 * highest.
 */
export function pickProfile(
  ref: PowerReference,
  hint: { name?: string | null; lowest?: boolean; idealThs?: number | null },
): PowerProfile | null {
  const ps = ref.profiles;
  if (ps.length === 0) return null;
  if (hint.name) {
    const byName = ps.find((p) => p.name === hint.name);
    if (byName) return byName;
  }
  if (hint.lowest) return ps[0] ?? null;
  if (hint.idealThs !== null && hint.idealThs !== undefined && hint.idealThs > 0) {
    const ideal = hint.idealThs;
    return ps.reduce((best, p) =>
      Math.abs(p.hashrateThs - ideal) < Math.abs(best.hashrateThs - ideal) ? p : best,
    );
  }
  return ps.find((p) => p.name === 'normal') ?? ps[ps.length - 1] ?? null;
}

export interface PowerEstimate {
  powerW: number | null;
  powerSource: PowerSource | null;
}

/** Estimated draw for a miner in `state` delivering `hashrateThs` on `profile`. */
export function estimatePower(
  state: MinerState,
  hashrateThs: number | null,
  profile: PowerProfile | null,
  ref: PowerReference,
  idealThs: number | null = null,
): PowerEstimate {
  if (state === 'offline') return { powerW: null, powerSource: null };
  if (state === 'sleeping') {
    return ref.sleepW === null
      ? { powerW: null, powerSource: null }
      : { powerW: ref.sleepW, powerSource: 'estimated' };
  }
  if (state === 'fault') {
    // Unknown means worst case.
    return ref.nameplateW === null
      ? { powerW: null, powerSource: null }
      : { powerW: ref.nameplateW, powerSource: 'nameplate' };
  }
  const basis =
    profile ??
    (ref.nameplateW !== null && idealThs !== null && idealThs > 0
      ? { name: 'nameplate', powerW: ref.nameplateW, hashrateThs: idealThs }
      : null);
  if (basis === null || hashrateThs === null) {
    return ref.nameplateW === null
      ? { powerW: null, powerSource: null }
      : { powerW: ref.nameplateW, powerSource: 'nameplate' };
  }
  const idle = Math.min(ref.sleepW ?? 0, basis.powerW);
  const ratio = Math.min(Math.max(hashrateThs / basis.hashrateThs, 0), 1.2);
  return { powerW: Math.round(idle + (basis.powerW - idle) * ratio), powerSource: 'estimated' };
}

/** J/TH when both figures are positive; null otherwise. */
export function efficiencyJth(powerW: number | null, hashrateThs: number | null): number | null {
  if (powerW === null || hashrateThs === null || powerW <= 0 || hashrateThs <= 0.01) return null;
  return Math.round((powerW / hashrateThs) * 100) / 100;
}
