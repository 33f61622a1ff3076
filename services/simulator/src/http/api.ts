// The simulator's control and observation API (fastify, bound to 127.0.0.1 by startSimulator):
// the ground-truth power of every power-tree node, its history and violations, miner counts per
// fleet, the log of device changes, fault injection, ambient temperature, GPU node modes and the
// clock's speed.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '@switchyard/telemetry';
import { z } from 'zod';
import type { FarmSimulator } from '../farm-sim.ts';
import { SimulatorConfigError } from '../farm-plan.ts';
import { GPU_MODES } from '../model/sim-gpu.ts';
import { MAX_SPEED } from '../model/sim-clock.ts';
import { CONTROL_ACTIONS, SIM_FAULTS } from '../host/messages.ts';
import { CHANGE_VIAS, MAX_CHANGE_QUERY_LIMIT, type ChangeVia } from '../model/change-log.ts';
import { HttpProblem, notFound, problemHandler } from './problem.ts';

const selector = {
  fleet: z.string().min(1).max(63).optional(),
  hosts: z.array(z.string().min(1).max(64)).max(20_000).optional(),
  fraction: z.number().min(0).max(1).optional(),
};

const faultBody = z.strictObject({ fault: z.enum(SIM_FAULTS).nullable(), ...selector });

const controlBody = z
  .strictObject({
    action: z.enum(CONTROL_ACTIONS),
    profile: z.string().min(1).max(63).optional(),
    watts: z.number().min(0).max(20_000).optional(),
    percent: z.number().min(0).max(100).optional(),
    ...selector,
  })
  .refine((b) => b.action !== 'profile' || b.profile !== undefined, {
    message: 'action "profile" needs profile',
    path: ['profile'],
  })
  .refine((b) => b.action !== 'power-target' || b.watts !== undefined, {
    message: 'action "power-target" needs watts',
    path: ['watts'],
  })
  .refine((b) => b.action !== 'power-percent' || b.percent !== undefined, {
    message: 'action "power-percent" needs percent',
    path: ['percent'],
  });

const ambientBody = z.strictObject({
  site: z.string().min(1).max(63),
  ambientC: z.number().min(-50).max(70),
});
const gpuModeBody = z.strictObject({ mode: z.enum(GPU_MODES) });
const speedBody = z.strictObject({ speed: z.number().positive().max(MAX_SPEED) });

/** Validates a JSON body; a problem names every invalid field. */
function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const errors = r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  throw new HttpProblem(
    400,
    'validation',
    'Request is invalid',
    errors.map((e) => `${e.path || 'body'}: ${e.message}`).join('; '),
    errors,
  );
}

const timeQuery = { type: 'number', minimum: 0 } as const;

