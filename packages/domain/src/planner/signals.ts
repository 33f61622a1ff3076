// Turning signals into the prices a plan uses. A value older than its hard staleness limit is
// not used: energy is taken at the contract's price cap and hashprice at zero, so the planner
// errs towards shedding, and the plan says so in its warnings.
import type { Site } from '../farm/resource-schema.ts';
import { hashpriceUsdPerThDay, subsidyAt } from '../economics/economics.ts';
import {
  DEFAULT_PRICE_CAP_USD_PER_MWH,
  DEFAULT_STALENESS,
  WORST_CASE_AMBIENT_C,
} from './planner-constants.ts';
import { num, usdPerMwh } from './format.ts';
import type { PlannerSignals, SignalValue, StalenessLimits } from './types.ts';

export interface ResolvedPrices {
  energyUsdPerMwh: number;
  hashpriceUsdPerThDay: number;
  gpuUsdPerGpuHour: number | null;
  /** Ambient for the site's cooling derates; null when no zone derates or none was given. */
  ambientC: number | null;
  warnings: string[];
}

type Freshness = 'fresh' | 'soft-stale' | 'hard-stale' | 'missing';

function freshness(s: SignalValue | undefined, limitSeconds: number): Freshness {
  if (!s || !Number.isFinite(s.value) || !Number.isFinite(s.ageSeconds)) return 'missing';
  if (s.ageSeconds > limitSeconds) return 'hard-stale';
  return s.stale ? 'soft-stale' : 'fresh';
}

function age(s: SignalValue): string {
  return `${num(s.ageSeconds)} s old`;
}

export function resolvePrices(
  site: Site,
  signals: PlannerSignals,
  now: number,
  limitsIn: Partial<StalenessLimits> | undefined,
): ResolvedPrices {
  const limits = { ...DEFAULT_STALENESS, ...limitsIn };
  const warnings: string[] = [];
  const soft = (label: string, s: SignalValue) =>
    warnings.push(`${label} from ${s.source} is ${age(s)} (stale at the source); using it`);

  // Energy: a fixed contract ignores the market; otherwise the signal, or the cap when it is lost.
  const contract = site.spec.energyContract;
  const cap = contract?.priceCapUsdPerMwh ?? DEFAULT_PRICE_CAP_USD_PER_MWH;
  let energy: number;
  if (contract?.pricing === 'fixed' && contract.fixedUsdPerMwh !== undefined) {
    energy = contract.fixedUsdPerMwh;
  } else {
    const e = signals.energyUsdPerMwh;
    const f = freshness(e, limits.energySeconds);
    if (f === 'hard-stale' || f === 'missing') {
      energy = cap;
      warnings.push(
        `energy price ${f === 'missing' ? 'is missing' : `from ${e.source} is ${age(e)} (limit ${limits.energySeconds} s)`}: assuming the price cap ${usdPerMwh(cap)}`,
      );
    } else {
      energy = e.value;
      if (f === 'soft-stale') soft('energy price', e);
    }
  }

  const hashprice = resolveHashprice(signals, now, limits, warnings, soft);

  let gpu: number | null = null;
  const g = signals.gpuUsdPerGpuHour;
  if (g) {
    const f = freshness(g, limits.gpuPriceSeconds);
    if (f === 'fresh' || f === 'soft-stale') gpu = g.value;
    if (f === 'hard-stale') warnings.push(`GPU market price from ${g.source} is ${age(g)}: not used`);
  }

  let ambientC: number | null = null;
  if (site.spec.coolingZones.some((z) => z.ambientDerate && z.ambientDerate.pctPerDegreeC > 0)) {
    const a = signals.ambientC?.[site.metadata.name];
    const f = freshness(a, limits.ambientSeconds);
    if (a && (f === 'fresh' || f === 'soft-stale')) {
      ambientC = a.value;
      if (f === 'soft-stale') soft('ambient temperature', a);
    } else {
      ambientC = WORST_CASE_AMBIENT_C;
      warnings.push(
        `ambient temperature ${a ? `from ${a.source} is ${age(a)}` : 'is missing'}: derating cooling for ${WORST_CASE_AMBIENT_C} °C`,
      );
    }
  }
  return {
    energyUsdPerMwh: energy,
    hashpriceUsdPerThDay: hashprice,
    gpuUsdPerGpuHour: gpu,
    ambientC,
    warnings,
  };
}

function resolveHashprice(
  signals: PlannerSignals,
  now: number,
  limits: StalenessLimits,
  warnings: string[],
  soft: (label: string, s: SignalValue) => void,
): number {
  const hp = signals.hashpriceUsdPerThDay;
  const hpFresh = freshness(hp, limits.hashpriceSeconds);
  if (hp && (hpFresh === 'fresh' || hpFresh === 'soft-stale')) {
    if (hpFresh === 'soft-stale') soft('hashprice', hp);
    return Math.max(0, hp.value);
  }
  const parts: Array<[string, SignalValue | undefined, number]> = [
    ['BTC price', signals.btcUsd, limits.btcUsdSeconds],
    ['difficulty', signals.difficulty, limits.difficultySeconds],
    ['fees per block', signals.feesBtcPerBlock, limits.feesSeconds],
  ];
  if (signals.subsidyBtc) parts.push(['subsidy', signals.subsidyBtc, limits.difficultySeconds]);
  const lost = parts.filter(([, s, l]) => {
    const f = freshness(s, l);
    return f === 'hard-stale' || f === 'missing';
  });
  if (lost.length > 0 || !(signals.difficulty.value > 0)) {
    const what = lost.map(([n, s]) => (s ? `${n} (${s.source}, ${age(s)})` : `${n} (missing)`)).join(', ');
    warnings.push(
      `hashprice cannot be derived: ${what || 'difficulty is not positive'} — assuming $0/TH/day`,
    );
    return 0;
  }
  if (hp && hpFresh === 'hard-stale')
    warnings.push(`hashprice from ${hp.source} is ${age(hp)}: derived instead`);
  for (const [n, s, l] of parts) if (freshness(s, l) === 'soft-stale' && s) soft(n, s);
  const value = hashpriceUsdPerThDay({
    difficulty: signals.difficulty.value,
    btcUsd: signals.btcUsd.value,
    feesBtcPerBlock: signals.feesBtcPerBlock.value,
    subsidyBtc: signals.subsidyBtc?.value ?? subsidyAt(new Date(now)),
  });
  return Number.isFinite(value) ? Math.max(0, value) : 0;
}
