// mempool.space REST: BTC price, difficulty, network hashrate and mean fees per block.
// Four endpoints are asked at once; a failing one costs only its own signals (reported as a
// warning), and the fetch fails only when all of them do.
import { z } from 'zod';
import { httpJson, joinUrl } from '../http-client.ts';
import { toSignalSourceError } from '../signal-source-error.ts';
import {
  SIGNAL_UNITS,
  type SignalFetchContext,
  type SignalReading,
  type SignalSource,
} from '../signal-types.ts';
import { fromUnixSeconds, hashesPerSecondToEhs, meanBtcPerBlock, parseSatoshiString } from '../units.ts';

export interface MempoolSourceOptions {
  /** e.g. https://mempool.space (a self-hosted instance works the same). */
  baseUrl: string;
  name?: string;
  headers?: Record<string, string>;
  maxBytes?: number;
}

const satoshis = z.string().regex(/^\d{1,20}$/, 'expected a satoshi amount as a string of digits');

/** GET /api/v1/difficulty-adjustment (times in ms). Only what we use is required. */
export const difficultyAdjustmentSchema = z
  .object({
    progressPercent: z.number(),
    difficultyChange: z.number(),
    estimatedRetargetDate: z.number(),
    remainingBlocks: z.number(),
    nextRetargetHeight: z.number().optional(),
  })
  .loose();

/** GET /api/v1/mining/hashrate/3m */
export const hashrateSchema = z
  .object({
    currentHashrate: z.number(),
    currentDifficulty: z.number(),
    hashrates: z.array(z.object({ timestamp: z.number(), avgHashrate: z.number() }).loose()).optional(),
    difficulty: z.array(z.object({ difficulty: z.number(), height: z.number() }).loose()).optional(),
  })
  .loose();

/** GET /api/v1/mining/reward-stats/144 (sums as satoshi strings). */
export const rewardStatsSchema = z
  .object({
    startBlock: z.number().int(),
    endBlock: z.number().int(),
    totalReward: satoshis,
    totalFee: satoshis,
    totalTx: z.union([z.string(), z.number()]).optional(),
  })
  .loose();

/** GET /api/v1/prices */
export const mempoolPricesSchema = z.object({ time: z.number(), USD: z.number() }).loose();

export const REWARD_STATS_BLOCKS = 144;

/** Mean fees per block (BTC) from reward stats, over the block range the answer covers. */
export function meanFeesFromRewardStats(stats: z.infer<typeof rewardStatsSchema>): {
  feesBtcPerBlock: number;
  blocks: number;
  subsidyBtcPerBlock: number;
} {
  const span = stats.endBlock - stats.startBlock + 1;
  // Older servers report a range that does not match the count; trust the count asked for then.
  const blocks = span >= 1 && span <= 10 * REWARD_STATS_BLOCKS ? span : REWARD_STATS_BLOCKS;
  const fee = parseSatoshiString(stats.totalFee);
  const reward = parseSatoshiString(stats.totalReward);
  if (fee > reward) throw new Error(`totalFee ${stats.totalFee} exceeds totalReward ${stats.totalReward}`);
  return {
    feesBtcPerBlock: meanBtcPerBlock(fee, blocks),
    blocks,
    subsidyBtcPerBlock: meanBtcPerBlock(reward - fee, blocks),
  };
}

export class MempoolSource implements SignalSource {
  readonly name: string;
  readonly signals = ['btc_usd', 'difficulty', 'network_hashrate_ehs', 'fees_btc_per_block'] as const;
  readonly #opts: MempoolSourceOptions;

  constructor(opts: MempoolSourceOptions) {
    this.name = opts.name ?? 'mempool.space';
    this.#opts = opts;
  }

  #get<T>(path: string, schema: z.ZodType<T>, signal: AbortSignal): Promise<T> {
    return httpJson(joinUrl(this.#opts.baseUrl, path), schema, {
      signal,
      headers: this.#opts.headers,
      maxBytes: this.#opts.maxBytes ?? 1024 * 1024,
    });
  }

  #reading(ctx: SignalFetchContext, r: Omit<SignalReading, 'unit' | 'source' | 'fetchedAt'>): SignalReading {
    return { ...r, unit: SIGNAL_UNITS[r.signal], source: this.name, fetchedAt: ctx.now };
  }

  async fetch(ctx: SignalFetchContext): Promise<SignalReading[]> {
    const [adjustment, hashrate, rewards, prices] = await Promise.allSettled([
      this.#get('/api/v1/difficulty-adjustment', difficultyAdjustmentSchema, ctx.signal),
      this.#get('/api/v1/mining/hashrate/3m', hashrateSchema, ctx.signal),
      this.#get(`/api/v1/mining/reward-stats/${REWARD_STATS_BLOCKS}`, rewardStatsSchema, ctx.signal),
      this.#get('/api/v1/prices', mempoolPricesSchema, ctx.signal),
    ]);
    const out: SignalReading[] = [];
    const errors: unknown[] = [];
    const failed = (what: string, err: unknown) => {
      errors.push(err);
      ctx.warn?.(`${this.name} ${what} failed`, err);
    };

    if (hashrate.status === 'fulfilled') {
      const h = hashrate.value;
      const adj = adjustment.status === 'fulfilled' ? adjustment.value : undefined;
      out.push(
        this.#reading(ctx, {
          signal: 'difficulty',
          value: h.currentDifficulty,
          observedAt: ctx.now,
          ...(adj && {
            detail: {
              estimatedChangePercent: adj.difficultyChange,
              estimatedRetargetAt: new Date(adj.estimatedRetargetDate).toISOString(),
              remainingBlocks: adj.remainingBlocks,
              progressPercent: adj.progressPercent,
              ...(adj.nextRetargetHeight !== undefined && { nextRetargetHeight: adj.nextRetargetHeight }),
            },
          }),
        }),
        this.#reading(ctx, {
          signal: 'network_hashrate_ehs',
          value: hashesPerSecondToEhs(h.currentHashrate),
          observedAt: ctx.now,
          detail: { hashesPerSecond: h.currentHashrate },
        }),
      );
    } else failed('hashrate/3m', hashrate.reason);
    if (adjustment.status === 'rejected') failed('difficulty-adjustment', adjustment.reason);

    if (rewards.status === 'fulfilled') {
      try {
        const f = meanFeesFromRewardStats(rewards.value);
        out.push(
          this.#reading(ctx, {
            signal: 'fees_btc_per_block',
            value: f.feesBtcPerBlock,
            observedAt: ctx.now,
            detail: {
              blocks: f.blocks,
              startBlock: rewards.value.startBlock,
              endBlock: rewards.value.endBlock,
              totalFeeSats: rewards.value.totalFee,
              totalRewardSats: rewards.value.totalReward,
              subsidyBtcPerBlock: f.subsidyBtcPerBlock,
            },
          }),
        );
      } catch (err) {
        failed('reward-stats', toSignalSourceError(err));
      }
    } else failed('reward-stats', rewards.reason);

    if (prices.status === 'fulfilled') {
      out.push(
        this.#reading(ctx, {
          signal: 'btc_usd',
          value: prices.value.USD,
          observedAt: fromUnixSeconds(prices.value.time),
        }),
      );
    } else failed('prices', prices.reason);

    if (out.length === 0) {
      // Everything failed: surface the first error (retryable if any of them was).
      const all = errors.map(toSignalSourceError);
      throw all.find((e) => e.retryable) ?? all[0]!;
    }
    return out;
  }
}
