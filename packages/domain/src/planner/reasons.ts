// Reasons in words with numbers. Each function looks at the view (prices, breakevens, limits)
// and the decided loads and says why a change happened, e.g.
// "energy $212/MWh > breakeven $96/MWh + hysteresis $5/MWh".
import { fleetStepValue } from './greedy.ts';
import { isoMinute, kw, num, usd, usdPerMwh } from './format.ts';
import type { Override } from './types.ts';
import type { Cap, FleetVar, OrderVar, PlanView, PoolVar } from './view-types.ts';

export interface LoadState {
  loads: number[];
  /** capKw − load per cap. */
  headroom: number[];
}

export function overrideText(o: Override, mode: string): string {
  const who = o.by ? ` by ${o.by}` : '';
  const why = o.reason ? ` (${o.reason})` : '';
  return `override ${o.id}${who}: pinned ${mode} until ${isoMinute(o.endsAt)}${why}`;
}

/** "grid dispatch d-1 holds the site under 30,000 kW until …: 34,200 kW at the lowest locked load". */
export function forcedText(view: PlanView, cap: Cap): string {
  const isSite = cap.kind === 'site';
  const load = isSite ? cap.forcedLoadKw * view.pue : cap.forcedLoadKw;
  return `hard limit: ${cap.text}; ${kw(load)}${isSite ? ' facility load' : ''} even with dwell, cycle and pin limits kept`;
}

/** The first cap among `caps` with less room than `unitKw` (a full limit), site-wide last. */
export function fullCap(view: PlanView, caps: readonly number[], unitKw: number, st: LoadState): Cap | null {
  let best: Cap | null = null;
  for (const i of caps) {
    const c = view.caps[i] as Cap;
    if ((st.headroom[i] as number) >= unitKw - 1e-9) continue;
    if (!best || rank(c) < rank(best)) best = c;
  }
  return best;
}

function rank(c: Cap): number {
  return c.kind === 'node' ? 100 - c.depth : c.kind === 'zone' ? 200 : c.kind === 'ramp' ? 300 : 250;
}

export function fullText(view: PlanView, c: Cap, st: LoadState): string {
  const site = c.kind === 'site' || c.kind === 'ramp';
  const load = (st.loads[c.index] as number) * (site ? view.pue : 1);
  return `${c.text} is full (${kw(load)}${site ? ' facility' : ''})`;
}

/** Breakeven of state `hi` over state `lo` (whole move, $/MWh). */
export function moveBreakeven(f: FleetVar, lo: number, hi: number, pue: number): number {
  let rev = 0;
  let kwSum = 0;
  for (let s = lo; s < hi; s++) {
    rev += f.stepRevenue[s] as number;
    kwSum += f.stepKw[s] as number;
  }
  return kwSum > 0 ? (rev * 1000) / (kwSum * pue) : 0;
}

function breakevenName(f: FleetVar, lo: number, hi: number): string {
  return lo === 0 ? 'breakeven' : `breakeven of ${f.states[hi]} over ${f.states[lo]}`;
}

/** Why `n` miners of fleet f moved from state a to state b. */
export function fleetMoveReason(
  view: PlanView,
  f: FleetVar,
  a: number,
  b: number,
  cum: number[],
  st: LoadState,
): string {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  const e = view.energyUsdPerMwh;
  const band = view.policy.hysteresisUsdPerMwh;
  const be = moveBreakeven(f, lo, hi, view.pue);
  const name = breakevenName(f, lo, hi);
  if (f.pin && (b < a ? f.pin.state <= b : f.pin.state >= b))
    return overrideText(f.pin.override, f.states[f.pin.state] as string);
  if (b < a) {
    if (e > be + band)
      return `energy ${usdPerMwh(e)} > ${name} ${usdPerMwh(be)} + hysteresis ${usdPerMwh(band)}`;
    if (f.forcedBy !== null) {
      const c = fullCap(view, f.caps, f.stepKw[hi - 1] as number, st);
      const forced = forcedText(view, view.caps[f.forcedBy] as Cap);
      return c && c.index !== f.forcedBy ? `${forced}; ${fullText(view, c, st)}` : forced;
    }
    const c = fullCap(view, f.caps, f.stepKw[hi - 1] as number, st);
    if (c)
      return `${fullText(view, c, st)}: least value per kW goes first (energy ${usdPerMwh(e)} vs ${name} ${usdPerMwh(be)})`;
    return `lower value per kW than the rest of the plan (energy ${usdPerMwh(e)} vs ${name} ${usdPerMwh(be)})`;
  }
  let text =
    e < be - band
      ? `energy ${usdPerMwh(e)} < ${name} ${usdPerMwh(be)} − hysteresis ${usdPerMwh(band)}`
      : `restores the target (energy ${usdPerMwh(e)} vs ${name} ${usdPerMwh(be)})`;
  text += heldBack(view, f, hi - 1, cum, st);
  return text;
}