export async function buildSimApi(sim: FarmSimulator, logger?: Logger): Promise<FastifyInstance> {
  const app = Fastify({
    ...(logger ? { loggerInstance: logger as FastifyBaseLogger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
  });
  app.setErrorHandler(problemHandler);
  app.setNotFoundHandler(notFound);

  const invalid = (e: unknown): never => {
    if (e instanceof SimulatorConfigError)
      throw new HttpProblem(400, 'invalid-request', 'Request is invalid', e.message);
    throw e;
  };

  app.get('/healthz', async (_req, reply) => {
    const failure = sim.failure;
    const body = {
      status: failure ? 'failed' : 'ok',
      ...(failure ? { error: failure.message } : {}),
      simTime: Math.round(sim.clock.now()),
      speed: sim.clock.speed,
      miners: sim.minerCount,
      portOffset: sim.portOffset,
      hosts: sim.hosts.map((h) => ({
        label: h.label,
        pid: h.pid,
        miners: h.miners,
        listeners: h.listeners,
        fleets: h.fleets,
      })),
      samples: sim.log.sampleCount,
    };
    return reply.code(failure ? 503 : 200).send(body);
  });

  app.get('/sim/clock', async () => ({
    now: Math.round(sim.clock.now()),
    iso: new Date(sim.clock.now()).toISOString(),
    speed: sim.clock.speed,
  }));

  app.post('/sim/speed', async (req) => {
    const { speed } = parseBody(speedBody, req.body);
    await sim.setSpeed(speed);
    return { now: Math.round(sim.clock.now()), speed: sim.clock.speed };
  });

  app.get('/sim/power', async () => ({ sites: sim.power(), fleets: sim.latestFleets() }));

  app.get<{ Querystring: { site?: string; node: string; since?: number; limit?: number } }>(
    '/sim/power/history',
    {
      schema: {
        querystring: {
          type: 'object',
          required: ['node'],
          properties: {
            site: { type: 'string' },
            node: { type: 'string', minLength: 1 },
            since: timeQuery,
            limit: { type: 'integer', minimum: 1, maximum: 3600 },
          },
        },
      },
    },
    async (req) => {
      const r = sim.powerHistory(req.query);
      if (typeof r === 'string') throw new HttpProblem(404, 'not-found', 'No such node', r);
      return r;
    },
  );

  app.get<{ Querystring: { kind?: 'limit' | 'margin'; since?: number; node?: string; limit?: number } }>(
    '/sim/violations',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            kind: { type: 'string', enum: ['limit', 'margin'] },
            since: timeQuery,
            node: { type: 'string' },
            limit: { type: 'integer', minimum: 1, maximum: 10_000 },
          },
        },
      },
    },
    async (req) => sim.violations(req.query),
  );

  app.get<{ Querystring: { fleet?: string } }>(
    '/sim/miners',
    { schema: { querystring: { type: 'object', properties: { fleet: { type: 'string', minLength: 1 } } } } },
    async (req) => {
      const fleets = await sim.fleetStatus(req.query.fleet);
      if (req.query.fleet !== undefined && fleets.length === 0)
        throw new HttpProblem(404, 'not-found', 'No such fleet', `no MinerFleet "${req.query.fleet}"`);
      const totals = { miners: 0, powerKw: 0, hashrateThs: 0, listeners: 0 };
      for (const f of fleets) {
        totals.miners += f.miners;
        totals.powerKw += f.powerKw;
        totals.hashrateThs += f.hashrateThs;
        totals.listeners += f.listeners;
      }
      totals.powerKw = Math.round(totals.powerKw * 1000) / 1000;
      totals.hashrateThs = Math.round(totals.hashrateThs * 1000) / 1000;
      return { t: Math.round(sim.clock.now()), fleets, totals };
    },
  );

  app.get<{ Params: { host: string } }>('/sim/miners/:host', async (req) => {
    const d = await sim.minerDetail(req.params.host);
    if (!d)
      throw new HttpProblem(404, 'not-found', 'No such miner', `no simulated miner at ${req.params.host}`);
    return d;
  });

  app.get<{ Querystring: { since?: number; host?: string; via?: ChangeVia; limit?: number } }>(
    '/sim/changes',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            since: timeQuery,
            host: { type: 'string', minLength: 1, maxLength: 128 },
            via: { type: 'string', enum: [...CHANGE_VIAS] },
            limit: { type: 'integer', minimum: 0, maximum: MAX_CHANGE_QUERY_LIMIT },
          },
        },
      },
    },
    async (req) => {
      const { since, host, via, limit } = req.query;
      if (host !== undefined && !sim.hasDevice(host))
        throw new HttpProblem(404, 'not-found', 'No such device', `no simulated miner or GPU node "${host}"`);
      return sim.changes({ sinceMs: since, host, via, limit });
    },
  );

  app.post('/sim/miners/control', async (req) =>
    sim.control(parseBody(controlBody, req.body)).catch(invalid),
  );

  app.post('/sim/faults', async (req) => sim.applyFaults(parseBody(faultBody, req.body)).catch(invalid));

  app.post('/sim/ambient', async (req) => {
    const b = parseBody(ambientBody, req.body);
    await sim.setAmbient(b.site, b.ambientC).catch(invalid);
    return { ambientC: sim.ambient() };
  });

  app.get<{ Querystring: { pool?: string } }>('/sim/gpu', async (req) => {
    const nodes = sim.gpuNodes(req.query.pool);
    const pools = sim.farm.pools
      .filter((p) => req.query.pool === undefined || p.metadata.name === req.query.pool)
      .map((p) => {
        const mine = nodes.filter((n) => n.pool === p.metadata.name);
        const byMode = { idle: 0, serving: 0, hashing: 0 };
        for (const n of mine) byMode[n.mode]++;
        return {
          pool: p.metadata.name,
          feed: p.spec.feed,
          nodes: mine.length,
          modes: byMode,
          powerKw: Math.round(mine.reduce((a, n) => a + n.powerKw, 0) * 1000) / 1000,
        };
      });
    if (req.query.pool !== undefined && pools.length === 0)
      throw new HttpProblem(404, 'not-found', 'No such pool', `no GpuPool "${req.query.pool}"`);
    return { pools, nodes };
  });

  app.post<{ Params: { pool: string; node: string } }>('/sim/gpu/:pool/:node/mode', async (req) => {
    const { mode } = parseBody(gpuModeBody, req.body);
    const { pool, node } = req.params;
    if (!sim.gpus.some((g) => g.pool.metadata.name === pool && g.name === node))
      throw new HttpProblem(
        404,
        'not-found',
        'No such GPU node',
        `no GPU node "${node}" in GpuPool "${pool}"`,
      );
    const err = sim.setGpuMode(pool, node, mode);
    if (err) throw new HttpProblem(409, 'conflict', 'Mode not allowed', err);
    return sim.gpuNodes(pool).find((n) => n.node === node);
  });

  return app;
}
