// Grid dispatches entered by an operator: hold the site at or below a cap, or curtail it by some
// kW from its metered load, for a while. The row is stored first, then a `grid-dispatch` control
// event tells the controller at once; a controller that misses the event finds the dispatch on
// its next interval.
//
// Operators send, see and cancel any dispatch; an energy broker's key sends dispatches for its
// broker and sees and cancels only those (another broker's answer 404, as if they did not exist).
// Creating and cancelling are recorded in the audit log in the same transaction.
import type { FastifyBaseLogger, FastifyPluginAsync, FastifyRequest } from 'fastify';
import {
  AuditRepository,
  DispatchRepository,
  ObservationRepository,
  type CreateDispatchInput,
  type Database,
  type DispatchPerformance,
  type DispatchRecord,
} from '@switchyard/db';
import type { ControlEvent } from '@switchyard/queue';
import { HttpProblem } from '../problem.ts';
import { principalOf } from '../auth.ts';
import { auditEntry } from '../audit.ts';
import type { FarmView } from './farm.ts';
import { notify as notifyBounded, siteOf as siteOfFarm } from './operator-support.ts';
import { ISO_TIME_PATTERN, useTypeBox } from '../schemas/common.ts';
import {
  cancelDispatchSchema,
  createDispatchSchema,
  getDispatchSchema,
  listDispatchesSchema,
  MAX_DISPATCH_KW,
  MAX_DISPATCH_SECONDS,
  MIN_DISPATCH_SECONDS,
} from '../schemas/dispatches.ts';

export { MAX_DISPATCH_KW, MAX_DISPATCH_SECONDS, MIN_DISPATCH_SECONDS };
/** Fleet observations older than this do not count toward a curtail-by's baseline. */
export const DEFAULT_BASELINE_MAX_AGE_MS = 5 * 60_000;
/** How long a create or cancel waits for the control event to be published. */

export interface DispatchRouteOptions {
  db: Database;
  getFarm: () => FarmView;
  /** Publishes a control event (Redis pub/sub); without it the controller sees changes on its interval. */
  publishEvent?: ((event: ControlEvent) => Promise<unknown>) | undefined;
  baselineMaxAgeMs?: number;
  /** The clock (tests). */
  now?: () => Date;
}

const BODY_FIELDS = new Set(['site', 'capKw', 'curtailByKw', 'startsAt', 'durationSeconds']);
const ISO_WITH_OFFSET = new RegExp(ISO_TIME_PATTERN);

function invalid(field: string, message: string): HttpProblem {
  return new HttpProblem(400, 'validation', 'Request is invalid', `${field} ${message}`, {
    errors: [{ path: `/${field}`, message }],
  });
}

function kwField(body: Record<string, unknown>, field: string): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(field, 'must be a finite number of kW');
  if (v <= 0 || v > MAX_DISPATCH_KW)
    throw invalid(field, `must be more than 0 and at most ${MAX_DISPATCH_KW.toLocaleString('en-US')} kW`);
  return v;
}

function isoTime(field: string, v: unknown): Date {
  if (typeof v !== 'string' || !ISO_WITH_OFFSET.test(v))
    throw invalid(field, 'must be an ISO-8601 time with an offset, e.g. 2026-07-01T17:00:00-05:00');
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw invalid(field, 'is not a valid time');
  return d;
}

/**
 * The broker whose dispatches the caller may see: its key's broker, or undefined (all of them)
 * for operators and viewers. Broker ids never come from the request body.
 */
function tenantOf(req: FastifyRequest): string | undefined {
  const p = principalOf(req);
  if (p.brokerId !== null) return p.brokerId;
  if (p.role === 'operator' || p.role === 'viewer') return undefined;
  throw new HttpProblem(403, 'forbidden', 'Forbidden', `a key with role ${p.role} acts for no broker`);
}

function summaryOf(p: DispatchPerformance) {
  const { samples: _samples, ...summary } = p;
  return summary;
}

