// Runs the API server: loads and stores the farm, connects the database and Redis, listens,
// and closes everything once on SIGTERM/SIGINT. The app itself is built in app.ts.
import { readFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { farmResources, formatIssue, parseFarmYaml, type Farm } from '@switchyard/domain';
import { InventoryRepository, migrateDatabase, openDatabase, type DatabaseHandle } from '@switchyard/db';
import { checkEvictionPolicy, connectRedis, createQueues, publishControlEvent } from '@switchyard/queue';
import type { ApiEnv } from '@switchyard/config';
import { createWebhookOutbox } from '@switchyard/brokers';
import { createMetricsRegistry, redactUrl, type Logger, type Registry } from '@switchyard/telemetry';
import { buildApp } from './app.ts';
import { ensureOperatorKey } from './bootstrap-key.ts';
import {
  connectRateLimitRedis,
  hardenServer,
  hardeningConfigFromEnv,
  type HardeningConfig,
} from './hardening.ts';
import type { FarmView } from './routes/farm.ts';

export class FarmFileError extends Error {
  readonly code = 'FARM_INVALID';
}

/** Reads and validates a farm file; throws FarmFileError listing every problem. */
export async function loadFarmFile(path: string): Promise<Farm> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new FarmFileError(
      `cannot read farm file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const r = parseFarmYaml(text);
  if (!r.ok) {
    throw new FarmFileError(
      `${path} is invalid:\n${r.issues.map((i) => `  ${formatIssue(i, path)}`).join('\n')}`,
    );
  }
  return r.farm;
}

export interface RunningApi {
  url: string;
  farm: Farm;
  /** The API's database, shared with in-process components (embedded PGlite is per process). */
  db: DatabaseHandle;
  /**
   * The token of the operator key issued at this start (see StartApiOptions), to be shown once
   * to whoever started the API; undefined when none was issued.
   */
  bootstrapToken?: string;
  /** The registry /metrics serves; in-process components add their metrics to it. */
  metrics: Registry;
  close(): Promise<void>;
}

export interface StartApiOptions {
  /**
   * Issue an operator key when the database has no active one (standalone mode). Always done on
   * embedded PGlite, which no other process can reach to create the first key.
   */
  bootstrapOperatorKey?: boolean;
  /** Rate limits and load shedding; default: from the environment (hardeningConfigFromEnv). */
  hardening?: HardeningConfig;
  /**
   * The process's metrics registry (one per process: `switchyard start` shares it with the
   * controller and worker it runs); default: a new one with the process metrics.
   */
  metrics?: Registry;
}

export async function startApi(env: ApiEnv, logger: Logger, opts: StartApiOptions = {}): Promise<RunningApi> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const closeAll = async () => {
    for (const c of cleanups.reverse()) {
      await c().catch((e: unknown) => logger.warn({ err: e }, 'error during shutdown'));
    }
  };
  try {
    const hardening = opts.hardening ?? hardeningConfigFromEnv(process.env);
    const farm = await loadFarmFile(env.FARM_FILE);
    const db: DatabaseHandle = await openDatabase({ url: env.DATABASE_URL, pgliteDataDir: env.PGLITE_DIR });
    cleanups.push(() => db.close());
    logger.info(
      { driver: db.driver, database: redactUrl(env.DATABASE_URL) ?? env.PGLITE_DIR ?? 'memory' },
      'database opened',
    );
    await migrateDatabase(db);
    const saved = await new InventoryRepository(db.db).saveSnapshot(
      farmResources(farm),
      `file:${env.FARM_FILE}`,
    );
    logger.info({ snapshot: saved.id, stored: saved.created }, 'farm inventory stored');
    const bootstrap =
      opts.bootstrapOperatorKey || db.driver === 'pglite' ? await ensureOperatorKey(db.db) : undefined;
    if (bootstrap)
      logger.warn(
        { prefix: bootstrap.key.prefix },
        'no active operator API key: issued one; its token is shown once on the console',
      );
    const view: FarmView = {
      farm,
      snapshotId: saved.id,
      source: `file:${env.FARM_FILE}`,
      loadedAt: new Date(),
    };

    if (!env.REDIS_URL) throw new Error('REDIS_URL is not set');
    const redis: Redis = await connectRedis(env.REDIS_URL, 'check');
    cleanups.push(() => redis.quit());
    await checkEvictionPolicy(redis, env.REDIS_EVICTION_CHECK, (m) => logger.warn(m));
    // bull-board's view of the queues (read-only), over the same connection.
    const boardQueues = createQueues(redis);
    cleanups.push(() => boardQueues.close());
    // Order changes and webhook test pings become signed deliveries through the same queues.
    const outbox = createWebhookOutbox(db.db, boardQueues, { logger });
    // The rate limiter's own connection: it fails fast, so a slow Redis never holds a request.
    const limiterRedis = hardening.rateLimit ? await connectRateLimitRedis(env.REDIS_URL) : undefined;
    if (limiterRedis) cleanups.push(async () => limiterRedis.disconnect());

    const metrics = opts.metrics ?? createMetricsRegistry();
    const app = await buildApp({
      logger,
      getFarm: () => view,
      db: db.db,
      publishEvent: (event) => publishControlEvent(redis, event),
      webhookOutbox: outbox,
      brokerEvents: outbox.publish,
      admin: { queues: Object.values(boardQueues.queues), redis },
      metrics,
      readiness: [
        { name: 'database', check: () => db.ping() },
        { name: 'redis', check: async () => void (await redis.ping()) },
      ],
      hardening: {
        rateLimit:
          hardening.rateLimit && limiterRedis ? { ...hardening.rateLimit, redis: limiterRedis } : false,
        loadShedding: hardening.loadShedding,
      },
    });
    hardenServer(app.server);
    cleanups.push(() => app.close());
    const url = await app.listen({ port: env.PORT, host: env.HOST });
    let closing: Promise<void> | undefined;
    return {
      url,
      farm,
      metrics,
      db,
      ...(bootstrap ? { bootstrapToken: bootstrap.token } : {}),
      close: () => (closing ??= closeAll()),
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
