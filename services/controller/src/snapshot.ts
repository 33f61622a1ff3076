// The edges of the control cycle's snapshot: what the poller saw and what the signal hub holds,
// turned into the planner's input types. Unknown stays unknown: a missing or lost signal becomes
// a value the planner's staleness rules treat as the worst case, never a guess.
import type { FleetObservation, PlannerSignals, SignalValue } from '@switchyard/domain';
import type { FleetAggregate } from '@switchyard/miners';
import type { CurrentSignal, CurrentSignals } from '@switchyard/signals';

/** Age given to a signal that has never been read: beyond every staleness limit. */
export const NEVER_SEEN_AGE_SECONDS = 10 * 365 * 86_400;

/**
 * Fleet observations from a poll. Miners not read within `staleAfterMs` of `now` count as stale
 * (the planner holds them at nameplate and does not control them).
 */
export function fleetObservationsFromPoll(
  fleets: readonly FleetAggregate[],
  polledAt: Date,
  now: Date,
  staleAfterMs: number,
): Record<string, FleetObservation> {
  const stale = now.getTime() - polledAt.getTime() > staleAfterMs;
  const out: Record<string, FleetObservation> = {};
  for (const f of fleets) {
    if (stale) {
      out[f.fleet] = {
        hashing: 0,
        sleeping: 0,
        ramping: 0,
        fault: 0,
        offline: 0,
        stale: f.miners,
        byProfile: {},
        measuredKw: null,
      };
      continue;
    }
    const { measured, estimated, nameplate } = f.powerKwBySource;
    out[f.fleet] = {
      hashing: f.byState.hashing,
      sleeping: f.byState.sleeping,
      ramping: f.byState.ramping,
      fault: f.byState.fault,
      offline: f.byState.offline,
      stale: 0,
      byProfile: { ...f.byProfile },
      // Only a fleet whose every miner reports measured power has a metered total.
      measuredKw: estimated === 0 && nameplate === 0 && measured > 0 ? measured : null,
    };
  }
  return out;
}

function toSignalValue(c: CurrentSignal | undefined): SignalValue | undefined {
  if (!c) return undefined;
  if (c.value === null)
    return { value: 0, source: c.source, ageSeconds: NEVER_SEEN_AGE_SECONDS, stale: true };
  return {
    value: c.value,
    source: c.source,
    ageSeconds: c.assumeWorst ? NEVER_SEEN_AGE_SECONDS : (c.ageSeconds ?? NEVER_SEEN_AGE_SECONDS),
    stale: c.stale || c.assumeWorst,
  };
}

const missing = (name: string): SignalValue => ({
  value: 0,
  source: `missing:${name}`,
  ageSeconds: NEVER_SEEN_AGE_SECONDS,
  stale: true,
});

/** The planner's signals from the hub's current values (series keys as the hub names them). */
export function plannerSignalsFromHub(
  current: CurrentSignals,
  site: string,
  gpuModel?: string,
): PlannerSignals {
  const get = (key: string) => toSignalValue(current[key]);
  const gpu = (gpuModel ? get(`gpu_usd_per_gpu_hour:${gpuModel}`) : undefined) ?? get('gpu_usd_per_gpu_hour');
  const ambient = get(`ambient_c:${site}`) ?? get('ambient_c');
  return {
    btcUsd: get('btc_usd') ?? missing('btc_usd'),
    difficulty: get('difficulty') ?? missing('difficulty'),
    feesBtcPerBlock: get('fees_btc_per_block') ?? missing('fees_btc_per_block'),
    subsidyBtc: get('subsidy_btc'),
    hashpriceUsdPerThDay: get('hashprice_usd_per_th_day'),
    energyUsdPerMwh: get('energy_usd_per_mwh') ?? missing('energy_usd_per_mwh'),
    gpuUsdPerGpuHour: gpu,
    ambientC: ambient ? { [site]: ambient } : undefined,
  };
}
