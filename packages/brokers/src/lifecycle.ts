// Orders as the controller sees them: which orders the planner is given, and what a plan does to
// them. Pure: the controller reads the active orders, asks `plannerOrders` for the planner's
// input, plans, then asks `orderTransitions` what to record; the store carries the transitions
// out and the webhook outbox tells the brokers.
//
// The rules:
// - pending orders are candidates; admitted and running ones hold their pool (reserved ones as
//   hard constraints, the planner's own rule);
// - an order being preempted keeps its nodes until its notice period is over: the planner is
//   given it as a running reserved order, so no plan drains it early; at `preemptAt` it ends;
// - a plan's new admission moves pending → admitted; an admitted order runs once its pool serves
//   enough nodes for everything admitted and running there;
// - a plan that takes an order back announces it: the notice goes out at once and the notice
//   period starts a short lead later, so the broker has it before the period begins; an order
//   not yet running goes back to pending instead: nothing of it ran, so it has nothing to be
//   warned of;
// - a grid dispatch preempts all other work (the product's safety rules): under one, an order
//   taken back is told and drained at once, its notice period cut short;
// - an order ends as completed when its duration (from its start) or its end-by time is reached;
//   a pending order whose end-by passed fails.
import type { ActiveOrderRecord, OrderState as StoredOrderState } from '@switchyard/db';
import type { Plan, PlannerOrder, PoolObservation } from '@switchyard/domain';

/** An active order as stored (pending, admitted, running or preempting): OrderRepository.listActive's. */
export type ActiveOrder = Omit<ActiveOrderRecord, 'createdAt'> & { createdAt?: Date };

export const ACTIVE_ORDER_STATES = ['pending', 'admitted', 'running', 'preempting'] as const;

/** The planner's view of the active orders. */
export function plannerOrders(orders: readonly ActiveOrder[]): PlannerOrder[] {
  const out: PlannerOrder[] = [];
  for (const o of orders) {
    const base = {
      id: o.id,
      broker: o.brokerId,
      gpuModels: o.gpuModels,
      minVramGiB: o.minVramGib,
      gpuCount: o.gpuCount,
      priceUsdPerGpuHour: o.priceUsdPerGpuHour,
      noticeSeconds: o.noticeSeconds,
    };
    if (o.state === 'pending') out.push({ ...base, tier: o.tier, state: 'pending' });
    else if (o.state === 'admitted' || o.state === 'running')
      out.push({ ...base, tier: o.tier, state: o.state, pool: o.pool ?? undefined });
    // Its notice is running: the nodes stay until preemptAt, whatever the prices say.
    else if (o.state === 'preempting' && o.pool)
      out.push({ ...base, tier: 'reserved', state: 'running', pool: o.pool });
  }
  return out;
}

export interface OrderTransition {
  orderId: string;
  brokerId: string;
  from: StoredOrderState;
  to: StoredOrderState;
  reason: string;
  pool?: string | undefined;
  /** Set when `to` is preempting: the end of the notice period. */
  preemptAt?: Date | undefined;
}

/** Whole nodes an order takes in a pool of `gpusPerNode`. */
const nodesFor = (gpuCount: number, gpusPerNode: number) => Math.ceil(gpuCount / Math.max(1, gpusPerNode));

/** When a running order is due to end: its duration from its start, or its end-by time. */
export function orderDueAt(o: ActiveOrder): Date | null {
  const byDuration =
    o.durationSeconds !== null && o.startedAt ? o.startedAt.getTime() + o.durationSeconds * 1000 : Infinity;
  const byEnd = o.endBy ? o.endBy.getTime() : Infinity;
  const t = Math.min(byDuration, byEnd);
  return Number.isFinite(t) ? new Date(t) : null;
}

export interface TransitionContext {
  now: Date;
  /** Each pool's GPUs per node (from the farm). */
  gpusPerNode: Record<string, number>;
  /** Each pool's observed nodes (serving counts). */
  pools: Record<string, PoolObservation>;
  /**
   * How long after the notice is sent its period starts (default 0): the notice goes out first,
   * so with a lead it has reached the broker when the period begins.
   */
  noticeLeadMs?: number;
  /**
   * A grid dispatch is in force: it preempts all other work, so an order taken back ends its
   * notice at once (the broker is still told, and the notice says so).
   */
  forced?: boolean;
}

