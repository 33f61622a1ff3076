// Orders and quotes on PostgreSQL and PGlite: an order, its first event and its audit entry in one
// statement; idempotency keys under concurrent requests; quotes taken once; transitions checked
// and recorded atomically; the controller's view; pages without gaps; the latest price readings.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AuditRepository,
  BrokerRepository,
  decodeOrderCursor,
  encodeOrderCursor,
  OrderRepository,
  queryRows,
  QuoteRepository,
  sql,
  type CreateBidInput,
  type Database,
  type OrderTerms,
} from '@switchyard/db';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';

const T0 = new Date('2026-07-01T12:00:00Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

const TERMS: OrderTerms = {
  tier: 'on-demand',
  gpuModels: ['H100-SXM-80GB'],
  gpuCount: 8,
  minVramGib: 40,
  maxUsdPerGpuHour: '2.5000',
  durationSeconds: 3600,
  endBy: null,
  noticeSeconds: 900,
};

const AUDIT = {
  actor: 'sy_testtesttest',
  role: 'compute-broker',
  action: 'order.create',
  requestId: 'req-1',
};

describe.each(['pglite', 'pg'] as const)('OrderRepository on %s', (driver) => {
  let m: MigratedDatabase;
  let db: Database;
  let repo: OrderRepository;
  let quotes: QuoteRepository;
  let brokerA: string;
  let brokerB: string;
  let n = 0;

  const bid = (o: Partial<CreateBidInput> = {}): CreateBidInput => ({
    brokerId: brokerA,
    idempotencyKey: `key-${++n}`,
    requestHash: `hash-${n}`,
    image: 'ghcr.io/acme/server:1',
    args: ['--port', '8000'],
    bid: TERMS,
    ...o,
  });
  const count = async (table: string) =>
    Number((await queryRows<{ n: unknown }>(db, sql.raw(`select count(*) as n from ${table}`)))[0]!.n);

  beforeAll(async () => {
    m = await openMigratedDatabase(driver);
    db = m.handle.db;
    repo = new OrderRepository(db);
    quotes = new QuoteRepository(db);
    const brokers = new BrokerRepository(db);
    brokerA = (await brokers.create({ name: 'compute-a', kind: 'compute' })).id;
    brokerB = (await brokers.create({ name: 'compute-b', kind: 'compute' })).id;
  });
  afterAll(async () => {
    await m?.cleanup();
  });

  it('places a bid with its first event and its audit entry, at its maximum price', async () => {
    const r = await repo.create(bid({ at: T0, audit: AUDIT }));
    expect(r.outcome).toBe('created');
    if (r.outcome !== 'created') return;
    expect(r.order).toMatchObject({
      brokerId: brokerA,
      state: 'pending',
      tier: 'on-demand',
      gpuModels: ['H100-SXM-80GB'],
      gpuCount: 8,
      minVramGib: 40,
      maxUsdPerGpuHour: '2.5000',
      priceUsdPerGpuHour: '2.5000',
      durationSeconds: 3600,
      endBy: null,
      noticeSeconds: 900,
      image: 'ghcr.io/acme/server:1',
      args: ['--port', '8000'],
      pool: null,
      quoteId: null,
      createdAt: T0,
      startedAt: null,
      endedAt: null,
    });
    expect(r.event).toMatchObject({ orderId: r.order.id, at: T0, fromState: null, toState: 'pending' });
    expect(await repo.get(r.order.id)).toEqual(r.order);
    expect(await repo.get(r.order.id, brokerB)).toBeUndefined();
    expect(await repo.events(r.order.id)).toEqual([r.event]);
    const audit = await new AuditRepository(db).list({ target: `order:${r.order.id}` });
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]).toMatchObject({
      actor: AUDIT.actor,
      action: 'order.create',
      requestId: 'req-1',
      detail: { tier: 'on-demand', gpuCount: 8, pool: null, quoteId: null },
    });
  });

  it('answers a reused key with the stored order: replayed for the same hash, key-reused for another', async () => {
    const first = await repo.create(bid({ idempotencyKey: 'same-key', requestHash: 'h1' }));
    expect(first.outcome).toBe('created');
    const again = await repo.create(bid({ idempotencyKey: 'same-key', requestHash: 'h1' }));
    expect(again.outcome).toBe('replayed');
    const other = await repo.create(bid({ idempotencyKey: 'same-key', requestHash: 'h2' }));
    expect(other.outcome).toBe('key-reused');
    if (first.outcome !== 'created' || again.outcome !== 'replayed' || other.outcome !== 'key-reused') return;
    expect(again.order.id).toBe(first.order.id);
    expect(other.order.id).toBe(first.order.id);
    // Keys are per broker.
    expect((await repo.create(bid({ brokerId: brokerB, idempotencyKey: 'same-key' }))).outcome).toBe(
      'created',
    );
    expect(await repo.events(first.order.id)).toHaveLength(1);
  });

  it('creates one order for many concurrent requests with one key', async () => {
    const before = {
      orders: await count('orders'),
      events: await count('order_events'),
      audit: await count('audit_log'),
    };
    const results = await Promise.all(
      Array.from({ length: 25 }, () =>
        repo.create(bid({ idempotencyKey: 'concurrent', requestHash: 'hc', audit: AUDIT })),
      ),
    );
    const outcomes = results.map((r) => r.outcome).sort();
    expect(outcomes.filter((o) => o === 'created')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'replayed')).toHaveLength(24);
    expect(new Set(results.map((r) => ('order' in r ? r.order.id : null))).size).toBe(1);
    expect(await count('orders')).toBe(before.orders + 1);
    expect(await count('order_events')).toBe(before.events + 1);
    expect(await count('audit_log')).toBe(before.audit + 1);
  });

  describe('quotes', () => {
    const quote = (o: Partial<Parameters<QuoteRepository['create']>[0]> = {}) =>
      quotes.create({
        brokerId: brokerA,
        validUntil: at(1),
        tier: 'reserved',
        gpuModel: 'H100-SXM-80GB',
        pool: 'h100-a',
        gpuCount: 16,
        priceUsdPerGpuHour: '3.1250',
        noticeSeconds: 3600,
        durationSeconds: 7200,
        endBy: null,
        request: { gpuModels: ['H100-SXM-80GB', 'H200-SXM-141GB'], minVramGiB: 64, maxUsdPerGpuHour: 4 },
        at: T0,
        ...o,
      });
    const fromQuote = (quoteId: string, o: Partial<CreateBidInput> = {}) => {
      const { bid: _bid, ...rest } = bid(o);
      return { ...rest, quoteId, at: at(0.5) };
    };

    it('stores a quote with its audit entry', async () => {
      const q = await quote({ audit: { actor: 'sy_x', role: 'compute-broker', action: 'quote.create' } });
      expect(q).toMatchObject({
        brokerId: brokerA,
        createdAt: T0,
        validUntil: at(1),
        priceUsdPerGpuHour: '3.1250',
        orderId: null,
        request: { minVramGiB: 64 },
      });
      expect(await quotes.get(q.id)).toEqual(q);
      expect(await quotes.get(q.id, brokerB)).toBeUndefined();
      const audit = await new AuditRepository(db).list({ target: `quote:${q.id}` });
      expect(audit.items[0]).toMatchObject({
        action: 'quote.create',
        detail: { pool: 'h100-a', gpuCount: 16 },
      });
    });

    it('places an order from a quote, taking its terms and marking it used in the same statement', async () => {
      const q = await quote();
      const r = await repo.create(fromQuote(q.id));
      expect(r.outcome).toBe('created');
      if (r.outcome !== 'created') return;
      expect(r.order).toMatchObject({
        tier: 'reserved',
        gpuModels: ['H100-SXM-80GB'],
        gpuCount: 16,
        minVramGib: 64,
        maxUsdPerGpuHour: '4.0000',
        priceUsdPerGpuHour: '3.1250',
        durationSeconds: 7200,
        noticeSeconds: 3600,
        pool: 'h100-a',
        quoteId: q.id,
      });
      expect((await quotes.get(q.id))?.orderId).toBe(r.order.id);
      // Taken: another order cannot use it.
      expect(await repo.create(fromQuote(q.id))).toEqual({ outcome: 'quote-unusable', problem: 'used' });
      // The same key and body again: the same order.
      const replay = await repo.create({
        ...fromQuote(q.id),
        idempotencyKey: r.order.idempotencyKey!,
        requestHash: r.order.requestHash!,
      });
      expect(replay).toMatchObject({ outcome: 'replayed', order: { id: r.order.id } });
    });

    it('refuses an expired quote, another broker’s, and an unknown one, writing nothing', async () => {
      const before = await count('orders');
      const expired = await quote({ validUntil: at(0.25) });
      expect(await repo.create(fromQuote(expired.id))).toEqual({
        outcome: 'quote-unusable',
        problem: 'expired',
      });
      const mine = await quote();
      expect(await repo.create(fromQuote(mine.id, { brokerId: brokerB }))).toEqual({
        outcome: 'quote-unusable',
        problem: 'not-found',
      });
      expect(await repo.create(fromQuote('00000000-0000-4000-8000-000000000000'))).toEqual({
        outcome: 'quote-unusable',
        problem: 'not-found',
      });
      expect(await repo.create(fromQuote('not-a-uuid'))).toEqual({
        outcome: 'quote-unusable',
        problem: 'not-found',
      });
      expect(await count('orders')).toBe(before);
      expect((await quotes.get(mine.id))?.orderId).toBeNull();
    });

    it('lets one of many concurrent orders take a quote', async () => {
      const q = await quote();
      const results = await Promise.all(Array.from({ length: 10 }, () => repo.create(fromQuote(q.id))));
      expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1);
      expect(results.filter((r) => r.outcome === 'quote-unusable')).toHaveLength(9);
      const rows = await queryRows(db, sql`select count(*) as n from orders where quote_id = ${q.id}`);
      expect(Number(rows[0]!.n)).toBe(1);
    });
  });

  describe('transitions', () => {
    const placed = async (o: Partial<CreateBidInput> = {}) => {
      const r = await repo.create(bid({ at: T0, ...o }));
      if (r.outcome !== 'created') throw new Error('not created');
      return r.order;
    };

    it('moves an order through its life, setting pool, start, notice and end', async () => {
      const o = await placed();
      const a = await repo.transition(o.id, ['pending'], 'admitted', 'admitted to h100-a', {
        at: at(1),
        pool: 'h100-a',
        priceUsdPerGpuHour: '2.2000',
      });
      expect(a).toMatchObject({
        ok: true,
        order: { state: 'admitted', pool: 'h100-a', priceUsdPerGpuHour: '2.2000', updatedAt: at(1) },
        event: { fromState: 'pending', toState: 'admitted', at: at(1), reason: 'admitted to h100-a' },
      });
      const r = await repo.transition(o.id, ['admitted'], 'running', 'h100-a serves it', { at: at(2) });
      expect(r).toMatchObject({ ok: true, order: { state: 'running', startedAt: at(2), endedAt: null } });
      const p = await repo.announcePreemption(o.id, at(17), 'grid dispatch', { at: at(2) });
      expect(p).toMatchObject({
        ok: true,
        order: { state: 'preempting', preemptAt: at(17), startedAt: at(2) },
      });
      const e = await repo.transition(o.id, ['preempting'], 'preempted', 'notice over', { at: at(17) });
      expect(e).toMatchObject({
        ok: true,
        order: { state: 'preempted', endedAt: at(17), preemptAt: at(17) },
      });
      expect((await repo.events(o.id)).map((x) => [x.fromState, x.toState])).toEqual([
        [null, 'pending'],
        ['pending', 'admitted'],
        ['admitted', 'running'],
        ['running', 'preempting'],
        ['preempting', 'preempted'],
      ]);
    });

    it('writes nothing when the order is not in an expected state, and says where it is', async () => {
      const o = await placed();
      const events = await count('order_events');
      const r = await repo.transition(o.id, ['running'], 'completed', 'ran its term');
      expect(r).toMatchObject({ ok: false, conflict: 'state', order: { id: o.id, state: 'pending' } });
      expect(
        await repo.transition('00000000-0000-4000-8000-000000000000', ['pending'], 'cancelled', 'x'),
      ).toEqual({
        ok: false,
        conflict: 'not-found',
      });
      expect(await repo.transition('nope', ['pending'], 'cancelled', 'x')).toEqual({
        ok: false,
        conflict: 'not-found',
      });
      expect(await count('order_events')).toBe(events);
    });

    it('refuses moves out of terminal states and moves that lack what they need', async () => {
      const o = await placed();
      await expect(repo.transition(o.id, ['cancelled'], 'running', 'x')).rejects.toThrow(RangeError);
      await expect(repo.transition(o.id, ['running'], 'preempting', 'x')).rejects.toThrow(/preemptAt/);
      await expect(repo.transition(o.id, ['pending'], 'admitted', 'x')).rejects.toThrow(/pool/);
      await expect(repo.transition(o.id, ['pending'], 'pending', 'x')).rejects.toThrow(RangeError);
    });

    it('lets one of two concurrent moves win', async () => {
      const o = await placed();
      const [x, y] = await Promise.all([
        repo.transition(o.id, ['pending', 'admitted'], 'cancelled', 'broker cancelled', {
          audit: { actor: 'sy_b', role: 'compute-broker', action: 'order.cancel' },
        }),
        repo.transition(o.id, ['pending'], 'admitted', 'planner', { pool: 'h100-a' }),
      ]);
      const wins = [x, y].filter((r) => r.ok);
      expect(wins.length).toBeGreaterThanOrEqual(1);
      const events = await repo.events(o.id);
      // Every event follows from the one before it.
      for (let i = 1; i < events.length; i++) expect(events[i]!.fromState).toBe(events[i - 1]!.toState);
      expect(events.length).toBe(1 + wins.length);
    });

    it('clears the pool when an admission is withdrawn', async () => {
      const o = await placed();
      await repo.transition(o.id, ['pending'], 'admitted', 'in', { pool: 'h100-a' });
      const back = await repo.transition(o.id, ['admitted'], 'pending', 'withdrawn');
      expect(back).toMatchObject({ ok: true, order: { state: 'pending', pool: null } });
    });

    it("lists open orders in creation order, in the controller's shape, per site's pools", async () => {
      const broker = (
        await new BrokerRepository(db).create({ name: `list-active-${driver}`, kind: 'compute' })
      ).id;
      const mk = async (minutes: number) => placed({ brokerId: broker, at: at(minutes) });
      const pending = await mk(1);
      const elsewhere = await mk(2);
      await repo.transition(elsewhere.id, ['pending'], 'admitted', 'in', { pool: 'other-pool' });
      const here = await mk(3);
      await repo.transition(here.id, ['pending'], 'admitted', 'in', { pool: 'h100-a' });
      const done = await mk(4);
      await repo.transition(done.id, ['pending'], 'cancelled', 'x');
      const mine = (xs: { id: string }[]) =>
        xs.filter((x) => [pending.id, elsewhere.id, here.id, done.id].includes(x.id));

      const all = mine(await repo.listActive());
      expect(all.map((o) => o.id)).toEqual([pending.id, elsewhere.id, here.id]);
      expect(all[0]).toEqual({
        id: pending.id,
        brokerId: broker,
        state: 'pending',
        tier: 'on-demand',
        gpuModels: ['H100-SXM-80GB'],
        minVramGib: 40,
        gpuCount: 8,
        priceUsdPerGpuHour: 2.5,
        noticeSeconds: 900,
        pool: null,
        durationSeconds: 3600,
        endBy: null,
        startedAt: null,
        preemptAt: null,
        createdAt: at(1),
      });
      expect(mine(await repo.listActive({ pools: ['h100-a'] })).map((o) => o.id)).toEqual([
        pending.id,
        here.id,
      ]);
      expect(mine(await repo.listActive({ states: ['admitted'] })).map((o) => o.id)).toEqual([
        elsewhere.id,
        here.id,
      ]);
    });
  });

  describe('pages', () => {
    let broker: string;
    const ids: string[] = [];

    beforeAll(async () => {
      broker = (await new BrokerRepository(db).create({ name: `pages-${driver}`, kind: 'compute' })).id;
      // 230 orders; many share a creation time to the microsecond, so ties are broken by id.
      for (let i = 0; i < 230; i++) {
        const r = await repo.create(
          bid({
            brokerId: broker,
            at: at(Math.floor(i / 7)),
            bid: {
              ...TERMS,
              tier: i % 3 === 0 ? 'interruptible' : 'on-demand',
              gpuModels: i % 2 ? ['H200-SXM-141GB'] : ['H100-SXM-80GB'],
            },
          }),
        );
        if (r.outcome === 'created') ids.push(r.order.id);
      }
      // A creation time with microseconds, as the database's clock writes it.
      await queryRows(
        db,
        sql`update orders set created_at = created_at + interval '123 microseconds' where id = ${ids[0]!}`,
      );
    });

    it('walks every order once, newest first, across pages', async () => {
      const seen: string[] = [];
      let cursor;
      let pages = 0;
      do {
        const page = await repo.list({ brokerId: broker, limit: 40, cursor });
        seen.push(...page.items.map((o) => o.id));
        cursor = page.next ?? undefined;
        pages++;
      } while (cursor);
      expect(pages).toBe(6);
      expect(seen).toHaveLength(230);
      expect(new Set(seen).size).toBe(230);
      expect(new Set(seen)).toEqual(new Set(ids));
      // Newest first.
      const created = new Map(
        (await repo.list({ brokerId: broker, limit: 200 })).items.map((o) => [o.id, o.createdAt.getTime()]),
      );
      const firstPage = seen.slice(0, 200);
      for (let i = 1; i < firstPage.length; i++)
        expect(created.get(firstPage[i]!)!).toBeLessThanOrEqual(created.get(firstPage[i - 1]!)!);
    });

    it('filters by state, tier, GPU model and creation time', async () => {
      const all = async (o: Parameters<OrderRepository['list']>[0]) => {
        const out: string[] = [];
        let cursor;
        do {
          const p = await repo.list({ brokerId: broker, limit: 200, ...o, cursor });
          out.push(...p.items.map((x) => x.id));
          cursor = p.next ?? undefined;
        } while (cursor);
        return out;
      };
      expect(await all({ tier: 'interruptible' })).toHaveLength(77);
      expect(await all({ gpuModel: 'H200-SXM-141GB' })).toHaveLength(115);
      expect(await all({ state: 'pending' })).toHaveLength(230);
      expect(await all({ state: 'running' })).toHaveLength(0);
      // Minutes 0..32, 7 a minute (the last has 6): minutes 10 to 19 hold 70.
      expect(await all({ createdAfter: at(10), createdBefore: at(20) })).toHaveLength(70);
      expect((await repo.list({ brokerId: brokerB, limit: 200 })).items.map((o) => o.brokerId)).not.toContain(
        broker,
      );
    });

    it('encodes cursors opaquely and refuses forged ones', () => {
      const c = { createdAt: '2026-07-01T12:00:00.000123Z', id: ids[0]! };
      expect(decodeOrderCursor(encodeOrderCursor(c))).toEqual(c);
      for (const bad of [
        '',
        'abc',
        Buffer.from('[1,2]').toString('base64url'),
        Buffer.from('["x","y"]').toString('base64url'),
      ])
        expect(decodeOrderCursor(bad)).toBeUndefined();
    });
  });

  it('reads the newest usable price per signal and subject', async () => {
    const row = (signal: string, value: number, observedAt: Date, detail: Record<string, unknown>) =>
      queryRows(
        db,
        sql`insert into signal_readings (observed_at, source, signal, value, unit, detail)
            values (${observedAt.toISOString()}::timestamptz, 'test', ${signal}, ${value}, 'x', ${JSON.stringify(detail)}::jsonb) returning id`,
      );
    await row('gpu_usd_per_gpu_hour', 2.1, at(-120), { status: 'accepted', subject: 'H100-SXM-80GB' });
    await row('gpu_usd_per_gpu_hour', 2.4, at(-60), { status: 'accepted', subject: 'H100-SXM-80GB' });
    await row('gpu_usd_per_gpu_hour', 9.9, at(-30), { status: 'rejected', subject: 'H100-SXM-80GB' });
    await row('gpu_usd_per_gpu_hour', 3.3, at(-10), { status: 'confirmed', subject: 'H200-SXM-141GB' });
    await row('gpu_usd_per_gpu_hour', 5.5, at(30), { status: 'accepted', subject: 'H200-SXM-141GB' });
    await row('energy_usd_per_mwh', 41, at(-5), { status: 'accepted', validUntil: at(0).toISOString() });
    await row('btc_usd', 60_000, at(-1), { status: 'accepted' });
    const latest = await quotes.latestPrices({ now: T0, since: at(-24 * 60) });
    expect(latest).toEqual([
      { signal: 'energy_usd_per_mwh', subject: null, value: 41, observedAt: at(-5), validUntil: at(0) },
      {
        signal: 'gpu_usd_per_gpu_hour',
        subject: 'H100-SXM-80GB',
        value: 2.4,
        observedAt: at(-60),
        validUntil: null,
      },
      {
        signal: 'gpu_usd_per_gpu_hour',
        subject: 'H200-SXM-141GB',
        value: 3.3,
        observedAt: at(-10),
        validUntil: null,
      },
    ]);
    expect(await quotes.latestPrices({ now: T0, since: at(-20) })).toHaveLength(2);
  });
});
