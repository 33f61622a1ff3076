// The order lifecycle's rules, on hand-made orders and plans.
import { describe, expect, it } from '@jest/globals';
import type { AdmittedOrder, RejectedOrder } from '@switchyard/domain';
import { dueTransitions, orderDueAt, plannerOrders, planTransitions, type ActiveOrder } from './lifecycle.ts';

const NOW = new Date('2026-12-01T12:00:00Z');
const min = (n: number) => new Date(NOW.getTime() + n * 60_000);

const order = (o: Partial<ActiveOrder> & Pick<ActiveOrder, 'id' | 'state'>): ActiveOrder => ({
  brokerId: 'b1',
  tier: 'on-demand',
  gpuModels: ['H100-SXM-80GB'],
  minVramGib: 0,
  gpuCount: 8,
  priceUsdPerGpuHour: 2.5,
  noticeSeconds: 300,
  pool: null,
  durationSeconds: 3600,
  endBy: null,
  startedAt: null,
  preemptAt: null,
  ...o,
});

const admitted = (orderId: string, pool: string, isNew = true): AdmittedOrder => ({
  orderId,
  broker: 'b1',
  tier: 'on-demand',
  pool,
  nodes: 1,
  gpus: 8,
  gpusByNode: [8],
  priceUsdPerGpuHour: 2.5,
  isNew,
});

const rejected = (orderId: string, preempted: boolean): RejectedOrder => ({
  orderId,
  broker: 'b1',
  tier: 'on-demand',
  reason: 'hashing pays more',
  preempted,
  noticeSeconds: 300,
});

const ctx = (serving: number) => ({
  now: NOW,
  gpusPerNode: { h100: 8 },
  pools: { h100: { serving, hashing: 0, idle: 0, unavailable: 0 } },
});

describe('plannerOrders', () => {
  it('gives pending orders as candidates, held ones in their pool, and a preempting one as reserved', () => {
    const out = plannerOrders([
      order({ id: 'p', state: 'pending' }),
      order({ id: 'a', state: 'admitted', pool: 'h100' }),
      order({ id: 'r', state: 'running', pool: 'h100', tier: 'interruptible' }),
      order({ id: 'x', state: 'preempting', pool: 'h100', tier: 'interruptible', preemptAt: min(5) }),
    ]);
    expect(out.map((o) => [o.id, o.state, o.tier, o.pool])).toEqual([
      ['p', 'pending', 'on-demand', undefined],
      ['a', 'admitted', 'on-demand', 'h100'],
      ['r', 'running', 'interruptible', 'h100'],
      ['x', 'running', 'reserved', 'h100'],
    ]);
  });
});

describe('dueTransitions', () => {
  it('completes a running order at the end of its term, ends a notice, and fails an expired bid', () => {
    const orders = [
      order({ id: 'done', state: 'running', pool: 'h100', startedAt: min(-61) }),
      order({ id: 'early', state: 'running', pool: 'h100', startedAt: min(-59) }),
      order({ id: 'endby', state: 'running', pool: 'h100', startedAt: min(-5), endBy: min(-1) }),
      order({ id: 'notice', state: 'preempting', pool: 'h100', preemptAt: min(-0.1) }),
      order({ id: 'notyet', state: 'preempting', pool: 'h100', preemptAt: min(1) }),
      order({ id: 'stale', state: 'pending', endBy: min(-1) }),
    ];
    expect(dueTransitions(orders, NOW).map((t) => [t.orderId, t.from, t.to])).toEqual([
      ['done', 'running', 'completed'],
      ['endby', 'running', 'completed'],
      ['notice', 'preempting', 'preempted'],
      ['stale', 'pending', 'failed'],
    ]);
    expect(orderDueAt(orders[1]!)).toEqual(min(1));
    expect(orderDueAt(order({ id: 'p', state: 'pending' }))).toBeNull();
  });
});

describe('planTransitions', () => {
  it('cuts the notice short under a grid dispatch', () => {
    const orders = [order({ id: 'run', state: 'running', pool: 'h100', startedAt: min(-10) })];
    const [t] = planTransitions({ admitted: [], rejected: [rejected('run', true)] }, orders, {
      ...ctx(1),
      noticeLeadMs: 15_000,
      forced: true,
    });
    expect(t).toMatchObject({ to: 'preempting', preemptAt: NOW, reason: 'grid dispatch: hashing pays more' });
  });

  it('admits new orders, and starts admitted ones only once the pool serves their nodes', () => {
    const orders = [
      order({ id: 'run', state: 'running', pool: 'h100', startedAt: min(-10) }),
      order({ id: 'adm1', state: 'admitted', pool: 'h100' }),
      order({ id: 'adm2', state: 'admitted', pool: 'h100' }),
      order({ id: 'new', state: 'pending' }),
    ];
    const plan = {
      admitted: [
        admitted('run', 'h100', false),
        admitted('adm1', 'h100', false),
        admitted('adm2', 'h100', false),
        admitted('new', 'h100'),
      ],
      rejected: [],
    };
    // Two nodes serve: one is the running order's, one starts adm1; adm2 waits.
    const out = planTransitions(plan, orders, ctx(2));
    expect(out.map((t) => [t.orderId, t.from, t.to, t.pool])).toEqual([
      ['adm1', 'admitted', 'running', undefined],
      ['new', 'pending', 'admitted', 'h100'],
    ]);
    expect(planTransitions(plan, orders, ctx(3)).filter((t) => t.to === 'running')).toHaveLength(2);
  });

  it('announces a preemption with the notice period from now, and un-admits what never ran', () => {
    const orders = [
      order({ id: 'run', state: 'running', pool: 'h100', startedAt: min(-10), noticeSeconds: 120 }),
      order({ id: 'adm', state: 'admitted', pool: 'h100' }),
      order({ id: 'pend', state: 'pending' }),
    ];
    const out = planTransitions(
      { admitted: [], rejected: [rejected('run', true), rejected('adm', true), rejected('pend', false)] },
      orders,
      { ...ctx(2), noticeLeadMs: 15_000 },
    );
    expect(out).toEqual([
      {
        orderId: 'run',
        brokerId: 'b1',
        from: 'running',
        to: 'preempting',
        reason: 'hashing pays more',
        preemptAt: min(2.25), // the 15 s lead, then the 120 s notice
      },
      {
        orderId: 'adm',
        brokerId: 'b1',
        from: 'admitted',
        to: 'pending',
        reason: 'admission withdrawn before it ran: hashing pays more',
      },
    ]);
  });
});