/** "; 120 more held back: pdu-1a3 … is full" when a profitable step stopped short. */
function heldBack(view: PlanView, f: FleetVar, s: number, cum: number[], st: LoadState): string {
  const x = cum[s] as number;
  const top = Math.min(f.hi[s] as number, s === 0 ? f.controllable : (cum[s - 1] as number));
  if (x >= f.controllable || fleetStepValue(f, s, x).value <= 0) return '';
  if (top <= x) {
    if (s === 0 && (f.hi[0] as number) <= x && f.budget < f.controllable)
      return `; more held back: ${num(f.budget)} sleep/wake transitions left today (max ${num(view.policy.maxCyclesPerDay)} cycles per miner)`;
    return '';
  }
  const c = fullCap(view, f.caps, f.stepKw[s] as number, st);
  return c ? `; ${num(top - x)} more held back: ${fullText(view, c, st)}` : '';
}

export function poolHashReason(
  view: PlanView,
  p: PoolVar,
  up: boolean,
  takenForOrders: number,
  st: LoadState,
): string {
  const e = view.energyUsdPerMwh;
  const band = view.policy.hysteresisUsdPerMwh;
  const be = p.hashBreakeven ?? 0;
  const per = `payout ${usd(p.hashRevenue)}/node-h vs extra energy ${usd(p.hashEnergy)}/node-h`;
  if (p.pin) return overrideText(p.pin.override, p.pin.mode);
  if (up) {
    if (e < be - band)
      return `${per}: energy ${usdPerMwh(e)} < GPU-hashing breakeven ${usdPerMwh(be)} − hysteresis ${usdPerMwh(band)}`;
    return `${per} (energy ${usdPerMwh(e)}, breakeven ${usdPerMwh(be)})`;
  }
  if (!p.hashEnabled) return `GPU hashing is disabled for ${p.name}`;
  if (takenForOrders > 0) return `nodes go to new inference orders (${num(takenForOrders)} nodes)`;
  if (e > be + band)
    return `${per}: energy ${usdPerMwh(e)} > GPU-hashing breakeven ${usdPerMwh(be)} + hysteresis ${usdPerMwh(band)}`;
  if (p.forcedBy !== null) return forcedText(view, view.caps[p.forcedBy] as Cap);
  const c = fullCap(view, p.caps, p.hashStepKw, st);
  if (c) return `${fullText(view, c, st)}: the power earns more elsewhere`;
  return `${per}: lower value per kW than the rest of the plan`;
}

export function orderValueText(view: PlanView, o: OrderVar, poolIdx: number): string {
  const opt = o.options.find((x) => x.pool === poolIdx);
  const p = view.pools[poolIdx] as PoolVar;
  if (!opt) return '';
  const gpus = o.order.gpuCount;
  const extra = opt.nodes * p.servStepKw;
  let s = `${o.order.tier} bid ${usd(o.order.priceUsdPerGpuHour)}/GPU-h × ${num(gpus)} GPU${gpus === 1 ? '' : 's'} = ${usd(opt.revenue)}/h; energy ${usd(opt.energy)}/h for ${kw(extra)} over idle`;
  if (extra > 0) s += `: ${usd(opt.value / extra)}/h per kW`;
  if (view.gpuUsdPerGpuHour !== null) s += `; market ${usd(view.gpuUsdPerGpuHour)}/GPU-h`;
  return s;
}

/** Why an order is not admitted. */
export function rejectReason(
  view: PlanView,
  o: OrderVar,
  hashing: number[],
  serving: number[],
  st: LoadState,
): string {
  if (o.noOption) return o.noOption;
  const market =
    view.gpuUsdPerGpuHour !== null && o.order.priceUsdPerGpuHour < view.gpuUsdPerGpuHour
      ? ` (market ${usd(view.gpuUsdPerGpuHour)}/GPU-h)`
      : '';
  const best = [...o.options].sort((a, b) => b.value - a.value || a.pool - b.pool)[0];
  if (!best) return 'no eligible pool';
  const p = view.pools[best.pool] as PoolVar;
  if (p.forcedBy !== null && o.wasIn === p.index) return forcedText(view, view.caps[p.forcedBy] as Cap);
  if (best.value + o.bonus <= 0)
    return `bid ${usd(o.order.priceUsdPerGpuHour)}/GPU-h × ${num(o.order.gpuCount)} = ${usd(best.revenue)}/h does not cover serving energy ${usd(best.energy)}/h${market}`;
  const full = o.options.every((opt) => {
    const q = view.pools[opt.pool] as PoolVar;
    return q.controllable - (serving[q.index] as number) < opt.nodes;
  });
  if (full) {
    const where = o.options
      .map((opt) => {
        const q = view.pools[opt.pool] as PoolVar;
        return `${q.name} ${num(q.controllable - (serving[q.index] as number))} of ${num(q.controllable)} nodes free`;
      })
      .join(', ');
    return `no free nodes (${where}); better-paying orders per kW came first${market}`;
  }
  const kwNeed = best.nodes * p.servStepKw;
  const c = fullCap(view, p.caps, kwNeed, st);
  if (c) return `${fullText(view, c, st)}: needs ${kw(kwNeed)} more${market}`;
  const h = hashing[p.index] as number;
  if (h > 0 && p.hashValue * best.nodes >= best.value)
    return `GPU hashing earns more on those nodes (${usd(p.hashValue * best.nodes)}/h vs ${usd(best.value)}/h)`;
  return `lower value per kW than the admitted work${market}`;
}
