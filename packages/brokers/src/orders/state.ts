// The order state machine: which state may follow which, and the events brokers hear of each
// change. An order starts pending (a bid or a quote taken), is admitted to a pool by the planner,
// runs once its pool serves it, and ends completed, preempted, cancelled or failed. A running
// order that the planner takes back goes through preempting: the broker is told, and the order
// keeps its GPUs until its notice period is over (preemptAt).
//
//   pending ──► admitted ──► running ──► preempting ──► preempted
//      │  ▲         │           │  │          │
//      │  └─────────┘           │  └──────────┼──► completed
//      └───────────────────────►┴─────────────┴──► cancelled | failed
//
// The repository (OrderRepository.transition in @switchyard/db) moves an order atomically from
// one of the states it is given; orderSourcesOf(to) gives it the states this table allows.
import {
  BILLED_ORDER_STATES,
  HOLDING_ORDER_STATES,
  TERMINAL_ORDER_STATES,
  type OrderState,
} from '@switchyard/db';
import type { BrokerEvent } from '../events.ts';

export { BILLED_ORDER_STATES, HOLDING_ORDER_STATES, TERMINAL_ORDER_STATES };

/** For each state, the states it may move to. Terminal states move nowhere. */
export const ORDER_TRANSITIONS: Readonly<Record<OrderState, readonly OrderState[]>> = {
  pending: ['admitted', 'cancelled', 'failed'],
  // Back to pending: the planner withdrew an admission before the order ran.
  admitted: ['running', 'pending', 'cancelled', 'failed'],
  // Straight to preempted: taken back with no notice (a zero notice period).
  running: ['preempting', 'preempted', 'completed', 'cancelled', 'failed'],
  preempting: ['preempted', 'completed', 'cancelled', 'failed'],
  completed: [],
  preempted: [],
  cancelled: [],
  failed: [],
};

export function isTerminalOrderState(s: OrderState): boolean {
  return (TERMINAL_ORDER_STATES as readonly string[]).includes(s);
}

export function canTransitionOrder(from: OrderState, to: OrderState): boolean {
  return ORDER_TRANSITIONS[from]?.includes(to) ?? false;
}

/** The states an order may be in to move to `to`, for OrderRepository.transition. */
export function orderSourcesOf(to: OrderState): OrderState[] {
  return (Object.keys(ORDER_TRANSITIONS) as OrderState[]).filter((from) => canTransitionOrder(from, to));
}

/** The order as the events below need it. */
export interface EventOrder {
  id: string;
  brokerId: string;
  state: OrderState;
  pool: string | null;
  noticeSeconds: number;
  preemptAt: Date | null;
  startedAt: Date | null;
  endedAt: Date | null;
}

/** One recorded transition (a row of order_events). */
export interface EventTransition {
  /** The event row's id. */
  id: number;
  at: Date;
  fromState: OrderState | null;
  toState: OrderState;
  reason: string;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The id of the 'order.state' event of a transition: `order:<orderId>:<eventRowId>`. */
export function orderStateEventId(orderId: string, eventRowId: number): string {
  return `order:${orderId}:${eventRowId}`;
}

/** The id of the preemption notice a transition to preempting announces. */
export function preemptionNoticeEventId(orderId: string, eventRowId: number): string {
  return `order:${orderId}:${eventRowId}:preemption-notice`;
}

/** The 'order.state' event that tells the broker of a transition, once it is committed. */
export function orderStateEvent(order: EventOrder, t: EventTransition): BrokerEvent {
  return {
    eventId: orderStateEventId(order.id, t.id),
    brokerId: order.brokerId,
    event: 'order.state',
    at: t.at,
    payload: {
      orderId: order.id,
      from: t.fromState,
      to: t.toState,
      reason: t.reason,
      pool: order.pool,
      startedAt: iso(order.startedAt),
      endedAt: iso(order.endedAt),
      preemptAt: t.toState === 'preempting' ? iso(order.preemptAt) : null,
    },
  };
}

/**
 * The 'order.preemption-notice' event of an order moved to preempting: the GPUs are taken back
 * at `preemptAt`, its notice period after the announcement.
 */
export function preemptionNoticeEvent(order: EventOrder, t: EventTransition): BrokerEvent {
  if (t.toState !== 'preempting' || !order.preemptAt)
    throw new RangeError(
      `order ${order.id}: a preemption notice needs a transition to preempting with preemptAt`,
    );
  return {
    eventId: preemptionNoticeEventId(order.id, t.id),
    brokerId: order.brokerId,
    event: 'order.preemption-notice',
    at: t.at,
    payload: {
      orderId: order.id,
      preemptAt: order.preemptAt.toISOString(),
      noticeSeconds: order.noticeSeconds,
      reason: t.reason,
      pool: order.pool,
    },
  };
}
