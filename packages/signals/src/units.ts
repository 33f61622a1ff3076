// Unit conversions and the strict little parsers the sources share. Every function here is pure
// and throws (or returns undefined) rather than guessing.

export const SATS_PER_BTC = 100_000_000;

/**
 * A satoshi amount sent as a decimal string ("1735013957"), as mempool.space does for sums that
 * can exceed 2^53. Only plain non-negative integers are accepted; the result is exact as a
 * bigint.
 */
export function parseSatoshiString(s: string): bigint {
  if (!/^\d{1,20}$/.test(s)) throw new Error(`not a satoshi amount: ${JSON.stringify(s.slice(0, 30))}`);
  return BigInt(s);
}

/** Satoshis to BTC. Exact for amounts up to 2^53 sats (90 million BTC). */
export function satsToBtc(sats: bigint): number {
  const whole = sats / BigInt(SATS_PER_BTC);
  const rest = sats % BigInt(SATS_PER_BTC);
  return Number(whole) + Number(rest) / SATS_PER_BTC;
}

/** Mean per block of a satoshi total over `blocks` blocks, in BTC. */
export function meanBtcPerBlock(totalSats: bigint, blocks: number): number {
  if (!Number.isInteger(blocks) || blocks <= 0) throw new Error(`block count must be a positive integer`);
  return satsToBtc(totalSats) / blocks;
}

/** H/s to EH/s. */
export function hashesPerSecondToEhs(hs: number): number {
  return hs / 1e18;
}

/** A price per PH/s per day to the same price per TH/s per day (1 PH/s = 1000 TH/s). */
export function perPhToPerTh(usdPerPhDay: number): number {
  return usdPerPhDay / 1000;
}

/** A price per TH/s per day to the same price per PH/s per day. */
export function perThToPerPh(usdPerThDay: number): number {
  return usdPerThDay * 1000;
}

/** Unix seconds to a Date. */
export function fromUnixSeconds(s: number): Date {
  return new Date(s * 1000);
}

/**
 * A timestamp from a feed: ISO 8601 with an explicit zone (`Z` or `±hh:mm`), or a number of
 * seconds (or milliseconds, when above 1e11) since the epoch. Zone-less local times are
 * refused, because guessing the zone of a price is how off-by-an-hour bills happen.
 */
export function parseFeedTimestamp(raw: unknown): Date | undefined {
  if (typeof raw === 'number' || (typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw.trim()))) {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) return undefined;
    return new Date(n > 1e11 ? n : n * 1000);
  }
  if (typeof raw !== 'string') return undefined;
  const s = raw.trim();
  if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(s)) return undefined;
  const d = new Date(s.replace(' ', 'T'));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** A strict decimal number: "45.3", "-12", "1e3"; not "", "abc", "12abc" or "NaN". */
export function parseDecimal(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  const s = raw.trim();
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** The q-quantile (0..1) of a non-empty list, by linear interpolation between ranks. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new Error('quantile of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}
