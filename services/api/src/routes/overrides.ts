// Operator overrides: pin a fleet to asleep or one of its profiles, or a GPU pool to idle,
// serving or hashing, for a window of at most 7 days. The target must be in the farm and the
// mode one it can take; two overrides of one target never overlap (409). Creating and cancelling
// are audited in the same transaction, then an `override` control event tells the controller.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { fleetProfiles, type Farm } from '@switchyard/domain';
import {
  AuditRepository,
  OverrideRepository,
  overrideState,
  type CreateOverrideInput,
  type OverrideRecord,
} from '@switchyard/db';
import { auditEntry } from '../audit.ts';
import { principalOf } from '../auth.ts';
import { HttpProblem } from '../problem.ts';
import { useTypeBox } from '../schemas/common.ts';
import {
  cancelOverrideSchema,
  createOverrideSchema,
  getOverrideSchema,
  listOverridesSchema,
  MAX_OVERRIDE_LEAD_SECONDS,
  MAX_OVERRIDE_SECONDS,
  MIN_OVERRIDE_SECONDS,
} from '../schemas/operator.ts';
import { invalid, notFound, notify, parseIsoTime, type OperatorRouteOptions } from './operator-support.ts';

/** A start this far in the past is taken (clock skew); an earlier one is refused. */
const PAST_START_GRACE_MS = 5 * 60_000;
export const POOL_MODES = ['idle', 'serving', 'hashing'] as const;

export function overrideJson(o: OverrideRecord, at: Date) {
  return {
    id: o.id,
    site: o.site,
    targetKind: o.targetKind,
    target: o.target,
    mode: o.mode,
    startsAt: o.startsAt.toISOString(),
    endsAt: o.endsAt.toISOString(),
    reason: o.reason,
    createdBy: o.createdBy,
    createdAt: o.createdAt.toISOString(),
    cancelledAt: o.cancelledAt ? o.cancelledAt.toISOString() : null,
    state: overrideState(o, at),
  };
}

/** The target's site and the modes it may be pinned to; a 400 naming the field otherwise. */
function targetOf(farm: Farm, kind: 'fleet' | 'pool', name: string): { site: string; modes: string[] } {
  if (kind === 'fleet') {
    const fleet = farm.fleets.find((f) => f.metadata.name === name);
    if (!fleet) throw invalid('target', `is not a miner fleet of the farm (no fleet ${name})`);
    return { site: fleet.spec.site, modes: ['asleep', ...fleetProfiles(fleet).map((p) => p.name)] };
  }
  const pool = farm.pools.find((p) => p.metadata.name === name);
  if (!pool) throw invalid('target', `is not a GPU pool of the farm (no pool ${name})`);
  const modes = POOL_MODES.filter((m) => m !== 'hashing' || pool.spec.hashing?.enabled === true);
  return { site: pool.spec.site, modes };
}

function timeOf(field: string, value: string): Date {
  const d = parseIsoTime(value);
  if (!d) throw invalid(field, 'is not a valid time');
  return d;
}

interface WindowInput {
  startsAt?: string | null | undefined;
  endsAt?: string | null | undefined;
  durationSeconds?: number | null | undefined;
}

/** The override's window from the body, checked against `now`; a 400 naming the field otherwise. */
function windowOf(b: WindowInput, now: Date): { startsAt: Date; endsAt: Date } {
  const startsAt = b.startsAt == null ? now : timeOf('startsAt', b.startsAt);
  if (startsAt.getTime() < now.getTime() - PAST_START_GRACE_MS)
    throw invalid('startsAt', 'must not be in the past');
  if (startsAt.getTime() > now.getTime() + MAX_OVERRIDE_LEAD_SECONDS * 1000)
    throw invalid('startsAt', `must be within ${MAX_OVERRIDE_LEAD_SECONDS / 86_400} days from now`);
  const hasEnd = b.endsAt != null;
  const hasDuration = b.durationSeconds != null;
  if (hasEnd === hasDuration) throw invalid('endsAt', 'or durationSeconds: exactly one of them is required');
  const field = hasEnd ? 'endsAt' : 'durationSeconds';
  const endsAt = hasEnd
    ? timeOf('endsAt', b.endsAt!)
    : new Date(startsAt.getTime() + (b.durationSeconds as number) * 1000);
  const seconds = (endsAt.getTime() - startsAt.getTime()) / 1000;
  if (seconds < MIN_OVERRIDE_SECONDS || seconds > MAX_OVERRIDE_SECONDS)
    throw invalid(
      field,
      `must make the override last from ${MIN_OVERRIDE_SECONDS} s to ${MAX_OVERRIDE_SECONDS / 86_400} days`,
    );
  if (endsAt.getTime() <= now.getTime()) throw invalid(field, 'must be in the future');
  return { startsAt, endsAt };
}

