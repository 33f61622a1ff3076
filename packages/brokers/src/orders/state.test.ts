// The order state machine's table and the broker events of a transition.
import { describe, expect, it } from '@jest/globals';
import { ORDER_STATES } from '@switchyard/db';
import {
  canTransitionOrder,
  isTerminalOrderState,
  ORDER_TRANSITIONS,
  orderSourcesOf,
  orderStateEvent,
  preemptionNoticeEvent,
  TERMINAL_ORDER_STATES,
  type EventOrder,
} from './state.ts';

const order: EventOrder = {
  id: '11111111-1111-4111-8111-111111111111',
  brokerId: '22222222-2222-4222-8222-222222222222',
  state: 'preempting',
  pool: 'h100-a',
  noticeSeconds: 300,
  preemptAt: new Date('2026-07-01T12:05:00Z'),
  startedAt: new Date('2026-07-01T11:00:00Z'),
  endedAt: null,
};
const AT = new Date('2026-07-01T12:00:00Z');

describe('order transitions', () => {
  it('covers every state; terminal states move nowhere', () => {
    expect(Object.keys(ORDER_TRANSITIONS).sort()).toEqual([...ORDER_STATES].sort());
    for (const s of TERMINAL_ORDER_STATES) {
      expect(ORDER_TRANSITIONS[s]).toEqual([]);
      expect(isTerminalOrderState(s)).toBe(true);
    }
    expect(isTerminalOrderState('running')).toBe(false);
  });

  it('follows the lifecycle pending → admitted → running → preempting → preempted', () => {
    expect(canTransitionOrder('pending', 'admitted')).toBe(true);
    expect(canTransitionOrder('admitted', 'running')).toBe(true);
    expect(canTransitionOrder('running', 'preempting')).toBe(true);
    expect(canTransitionOrder('preempting', 'preempted')).toBe(true);
    expect(canTransitionOrder('admitted', 'pending')).toBe(true);
    expect(canTransitionOrder('pending', 'running')).toBe(false);
    expect(canTransitionOrder('completed', 'running')).toBe(false);
    expect(canTransitionOrder('preempting', 'running')).toBe(false);
  });

  it('names the states each state is reached from', () => {
    expect(orderSourcesOf('cancelled')).toEqual(['pending', 'admitted', 'running', 'preempting']);
    expect(orderSourcesOf('running')).toEqual(['admitted']);
    expect(orderSourcesOf('preempting')).toEqual(['running']);
    expect(orderSourcesOf('pending')).toEqual(['admitted']);
  });
});

describe('broker events', () => {
  const t = {
    id: 42,
    at: AT,
    fromState: 'running' as const,
    toState: 'preempting' as const,
    reason: 'grid dispatch',
  };

  it('builds the order.state event of a transition', () => {
    expect(orderStateEvent(order, t)).toEqual({
      eventId: `order:${order.id}:42`,
      brokerId: order.brokerId,
      event: 'order.state',
      at: AT,
      payload: {
        orderId: order.id,
        from: 'running',
        to: 'preempting',
        reason: 'grid dispatch',
        pool: 'h100-a',
        startedAt: '2026-07-01T11:00:00.000Z',
        endedAt: null,
        preemptAt: '2026-07-01T12:05:00.000Z',
      },
    });
    const created = orderStateEvent(
      { ...order, state: 'pending', preemptAt: null },
      { ...t, id: 1, fromState: null, toState: 'pending' },
    );
    expect(created.payload).toMatchObject({ from: null, to: 'pending', preemptAt: null });
  });

  it('builds the preemption notice, with its own event id', () => {
    expect(preemptionNoticeEvent(order, t)).toEqual({
      eventId: `order:${order.id}:42:preemption-notice`,
      brokerId: order.brokerId,
      event: 'order.preemption-notice',
      at: AT,
      payload: {
        orderId: order.id,
        preemptAt: '2026-07-01T12:05:00.000Z',
        noticeSeconds: 300,
        reason: 'grid dispatch',
        pool: 'h100-a',
      },
    });
    expect(() => preemptionNoticeEvent({ ...order, preemptAt: null }, t)).toThrow(RangeError);
    expect(() => preemptionNoticeEvent(order, { ...t, toState: 'cancelled' })).toThrow(RangeError);
  });
});
