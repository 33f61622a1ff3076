// The economics every decision rests on (PRODUCT.md): hashprice, breakeven energy price, and
// the value per hour of an ASIC group or a GPU node. Pure functions, SI-ish units in the names.

/** Seconds per day × 1e12 H per TH, over the expected hashes per block (D × 2^32). */
const HASHES_PER_DIFFICULTY = 2 ** 32;

export interface HashpriceInputs {
  difficulty: number;
  btcUsd: number;
  /** Mean fees per block over the last 144 blocks (BTC). */
  feesBtcPerBlock: number;
  /** Block subsidy (BTC); defaults to the schedule at `at`. */
  subsidyBtc: number;
}

/** Hashprice in USD per TH/s per day (Luxor's definition). */
export function hashpriceUsdPerThDay(i: HashpriceInputs): number {
  const blocksPerThPerDay = (86_400 * 1e12) / (i.difficulty * HASHES_PER_DIFFICULTY);
  return blocksPerThPerDay * (i.subsidyBtc + i.feesBtcPerBlock) * i.btcUsd;
}

/** Block subsidy (BTC) in force at a time, from the halving schedule (every 210,000 blocks). */
export function subsidyAt(at: Date): number {
  // Halvings by date (heights 630k, 840k; the next at 1,050,000 is expected around April 2028).
  const t = at.getTime();
  if (t < Date.UTC(2020, 4, 11)) return 12.5;
  if (t < Date.UTC(2024, 3, 20)) return 6.25;
  if (t < Date.UTC(2028, 3, 15)) return 3.125;
  return 1.5625;
}

/**
 * Energy price (USD/MWh) at which a miner of efficiency `jPerTh` breaks even:
 * 1000 × HP / (0.024 × E × PUE) × (1 − pool fee).
 */
export function breakevenUsdPerMwh(
  hashpriceUsdPerThDayValue: number,
  jPerTh: number,
  pue: number,
  poolFee: number,
): number {
  return ((1000 * hashpriceUsdPerThDayValue) / (0.024 * jPerTh * pue)) * (1 - poolFee);
}

/** Value per hour (USD) of `ths` TH/s drawing `kw` at the meter before PUE. */
export function asicValueUsdPerHour(
  ths: number,
  kw: number,
  hashpriceUsdPerThDayValue: number,
  poolFee: number,
  pue: number,
  energyUsdPerMwh: number,
): number {
  return ((ths * hashpriceUsdPerThDayValue) / 24) * (1 - poolFee) - (kw * pue * energyUsdPerMwh) / 1000;
}

/** Energy cost per hour (USD) of `kw` IT load. */
export function energyCostUsdPerHour(kw: number, pue: number, energyUsdPerMwh: number): number {
  return (kw * pue * energyUsdPerMwh) / 1000;
}
