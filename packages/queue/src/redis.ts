// Redis connections, configured as BullMQ's production guide asks: producers fail fast when
// Redis is away, workers wait for it (maxRetriesPerRequest: null), and keys are never evicted.
import { Redis, type RedisOptions } from 'ioredis';
import { redactUrl } from '@switchyard/telemetry';

export type RedisRole = 'producer' | 'worker' | 'check';

export function redisOptions(role: RedisRole): RedisOptions {
  const base: RedisOptions = {
    lazyConnect: true,
    connectTimeout: 5000,
    // Reconnect with capped backoff; never give up on a long-lived connection.
    retryStrategy: (times) => Math.min(200 * 2 ** Math.min(times, 5), 5000),
  };
  if (role === 'worker') return { ...base, maxRetriesPerRequest: null, enableReadyCheck: true };
  // Producers and health checks: a command fails quickly instead of queueing while offline.
  return { ...base, maxRetriesPerRequest: 1, enableOfflineQueue: false };
}

export class RedisUnavailableError extends Error {
  readonly code = 'REDIS_UNAVAILABLE';
}

/**
 * Connects, or fails with RedisUnavailableError naming the server when the first connection
 * cannot be made; after that, the client reconnects on its own (see redisOptions).
 */
export async function connectRedis(url: string, role: RedisRole = 'producer'): Promise<Redis> {
  const client = new Redis(url, redisOptions(role));
  let lastError: Error | undefined;
  client.on('error', (e: Error) => {
    // Surfaced through readiness checks and command failures; never an unhandled 'error' event.
    lastError = e;
  });
  try {
    await client.connect();
  } catch (e) {
    client.disconnect();
    const reason = (lastError ?? (e as Error)).message;
    throw new RedisUnavailableError(`cannot connect to Redis at ${redactUrl(url) ?? '[unset]'}: ${reason}`, {
      cause: e,
    });
  }
  return client;
}

export class RedisPolicyError extends Error {
  readonly code = 'REDIS_EVICTION_POLICY';
}

/**
 * BullMQ loses jobs silently if Redis evicts keys. Returns the policy; throws unless it is
 * noeviction and mode is 'refuse'.
 */
export async function checkEvictionPolicy(
  client: Redis,
  mode: 'refuse' | 'warn',
  warn: (msg: string) => void,
): Promise<string> {
  let policy: string;
  try {
    const reply = (await client.config('GET', 'maxmemory-policy')) as string[];
    policy = reply[1] ?? 'unknown';
  } catch {
    // Managed Redis services often disable CONFIG; INFO still reports the policy.
    const info = await client.info('memory');
    policy = /maxmemory_policy:(\S+)/.exec(info)?.[1] ?? 'unknown';
  }
  if (policy !== 'noeviction') {
    const msg = `Redis maxmemory-policy is "${policy}"; it must be "noeviction" or queued jobs can be lost (set REDIS_EVICTION_CHECK=warn to start anyway)`;
    if (mode === 'refuse') throw new RedisPolicyError(msg);
    warn(msg);
  }
  return policy;
}
