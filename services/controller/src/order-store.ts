// The controller's default order, override and policy stores: the database's, in the shapes the
// ports take (ControllerOrders, the planner's overrides, the farm with its policy in force).
import { OrderRepository, OverrideRepository, PolicyRepository, type Database } from '@switchyard/db';
import { allocationPolicySpecSchema, type Farm, type Override } from '@switchyard/domain';
import { orderStateEvent, preemptionNoticeEvent } from '@switchyard/brokers';
import type { ControllerOrders } from './ports.ts';

/** The site's open orders (placed in its pools, or pending anywhere), moved with OrderRepository. */
export function databaseOrders(db: Database, pools: readonly string[]): ControllerOrders {
  const repo = new OrderRepository(db);
  return {
    active: () => repo.listActive({ pools }),
    async apply(t) {
      const r = await repo.transition(t.orderId, [t.from], t.to, t.reason, {
        ...(t.pool !== undefined && { pool: t.pool }),
        ...(t.preemptAt !== undefined && { preemptAt: t.preemptAt }),
      });
      if (!r.ok) return null;
      // The notice first: it is what the broker must act on.
      return t.to === 'preempting'
        ? [preemptionNoticeEvent(r.order, r.event), orderStateEvent(r.order, r.event)]
        : [orderStateEvent(r.order, r.event)];
    },
  };
}

/** Overrides in force now or starting within `horizonMs` (a plan looks that far ahead). */
export function databaseOverrides(
  db: Database,
  site: string,
  horizonMs = 60 * 60_000,
): () => Promise<Override[]> {
  const repo = new OverrideRepository(db);
  return () => repo.active(site, new Date(), { horizonMs });
}

/**
 * The farm with the site's allocation policy in force: the newest version set through the API
 * (PUT /policy, validated there with the domain's rules) over the farm file's spec. The same farm
 * goes to the planner and the sequencer, so margins and ramp limits change together.
 */
export function withPolicy(farm: Farm, site: string, latest: Record<string, unknown> | undefined): Farm {
  if (!latest) return farm;
  const fromFile = farm.policies.find((p) => p.spec.site === site);
  const spec = allocationPolicySpecSchema.parse({ ...(fromFile?.spec ?? {}), ...latest, site });
  const policy = fromFile
    ? { ...fromFile, spec }
    : {
        apiVersion: 'switchyard.io/v1alpha1' as const,
        kind: 'AllocationPolicy' as const,
        metadata: { name: `${site}-policy` },
        spec,
      };
  return { ...farm, policies: [...farm.policies.filter((p) => p.spec.site !== site), policy] };
}

/** The newest policy version set through the API for a site (undefined: the farm file's). */
export function databasePolicy(
  db: Database,
  site: string,
): () => Promise<Record<string, unknown> | undefined> {
  const repo = new PolicyRepository(db);
  return async () => (await repo.latest(site))?.spec;
}
