// The thermal environment a miner sits in: its site's ambient temperature and the rise of the
// hall's air above ambient caused by the cooling zone's load. One ThermalEnv per cooling zone;
// miners read it lazily, and listeners (the fleet aggregates) hear when it changes.
import type { CoolingZone } from '@switchyard/domain';

export class ThermalEnv {
  readonly site: string;
  readonly zone: string;
  #ambientC: number;
  #zoneRiseC = 0;
  #version = 0;
  readonly #listeners = new Set<() => void>();

  constructor(site: string, zone: string, ambientC: number) {
    this.site = site;
    this.zone = zone;
    this.#ambientC = ambientC;
  }

  get ambientC(): number {
    return this.#ambientC;
  }

  /** Hall air above ambient, from the zone's load against its (derated) capacity. */
  get zoneRiseC(): number {
    return this.#zoneRiseC;
  }

  /** Air temperature at the miners' inlets. */
  get inletC(): number {
    return this.#ambientC + this.#zoneRiseC;
  }

  /** Bumped on every change; cached values computed under another version are stale. */
  get version(): number {
    return this.#version;
  }

  setAmbient(c: number): void {
    if (c === this.#ambientC) return;
    this.#ambientC = c;
    this.#changed();
  }

  setZoneRise(c: number): void {
    if (c === this.#zoneRiseC) return;
    this.#zoneRiseC = c;
    this.#changed();
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    this.#version++;
    for (const l of this.#listeners) l();
  }
}

/** A cooling zone's capacity at an ambient temperature (never below 5 % of the rating). */
export function deratedCapacityKw(zone: CoolingZone, ambientC: number): number {
  const d = zone.ambientDerate;
  if (!d) return zone.capacityKw;
  const lost = Math.max(0, ambientC - d.ratedAmbientC) * d.pctPerDegreeC;
  return zone.capacityKw * Math.max(0.05, 1 - lost / 100);
}

/** Rise of 6 °C at full capacity, steep (25 °C per capacity) once the zone is overloaded. */
export const ZONE_RISE_AT_CAPACITY_C = 6;
export const ZONE_OVERLOAD_RISE_C = 25;

/** Hall air rise above ambient for a zone load, rounded to 0.1 °C (so small load wobbles are no change). */
export function zoneRiseC(loadKw: number, capacityKw: number): number {
  const f = capacityKw > 0 ? Math.max(0, loadKw) / capacityKw : 0;
  const rise =
    f <= 1 ? ZONE_RISE_AT_CAPACITY_C * f : ZONE_RISE_AT_CAPACITY_C + ZONE_OVERLOAD_RISE_C * (f - 1);
  return Math.round(rise * 10) / 10;
}
