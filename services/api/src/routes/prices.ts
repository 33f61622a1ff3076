// POST /prices: an energy broker (or an operator) pushes an energy price curve. The curve is
// stored in signal_readings with its audit entry in one transaction (stored-price-curve.ts in
// @switchyard/signals); the controller's signal hub reads it from there (StoredPriceSource) on
// its next refresh. An energy broker's push is recorded under its broker: the source names the
// broker and the rows and the audit entry carry its id. The broker never comes from the body.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { AuditRepository, BrokerRepository } from '@switchyard/db';
import { pointValidity, storePriceCurve } from '@switchyard/signals';
import { auditEntry } from '../audit.ts';
import { principalOf } from '../auth.ts';
import { HttpProblem } from '../problem.ts';
import { useTypeBox } from '../schemas/common.ts';
import { MAX_POINT_AGE_HOURS, MAX_POINT_LEAD_DAYS, pushPricesSchema } from '../schemas/prices.ts';
import { invalid, parseIsoTime, siteOf, type OperatorRouteOptions } from './operator-support.ts';

/** The curve's points as times and prices, checked: valid, strictly increasing, in range. */
function pointsOf(points: ReadonlyArray<{ at: string; usdPerMWh: number }>, now: Date) {
  const earliest = now.getTime() - MAX_POINT_AGE_HOURS * 3_600_000;
  const latest = now.getTime() + MAX_POINT_LEAD_DAYS * 86_400_000;
  let previous = Number.NEGATIVE_INFINITY;
  return points.map((p, i) => {
    const at = parseIsoTime(p.at);
    if (!at) throw invalid(`/points/${i}/at`, 'is not a valid time');
    const t = at.getTime();
    if (t <= previous)
      throw invalid(`/points/${i}/at`, `must be later than points[${i - 1}].at (times strictly increase)`);
    if (t < earliest)
      throw invalid(`/points/${i}/at`, `must be at most ${MAX_POINT_AGE_HOURS} hours in the past`);
    if (t > latest) throw invalid(`/points/${i}/at`, `must be at most ${MAX_POINT_LEAD_DAYS} days ahead`);
    previous = t;
    return { at, usdPerMwh: p.usdPerMWh };
  });
}

export const priceRoutes: FastifyPluginAsync<OperatorRouteOptions> = async (plugin, opts) => {
  const app = useTypeBox(plugin);
  const { db } = opts;
  const now = opts.now ?? (() => new Date());
  const brokers = new BrokerRepository(db);

  /** Where the push comes from: its broker (an energy broker's key) or the operator's key. */
  const originOf = async (req: FastifyRequest) => {
    const p = principalOf(req);
    if (p.role === 'operator') return { source: `operator:${p.prefix}`, brokerId: null };
    if (p.brokerId === null)
      throw new HttpProblem(403, 'forbidden', 'Forbidden', `a key with role ${p.role} acts for no broker`);
    const broker = await brokers.get(p.brokerId);
    return { source: `broker:${broker?.name ?? p.brokerId}`, brokerId: p.brokerId };
  };

  app.post('/prices', { schema: pushPricesSchema }, async (req, reply) => {
    const b = req.body;
    const at = now();
    const site = siteOf(opts.getFarm().farm, b.site, { required: true }).metadata.name;
    const points = pointsOf(b.points, at);
    const origin = await originOf(req);
    const by = principalOf(req).prefix;
    const stored = await db.transaction(async (tx) => {
      const s = await storePriceCurve(tx, {
        site,
        source: origin.source,
        points,
        receivedAt: at,
        brokerId: origin.brokerId,
        by,
      });
      await new AuditRepository(tx).append(
        auditEntry(req, 'prices.push', `prices:${s.pushId}`, {
          site,
          source: s.source,
          brokerId: origin.brokerId,
          points: s.points,
          from: s.from.toISOString(),
          to: s.to.toISOString(),
        }),
      );
      return s;
    });
    const validity = pointValidity(points);
    const i = points.findIndex(
      (p, k) => p.at.getTime() <= at.getTime() && validity[k]!.getTime() > at.getTime(),
    );
    req.log.info(
      { push: stored.pushId, site, source: stored.source, points: stored.points },
      'price curve pushed',
    );
    return reply.code(201).send({
      pushId: stored.pushId,
      site,
      signal: stored.signal,
      source: stored.source,
      brokerId: origin.brokerId,
      points: stored.points,
      from: stored.from.toISOString(),
      to: stored.to.toISOString(),
      validUntil: stored.validUntil.toISOString(),
      receivedAt: stored.receivedAt.toISOString(),
      current:
        i < 0
          ? null
          : {
              at: points[i]!.at.toISOString(),
              usdPerMWh: points[i]!.usdPerMwh,
              validUntil: validity[i]!.toISOString(),
            },
    });
  });
};
