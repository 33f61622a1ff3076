// Turning a poll's fleet aggregates into stored observation rows.
import type { FleetAggregate } from './fleet-poller.ts';

export function dominantPowerSource(a: FleetAggregate): string {
  const { measured, estimated, nameplate } = a.powerKwBySource;
  const total = measured + estimated + nameplate;
  if (total === 0) return 'none';
  for (const [name, v] of [
    ['measured', measured],
    ['estimated', estimated],
    ['nameplate', nameplate],
  ] as const) {
    if (v / total >= 0.999) return name;
  }
  return 'mixed';
}

export function toObservationRows(aggs: readonly FleetAggregate[]) {
  return aggs.map((a) => ({
    site: a.site,
    fleet: a.fleet,
    byState: { ...a.byState },
    hashrateThs: a.hashrateThs,
    powerKw: a.powerKw,
    powerSource: dominantPowerSource(a),
    maxChipTempC: a.maxChipTempC,
    degraded: a.degraded,
  }));
}