export const overrideRoutes: FastifyPluginAsync<OperatorRouteOptions> = async (plugin, opts) => {
  const app = useTypeBox(plugin);
  const { db } = opts;
  const now = opts.now ?? (() => new Date());
  const repo = new OverrideRepository(db);
  const location = (id: string) => `${app.prefix}/overrides/${id}`;
  const event = (o: OverrideRecord, at: Date) => ({
    type: 'override' as const,
    site: o.site,
    targetKind: o.targetKind,
    target: o.target,
    at: at.toISOString(),
  });

  const createAudited = (req: FastifyRequest, input: CreateOverrideInput) =>
    db.transaction(async (tx) => {
      const r = await new OverrideRepository(tx).create(input);
      if (!r.ok) return r;
      const o = r.override;
      await new AuditRepository(tx).append(
        auditEntry(req, 'override.create', `override:${o.id}`, {
          site: o.site,
          targetKind: o.targetKind,
          target: o.target,
          mode: o.mode,
          startsAt: o.startsAt.toISOString(),
          endsAt: o.endsAt.toISOString(),
          reason: o.reason,
        }),
      );
      return r;
    });

  app.post('/overrides', { schema: createOverrideSchema }, async (req, reply) => {
    const b = req.body;
    const at = now();
    const target = targetOf(opts.getFarm().farm, b.targetKind, b.target);
    if (!target.modes.includes(b.mode))
      throw invalid('mode', `must be one of ${target.modes.join(', ')} for ${b.targetKind} ${b.target}`);
    const window = windowOf(b, at);
    const r = await createAudited(req, {
      site: target.site,
      targetKind: b.targetKind,
      target: b.target,
      mode: b.mode,
      ...window,
      reason: b.reason,
      createdBy: principalOf(req).prefix,
    });
    if (!r.ok) {
      const c = r.conflict;
      throw new HttpProblem(
        409,
        'override-conflict',
        'Override conflict',
        `${b.targetKind} ${b.target} has override ${c.id} (${c.mode}) from ${c.startsAt.toISOString()} to ${c.endsAt.toISOString()}; cancel it first`,
        { conflictingOverride: c.id },
      );
    }
    const o = r.override;
    req.log.info({ override: o.id, target: o.target, mode: o.mode }, 'override set');
    const notified = await notify(opts.publishEvent, event(o, at), req.log);
    return reply
      .code(201)
      .header('location', location(o.id))
      .send({ ...overrideJson(o, at), notified });
  });

  app.get('/overrides', { schema: listOverridesSchema }, async (req) => {
    const q = req.query;
    const at = now();
    const page = await repo.list({
      ...(q.site !== undefined && { site: q.site }),
      ...(q.all === true ? {} : { openAt: at }),
      limit: q.limit ?? 50,
      ...(q.cursor !== undefined && { cursor: q.cursor }),
    });
    return { items: page.items.map((o) => overrideJson(o, at)), nextCursor: page.nextCursor };
  });

  app.get('/overrides/:id', { schema: getOverrideSchema }, async (req) => {
    const o = await repo.get(req.params.id);
    if (!o) throw notFound(`no override ${req.params.id}`);
    return overrideJson(o, now());
  });

  app.delete('/overrides/:id', { schema: cancelOverrideSchema }, async (req) => {
    const { id } = req.params;
    const at = now();
    const before = await repo.get(id);
    if (!before) throw notFound(`no override ${id}`);
    if (before.cancelledAt) return { ...overrideJson(before, at), notified: false };
    if (before.endsAt.getTime() <= at.getTime())
      throw new HttpProblem(
        409,
        'override-ended',
        'Override already ended',
        `override ${id} ended at ${before.endsAt.toISOString()}`,
      );
    const after = await db.transaction(async (tx) => {
      const o = await new OverrideRepository(tx).cancel(id, at);
      if (o && o.cancelledAt?.getTime() === at.getTime())
        await new AuditRepository(tx).append(
          auditEntry(req, 'override.cancel', `override:${id}`, {
            site: o.site,
            targetKind: o.targetKind,
            target: o.target,
          }),
        );
      return o;
    });
    if (!after) throw notFound(`no override ${id}`);
    req.log.info({ override: id, target: after.target }, 'override cancelled');
    const notified = await notify(opts.publishEvent, event(after, at), req.log);
    return { ...overrideJson(after, at), notified };
  });
};