/** Orders whose time is up, before any plan: completions, ended notices, expired bids. */
export function dueTransitions(orders: readonly ActiveOrder[], now: Date): OrderTransition[] {
  const out: OrderTransition[] = [];
  const t = now.getTime();
  for (const o of orders) {
    const base = { orderId: o.id, brokerId: o.brokerId, from: o.state };
    if (o.state === 'preempting' && o.preemptAt && o.preemptAt.getTime() <= t)
      out.push({ ...base, to: 'preempted', reason: 'notice period over; the capacity is taken back' });
    else if (o.state === 'running') {
      const due = orderDueAt(o);
      if (due && due.getTime() <= t) out.push({ ...base, to: 'completed', reason: 'ran its full term' });
    } else if ((o.state === 'pending' || o.state === 'admitted') && o.endBy && o.endBy.getTime() <= t)
      out.push({ ...base, to: 'failed', reason: 'its end-by time passed before it could run' });
  }
  return out;
}

/**
 * What a plan does to the orders it was given: admissions, preemptions (notice first), and
 * starts once the pool serves enough nodes. `orders` are the active orders the plan was made
 * from, after `dueTransitions` (so none of them is over).
 */
export function planTransitions(
  plan: Pick<Plan, 'admitted' | 'rejected'>,
  orders: readonly ActiveOrder[],
  ctx: TransitionContext,
): OrderTransition[] {
  const out: OrderTransition[] = [];
  const byId = new Map(orders.map((o) => [o.id, o]));
  const admitted = new Map(plan.admitted.map((a) => [a.orderId, a]));
  for (const r of plan.rejected) {
    const o = byId.get(r.orderId);
    if (!o || !r.preempted) continue;
    const base = { orderId: o.id, brokerId: o.brokerId, from: o.state };
    if (o.state === 'admitted')
      out.push({ ...base, to: 'pending', reason: `admission withdrawn before it ran: ${r.reason}` });
    else if (o.state === 'running')
      out.push({
        ...base,
        to: 'preempting',
        reason: ctx.forced ? `grid dispatch: ${r.reason}` : r.reason,
        preemptAt: ctx.forced
          ? ctx.now
          : new Date(ctx.now.getTime() + (ctx.noticeLeadMs ?? 0) + o.noticeSeconds * 1000),
      });
  }
  // Nodes each pool owes to the orders already running (and being preempted) there.
  const owed: Record<string, number> = {};
  const owe = (pool: string, gpus: number) =>
    (owed[pool] = (owed[pool] ?? 0) + nodesFor(gpus, ctx.gpusPerNode[pool] ?? 1));
  for (const o of orders)
    if ((o.state === 'running' || o.state === 'preempting') && o.pool) owe(o.pool, o.gpuCount);
  // Admitted orders start oldest first (the store lists them in creation order).
  for (const o of orders) {
    const a = admitted.get(o.id);
    if (!a) continue;
    if (o.state === 'pending')
      out.push({
        orderId: o.id,
        brokerId: o.brokerId,
        from: 'pending',
        to: 'admitted',
        reason: `admitted to ${a.pool} at ${a.priceUsdPerGpuHour} USD per GPU-hour`,
        pool: a.pool,
      });
    else if (o.state === 'admitted' && o.pool) {
      const serving = ctx.pools[o.pool]?.serving ?? 0;
      const need = (owed[o.pool] ?? 0) + nodesFor(o.gpuCount, ctx.gpusPerNode[o.pool] ?? 1);
      if (serving >= need) {
        owe(o.pool, o.gpuCount);
        out.push({
          orderId: o.id,
          brokerId: o.brokerId,
          from: 'admitted',
          to: 'running',
          reason: `${o.pool} serves its nodes`,
        });
      }
    }
  }
  return out;
}
