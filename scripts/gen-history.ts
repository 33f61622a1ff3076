// Generates a SYNTHETIC price history for the backtest: one year of hourly rows for a West Texas
// site (ERCOT HB_WEST-like energy prices, BTC, difficulty, fees, GPU rental, ambient). The numbers
// are made up by a seeded random process — they look like the real thing, they are not real
// market data. Same seed, same file.
//
//   node scripts/gen-history.ts [--seed 2025] [--year 2025] [--out examples/history-synthetic.csv]
//
// Energy ($/MWh): a monthly level × a daily shape (night low, solar dip at midday in spring and
// autumn, evening peak, strongest in summer) × AR(1) noise; windy nights (most in spring) go
// negative; scarcity events (mostly hot summer evenings, sometimes winter cold snaps) spike to
// $1,000–5,000 for 1–4 hours. BTC: a random walk (≈50 %/year volatility). Difficulty: a step every
// ~2 weeks, mostly up. Fees: mean-reverting with busy days. GPU: H100-class $/GPU-hour drifting
// down with daily noise. Ambient: Midland-like monthly means with a daily swing.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '2025' },
    year: { type: 'string', default: '2025' },
    out: { type: 'string', default: 'examples/history-synthetic.csv' },
  },
});
const seed = Number(values.seed);
const year = Number(values.year);
if (!Number.isInteger(seed) || !Number.isInteger(year) || year < 2000 || year > 2100) {
  console.error('usage: node scripts/gen-history.ts [--seed N] [--year YYYY] [--out FILE]');
  process.exit(2);
}

/** mulberry32 */
function rng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(seed);
const normal = () => {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
};
const uniform = (lo: number, hi: number) => lo + (hi - lo) * rand();

const TZ = 'America/Chicago';
const parts = new Intl.DateTimeFormat('en-US', {
  timeZone: TZ,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
  timeZoneName: 'longOffset',
});
function local(ms: number) {
  const p = Object.fromEntries(parts.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  const offset = (p.timeZoneName ?? 'GMT').replace('GMT', '') || '+00:00';
  return {
    month: Number(p.month),
    day: Number(p.day),
    hour: Number(p.hour),
    text: `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}${offset}`,
  };
}

/** Midnight local time on 1 January, as epoch ms (Central Standard Time is UTC−6 then). */
const start = Date.UTC(year, 0, 1, 6);
const end = Date.UTC(year + 1, 0, 1, 6);

// Monthly levels.
const ENERGY_LEVEL = [30, 33, 24, 21, 27, 34, 41, 52, 37, 27, 26, 29];
const AMBIENT_MEAN = [7, 10, 14, 19, 24, 28, 29.5, 29, 25, 19, 12, 8];
const WINDY_SHARE = [0.15, 0.2, 0.35, 0.4, 0.3, 0.12, 0.06, 0.05, 0.1, 0.22, 0.25, 0.18];

function dailyShape(month: number, hour: number): number {
  const summer = month >= 6 && month <= 9;
  const shoulder = [3, 4, 5, 10, 11].includes(month);
  if (hour < 5) return 0.72;
  if (hour < 7) return 0.85;
  if (hour < 10) return 1.0;
  if (hour < 16) return shoulder ? 0.7 : summer ? 1.05 : 0.9;
  if (hour < 17) return summer ? 1.3 : 1.05;
  if (hour < 21) return summer ? 1.75 : 1.35;
  return 0.95;
}

const rows: string[] = [
  'time,btc_usd,difficulty,fees_btc_per_block,energy_usd_per_mwh,gpu_usd_per_gpu_hour,ambient_c',
];
let btc = 94_000;
let difficulty = 109e12;
let nextAdjust = start + uniform(3, 14) * 86_400_000;
let feesBase = 0.035;
let busyHours = 0;
let gpu = 2.45;
let noise = 0;
let weather = 0;
let spikeHours = 0;
let spikePrice = 0;
let windyNight = false;
let lastDay = -1;

for (let t = start; t < end; t += 3_600_000) {
  const { month, day, hour, text } = local(t);
  const m = month - 1;
  const newDay = day !== lastDay;
  lastDay = day;

  // Weather: a day-to-day anomaly, then the daily swing (warmest mid-afternoon).
  if (newDay) {
    weather = 0.7 * weather + 1.6 * normal();
    windyNight = rand() < (WINDY_SHARE[m] as number);
    const target = 2.45 - (0.55 * (t - start)) / (end - start);
    gpu = Math.max(1.2, gpu + 0.1 * (target - gpu) + 0.03 * normal());
  }
  const swing = 7.5 * Math.cos(((hour - 16) / 24) * 2 * Math.PI);
  const ambient = (AMBIENT_MEAN[m] as number) + weather + swing;

  // Energy.
  noise = 0.85 * noise + 0.13 * normal();
  let energy = (ENERGY_LEVEL[m] as number) * dailyShape(month, hour) * Math.exp(noise);
  if (windyNight && (hour >= 22 || hour < 7)) energy = -uniform(1, 28);
  else if ([3, 4, 5].includes(month) && hour >= 11 && hour < 15 && rand() < 0.08) energy = -uniform(0, 12);
  const summerEvening = month >= 6 && month <= 9 && hour >= 15 && hour < 21;
  const coldSnap = (month <= 2 || month === 12) && ambient < -2 && ((hour >= 6 && hour < 10) || hour >= 17);
  if (spikeHours === 0) {
    let p = 0.0003;
    if (summerEvening) p = ambient > 36 ? 0.03 : 0.008;
    if (coldSnap) p = 0.05;
    if (rand() < p) {
      spikeHours = 1 + Math.floor(rand() * 4);
      spikePrice = Math.min(5000, 700 * Math.exp(0.9 * Math.abs(normal())));
    } else if (summerEvening && rand() < 0.05) {
      energy *= uniform(2.5, 8); // a tight hour: $150–600
    }
  }
  if (spikeHours > 0) {
    energy = Math.min(5000, spikePrice * uniform(0.6, 1.2));
    spikeHours--;
  }

  // Bitcoin.
  btc *= Math.exp(0.0053 * normal());
  if (t >= nextAdjust) {
    difficulty *= 1 + Math.max(-0.08, Math.min(0.1, 0.012 + 0.025 * normal()));
    nextAdjust = t + uniform(12.5, 15.5) * 86_400_000;
  }
  if (busyHours === 0 && rand() < 0.002) busyHours = 6 + Math.floor(rand() * 30);
  feesBase = Math.max(0.008, feesBase + 0.02 * (0.035 - feesBase) + 0.0015 * normal());
  const fees = busyHours > 0 ? feesBase * uniform(3, 8) : feesBase;
  if (busyHours > 0) busyHours--;

  rows.push(
    [
      text,
      btc.toFixed(2),
      (Math.round(difficulty / 1e6) * 1e6).toFixed(0),
      fees.toFixed(4),
      energy.toFixed(2),
      gpu.toFixed(2),
      ambient.toFixed(1),
    ].join(','),
  );
}

writeFileSync(values.out, `${rows.join('\n')}\n`);
console.error(`${values.out}: ${rows.length - 1} hourly rows (SYNTHETIC, seed ${seed}, year ${year})`);
