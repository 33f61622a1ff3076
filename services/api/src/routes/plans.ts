// Plans with their reasons, as the controller stored them (read-only).
import type { FastifyPluginAsync } from 'fastify';
import { PlanRepository, type Database } from '@switchyard/db';
import { HttpProblem } from '../problem.ts';

export const planRoutes: FastifyPluginAsync<{ db: Database; defaultSite: string }> = async (app, opts) => {
  const repo = new PlanRepository(opts.db);
  const siteOf = (q: unknown) => {
    const site = (q as { site?: unknown }).site ?? opts.defaultSite;
    if (typeof site !== 'string' || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(site)) {
      throw new HttpProblem(400, 'validation', 'Request is invalid', 'site must be a resource name');
    }
    return site;
  };

  app.get('/plans', async (req) => {
    const q = req.query as { limit?: string };
    const limit = q.limit === undefined ? 20 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      throw new HttpProblem(
        400,
        'validation',
        'Request is invalid',
        'limit must be an integer from 1 to 500',
      );
    }
    return { items: await repo.list(siteOf(req.query), { limit }) };
  });

  app.get('/plans/latest', async (req) => {
    const site = siteOf(req.query);
    const latest = await repo.latest(site);
    if (!latest) throw new HttpProblem(404, 'not-found', 'Not found', `no plan yet for site ${site}`);
    const plan = latest.plan as {
      solver?: string;
      warnings?: string[];
      economics?: unknown;
      loads?: unknown;
    };
    return {
      id: latest.id,
      createdAt: latest.createdAt.toISOString(),
      site: latest.site,
      epoch: latest.epoch,
      status: latest.status,
      solver: latest.solver,
      economics: plan.economics,
      warnings: plan.warnings ?? [],
      changes: latest.changes,
    };
  });
};