/** The JSON shape of a dispatch; lists leave the samples out of the performance record. */
export function dispatchJson(r: DispatchRecord, opts: { samples: boolean }) {
  return {
    id: r.id,
    site: r.site,
    kind: r.kind,
    kw: r.kw,
    capKw: r.capKw,
    baselineKw: r.baselineKw,
    brokerId: r.brokerId,
    state: r.state,
    startsAt: r.startsAt.toISOString(),
    endsAt: r.endsAt.toISOString(),
    durationSeconds: r.durationSeconds,
    receivedAt: r.receivedAt.toISOString(),
    acknowledgedAt: r.acknowledgedAt?.toISOString() ?? null,
    expectedKw: r.expectedKw,
    performance: opts.samples ? r.performance : summaryOf(r.performance),
  };
}

export const dispatchRoutes: FastifyPluginAsync<DispatchRouteOptions> = async (app, opts) => {
  // The routes below validate by hand first (attachValidation), to name the field in their own
  // words; the schema's verdict (req.validationError) is thrown after those checks.
  useTypeBox(app);
  const repo = new DispatchRepository(opts.db);
  const observations = new ObservationRepository(opts.db);
  const now = opts.now ?? (() => new Date());
  const baselineMaxAgeMs = opts.baselineMaxAgeMs ?? DEFAULT_BASELINE_MAX_AGE_MS;
  const location = (id: string) => `${app.prefix}/dispatches/${id}`;

  const siteOf = (value: unknown) => siteOfFarm(opts.getFarm().farm, value, { required: true });
  const notify = (event: ControlEvent, log: FastifyBaseLogger) =>
    notifyBounded(opts.publishEvent, event, log);

  /** Stores a dispatch with its audit entry. */
  const createAudited = (req: FastifyRequest, input: CreateDispatchInput) =>
    opts.db.transaction(async (tx) => {
      const r = await new DispatchRepository(tx).create(input);
      await new AuditRepository(tx).append(
        auditEntry(req, 'dispatch.create', `dispatch:${r.id}`, {
          site: r.site,
          kind: r.kind,
          kw: r.kw,
          capKw: r.capKw,
          startsAt: r.startsAt.toISOString(),
          durationSeconds: r.durationSeconds,
          brokerId: r.brokerId,
        }),
      );
      return r;
    });

  /** Cancels a dispatch, with an audit entry when it moved to cancelled. */
  const cancelAudited = (req: FastifyRequest, id: string) =>
    opts.db.transaction(async (tx) => {
      const r = await new DispatchRepository(tx).cancel(id);
      if (r?.state === 'cancelled')
        await new AuditRepository(tx).append(
          auditEntry(req, 'dispatch.cancel', `dispatch:${id}`, { site: r.site }),
        );
      return r;
    });

  /** The dispatch if the caller may see it; a 404 for an unknown one or another broker's. */
  const visible = async (req: FastifyRequest, id: string) => {
    const tenant = tenantOf(req);
    const record = await repo.get(id);
    if (!record || (tenant !== undefined && record.brokerId !== tenant))
      throw new HttpProblem(404, 'not-found', 'Not found', `no dispatch ${id}`);
    return record;
  };

  /** The site's facility load from its fleets' latest fresh observations, kW. */
  const baselineOf = async (site: { metadata: { name: string }; spec: { pue: number } }) => {
    const since = new Date(now().getTime() - baselineMaxAgeMs);
    const latest = await observations.latestPerFleet({ site: site.metadata.name, since });
    if (latest.length === 0) {
      throw new HttpProblem(
        409,
        'no-baseline',
        'No baseline',
        `no fleet observation of site ${site.metadata.name} in the last ${Math.round(baselineMaxAgeMs / 1000)} s to count a curtail-by from; send capKw instead`,
      );
    }
    const itKw = latest.reduce((n, o) => n + o.powerKw, 0);
    return itKw * site.spec.pue;
  };

  app.post('/dispatches', { schema: createDispatchSchema, attachValidation: true }, async (req, reply) => {
    const body = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw invalid('body', 'must be a JSON object');
    const b = body as Record<string, unknown>;
    const unknown = Object.keys(b).find((k) => !BODY_FIELDS.has(k));
    if (unknown !== undefined) throw invalid(unknown, 'is not a field of a dispatch');

    const capKw = kwField(b, 'capKw');
    const curtailByKw = kwField(b, 'curtailByKw');
    if ((capKw === undefined) === (curtailByKw === undefined))
      throw invalid('capKw', 'or curtailByKw: exactly one of them is required');
    const d = b.durationSeconds;
    if (typeof d !== 'number' || !Number.isInteger(d) || d < MIN_DISPATCH_SECONDS || d > MAX_DISPATCH_SECONDS)
      throw invalid(
        'durationSeconds',
        `must be whole seconds from ${MIN_DISPATCH_SECONDS} to ${MAX_DISPATCH_SECONDS}`,
      );
    const at = now();
    const startsAt = b.startsAt === undefined || b.startsAt === null ? at : isoTime('startsAt', b.startsAt);
    if (startsAt.getTime() + d * 1000 <= at.getTime())
      throw invalid('startsAt', 'is too early: the dispatch would already be over');
    const site = siteOf(b.site);
    if (req.validationError) throw req.validationError;
    const brokerId = tenantOf(req) ?? null;

    const record =
      capKw !== undefined
        ? await createAudited(req, {
            brokerId,
            site: site.metadata.name,
            kind: 'cap',
            kw: capKw,
            startsAt,
            durationSeconds: d,
          })
        : await createAudited(req, {
            brokerId,
            site: site.metadata.name,
            kind: 'curtail-by',
            kw: curtailByKw!,
            baselineKw: await baselineOf(site),
            startsAt,
            durationSeconds: d,
          });
    req.log.info(
      { dispatch: record.id, site: record.site, kind: record.kind, kw: record.kw, capKw: record.capKw },
      'grid dispatch received',
    );
    const notified = await notify(
      { type: 'grid-dispatch', id: record.id, site: record.site, at: at.toISOString(), change: 'created' },
      req.log,
    );
    return reply
      .code(201)
      .header('location', location(record.id))
      .send({ ...dispatchJson(record, { samples: true }), notified });
  });

  app.get('/dispatches', { schema: listDispatchesSchema, attachValidation: true }, async (req) => {
    // As sent when the schema refused the query; converted (limit a number, active a boolean) when not.
    const q = req.query as Record<string, unknown>;
    const active = q.active === undefined ? undefined : String(q.active);
    const limit = q.limit === undefined ? 50 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500)
      throw invalid('limit', 'must be an integer from 1 to 500');
    if (active !== undefined && active !== 'true' && active !== 'false')
      throw invalid('active', 'must be true or false');
    const site = q.site === undefined ? undefined : siteOf(q.site).metadata.name;
    const before = q.before === undefined ? undefined : isoTime('before', q.before);
    if (req.validationError) throw req.validationError;
    const tenant = tenantOf(req);
    const cursor = q.cursor === undefined ? undefined : String(q.cursor);
    const page = await repo.page({
      ...(site !== undefined ? { site } : {}),
      ...(tenant !== undefined ? { brokerId: tenant } : {}),
      ...(before ? { before } : {}),
      ...(cursor !== undefined ? { cursor } : {}),
      ...(active === 'true' ? { activeAt: now() } : {}),
      limit,
    });
    return { items: page.items.map((r) => dispatchJson(r, { samples: false })), nextCursor: page.nextCursor };
  });

  app.get('/dispatches/:id', { schema: getDispatchSchema }, async (req) => {
    const { id } = req.params as { id: string };
    const record = await visible(req, id);
    return dispatchJson(record, { samples: true });
  });

  app.delete('/dispatches/:id', { schema: cancelDispatchSchema }, async (req) => {
    const { id } = req.params as { id: string };
    const before = await visible(req, id);
    if (before.state === 'cancelled') return { ...dispatchJson(before, { samples: true }), notified: false };
    const after = before.state === 'completed' ? before : await cancelAudited(req, id);
    if (!after || after.state !== 'cancelled') {
      throw new HttpProblem(
        409,
        'dispatch-completed',
        'Dispatch already completed',
        `dispatch ${id} has completed`,
      );
    }
    req.log.info({ dispatch: id, site: after.site }, 'grid dispatch cancelled');
    const notified = await notify(
      { type: 'grid-dispatch', id, site: after.site, at: now().toISOString(), change: 'cancelled' },
      req.log,
    );
    return { ...dispatchJson(after, { samples: true }), notified };
  });
};
