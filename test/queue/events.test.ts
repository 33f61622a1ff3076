// The control-event channel on a real Redis: delivery, validation on both sides, prefixes, a
// handler that fails, a subscriber on a duplicated client, and resubscription after the
// subscriber's connection is dropped.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import {
  connectRedis,
  ControlEventError,
  controlEventChannel,
  DEFAULT_PREFIX,
  publishControlEvent,
  subscribeControlEvents,
  type ControlEvent,
} from '@switchyard/queue';
import { requireRedisUrl, startPrivateRedis, type PrivateRedis } from '../support/redis.ts';
import { uniquePrefix } from './support.ts';

/** Collects what a subscription sees and waits for it. */
function collector() {
  const events: ControlEvent[] = [];
  const invalid: Array<{ raw: string; reason: string }> = [];
  const errors: unknown[] = [];
  const until = async (cond: () => boolean, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for control events');
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { events, invalid, errors, until };
}

const dispatchEvent = (id: string): ControlEvent => ({
  type: 'grid-dispatch',
  id,
  site: 'west-1',
  at: new Date().toISOString(),
  change: 'created',
});

describe('control events', () => {
  let pub: Redis;
  beforeAll(async () => {
    pub = await connectRedis(requireRedisUrl(), 'producer');
  });
  afterAll(async () => {
    await pub.quit();
  });

  it('delivers a grid dispatch to a subscriber within milliseconds', async () => {
    const prefix = uniquePrefix();
    const c = collector();
    const sub = await subscribeControlEvents(requireRedisUrl(), (e) => void c.events.push(e), { prefix });
    try {
      expect(sub.channel).toBe(`${prefix}:events`);
      const ev = dispatchEvent('d-1');
      const t0 = performance.now();
      expect(await publishControlEvent(pub, ev, { prefix })).toBe(1);
      await c.until(() => c.events.length === 1);
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(c.events).toEqual([ev]);
      await publishControlEvent(pub, { type: 'inventory' }, { prefix });
      await publishControlEvent(
        pub,
        { type: 'override', targetKind: 'fleet', target: 's19-a', at: new Date().toISOString() },
        { prefix },
      );
      await c.until(() => c.events.length === 3);
      expect(c.events.map((e) => e.type)).toEqual(['grid-dispatch', 'inventory', 'override']);
    } finally {
      await sub.close();
    }
  });

  it('uses the default prefix when none is given', async () => {
    expect(controlEventChannel()).toBe(`${DEFAULT_PREFIX}:events`);
    const c = collector();
    const sub = await subscribeControlEvents(requireRedisUrl(), (e) => void c.events.push(e));
    try {
      await publishControlEvent(pub, dispatchEvent('d-default'));
      await c.until(() => c.events.some((e) => e.type === 'grid-dispatch' && e.id === 'd-default'));
    } finally {
      await sub.close();
    }
  });

  it('drops and reports malformed messages, and keeps delivering', async () => {
    const prefix = uniquePrefix();
    const c = collector();
    const sub = await subscribeControlEvents(requireRedisUrl(), (e) => void c.events.push(e), {
      prefix,
      onInvalid: (raw, reason) => c.invalid.push({ raw, reason }),
    });
    try {
      const channel = controlEventChannel(prefix);
      await pub.publish(channel, 'not json {');
      await pub.publish(channel, JSON.stringify({ type: 'launch' }));
      await pub.publish(channel, JSON.stringify({ type: 'grid-dispatch', site: 'west-1', at: 'yesterday' }));
      // Unknown fields are dropped rather than refused.
      await pub.publish(channel, JSON.stringify({ ...dispatchEvent('d-2'), priority: 'high' }));
      await c.until(() => c.invalid.length === 3 && c.events.length === 1);
      expect(c.invalid[0]?.reason).toBe('not JSON');
      expect(c.invalid[2]?.reason).toMatch(/id/);
      expect(c.invalid[2]?.reason).toMatch(/at/);
      expect(c.events[0]).not.toHaveProperty('priority');
    } finally {
      await sub.close();
    }
  });

  it('refuses to publish an invalid event', async () => {
    const prefix = uniquePrefix();
    const c = collector();
    const sub = await subscribeControlEvents(requireRedisUrl(), (e) => void c.events.push(e), { prefix });
    try {
      await expect(
        publishControlEvent(pub, { type: 'grid-dispatch', id: '', site: 'west-1', at: 'now' }, { prefix }),
      ).rejects.toBeInstanceOf(ControlEventError);
      await publishControlEvent(pub, { type: 'inventory' }, { prefix });
      await c.until(() => c.events.length === 1);
      expect(c.events).toEqual([{ type: 'inventory' }]);
    } finally {
      await sub.close();
    }
  });

  it('reports a failing handler and carries on; other prefixes are not heard', async () => {
    const prefix = uniquePrefix();
    const c = collector();
    let n = 0;
    const sub = await subscribeControlEvents(
      requireRedisUrl(),
      async (e) => {
        n++;
        if (n === 1) throw new Error('sync-ish failure');
        if (n === 2) return Promise.reject(new Error('async failure'));
        c.events.push(e);
      },
      { prefix, onError: (err) => c.errors.push(err) },
    );
    try {
      await publishControlEvent(pub, dispatchEvent('other'), { prefix: uniquePrefix() });
      for (const id of ['a', 'b', 'c']) await publishControlEvent(pub, dispatchEvent(id), { prefix });
      await c.until(() => c.events.length === 1 && c.errors.length === 2);
      expect(c.events.map((e) => (e.type === 'grid-dispatch' ? e.id : e.type))).toEqual(['c']);
    } finally {
      await sub.close();
    }
  });

  it('subscribes on a duplicate of a given client, which stays usable; close is idempotent', async () => {
    const prefix = uniquePrefix();
    const c = collector();
    const client = await connectRedis(requireRedisUrl(), 'producer');
    try {
      const sub = await subscribeControlEvents(client, (e) => void c.events.push(e), { prefix });
      expect(await client.ping()).toBe('PONG');
      expect(await publishControlEvent(client, dispatchEvent('dup'), { prefix })).toBe(1);
      await c.until(() => c.events.length === 1);
      await sub.close();
      await sub.close();
      expect(await publishControlEvent(client, dispatchEvent('after-close'), { prefix })).toBe(0);
      expect(await client.ping()).toBe('PONG');
    } finally {
      await client.quit();
    }
  });
});

describe('control events after the connection drops', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(() => redis?.stop());

  it('closes at once while Redis is away', async () => {
    const other = await startPrivateRedis();
    const sub = await subscribeControlEvents(other.url, () => {});
    await other.stop();
    const t0 = Date.now();
    await sub.close();
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('resubscribes by itself', async () => {
    const c = collector();
    const admin = await connectRedis(redis.url, 'producer');
    const sub = await subscribeControlEvents(redis.url, (e) => void c.events.push(e));
    try {
      expect(Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'))).toBe(1);
      // Publish until the resubscribed connection hears one.
      const deadline = Date.now() + 10_000;
      while ((await publishControlEvent(admin, dispatchEvent('again'))) === 0) {
        if (Date.now() > deadline) throw new Error('the subscriber did not come back');
        await new Promise((r) => setTimeout(r, 50));
      }
      await c.until(() => c.events.length >= 1);
      expect(c.events[0]).toMatchObject({ type: 'grid-dispatch', id: 'again' });
    } finally {
      await sub.close();
      await admin.quit();
    }
  });
});
