// Plans with their reasons, as the controller stored them (read-only).
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { PlanEconomics } from '@switchyard/domain';
import {
  PLAN_SOLVERS,
  PlanRepository,
  TARGET_KINDS,
  type Database,
  type PlanSolver,
  type StorablePlan,
  type StoredPlan,
  type TargetKind,
} from '@switchyard/db';
import { HttpProblem } from '../problem.ts';
import {
  DateTime,
  NextCursor,
  problemResponse,
  ResourceName,
  StringEnum,
  useTypeBox,
  UuidInput,
  VALIDATION_PROBLEM,
} from '../schemas/common.ts';

const siteQuery = (defaultSite: string) =>
  Type.Optional(ResourceName(`The site (default: the farm's first site, ${defaultSite}).`));

const PlanSummary = Type.Object({
  id: Type.String({ format: 'uuid' }),
  createdAt: DateTime(),
  site: Type.String(),
  epoch: Type.Integer({ description: "The controller leader's epoch that made the plan." }),
  solver: StringEnum(PLAN_SOLVERS),
  status: Type.String({
    description: 'planned when stored; later dispatched, converged, superseded or dropped.',
  }),
  intervalStart: DateTime('The start of the interval the plan is for.'),
});

const Economics = Type.Object(
  {
    hashingUsdPerHour: Type.Number(),
    inferenceUsdPerHour: Type.Number(),
    gpuHashingUsdPerHour: Type.Number(),
    energyUsdPerHour: Type.Number({ description: 'With PUE.' }),
    wearUsdPerHour: Type.Number(),
    netUsdPerHour: Type.Number(),
  },
  { additionalProperties: true, description: 'What the plan earns and costs, $/h, by use.' },
);

const LatestPlan = Type.Object({
  id: Type.String({ format: 'uuid' }),
  createdAt: DateTime(),
  site: Type.String(),
  epoch: Type.Integer(),
  status: Type.String(),
  solver: StringEnum(PLAN_SOLVERS),
  economics: Type.Optional(Economics),
  warnings: Type.Array(Type.String()),
  changes: Type.Array(
    Type.Object({
      seq: Type.Integer({ minimum: 0 }),
      targetKind: StringEnum(TARGET_KINDS),
      target: Type.String({ description: 'The fleet, pool, order or dispatch changed.' }),
      change: Type.String(),
      reason: Type.String({ description: 'Why the planner made the change.' }),
    }),
    { description: 'Every change the plan makes, with its reason.' },
  ),
});

export const planRoutes: FastifyPluginAsync<{ db: Database; defaultSite: string }> = async (plugin, opts) => {
  const app = useTypeBox(plugin);
  const repo = new PlanRepository(opts.db);

  app.get(
    '/plans',
    {
      schema: {
        operationId: 'listPlans',
        summary: 'Plans, newest first',
        description:
          'In outline; page with cursor. One plan with every change and its reason: GET /plans/{id}.',
        tags: ['plans'],
        querystring: Type.Object({
          site: siteQuery(opts.defaultSite),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 20 })),
          cursor: Type.Optional(UuidInput('nextCursor of the previous page.')),
        }),
        response: {
          200: Type.Object({ items: Type.Array(PlanSummary), nextCursor: NextCursor() }),
          400: problemResponse(VALIDATION_PROBLEM),
        },
      },
    },
    async (req) => {
      const { site = opts.defaultSite, limit = 20, cursor } = req.query;
      const page = await repo.list(site, { limit, ...(cursor !== undefined && { cursor }) });
      return {
        items: page.items.map((p) => ({
          ...p,
          solver: p.solver as PlanSolver,
          createdAt: p.createdAt.toISOString(),
          intervalStart: p.intervalStart.toISOString(),
        })),
        nextCursor: page.nextCursor,
      };
    },
  );

  app.get(
    '/plans/latest',
    {
      schema: {
        operationId: 'getLatestPlan',
        summary: 'The latest plan, every change with its reason',
        tags: ['plans'],
        querystring: Type.Object({ site: siteQuery(opts.defaultSite) }),
        response: {
          200: LatestPlan,
          400: problemResponse(VALIDATION_PROBLEM),
          404: problemResponse('The site has no plan yet.'),
        },
      },
    },
    async (req) => {
      const { site = opts.defaultSite } = req.query;
      const latest = await repo.latest(site);
      if (!latest) throw new HttpProblem(404, 'not-found', 'Not found', `no plan yet for site ${site}`);
      return planJson(latest);
    },
  );

  app.get(
    '/plans/:id',
    {
      schema: {
        operationId: 'getPlan',
        summary: 'One plan, every change with its reason',
        description: 'Its actions and their outcomes: GET /actions?plan={id}.',
        tags: ['plans'],
        params: Type.Object(
          {
            id: Type.String({
              pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
              minLength: 36,
              maxLength: 36,
              description: "The plan's id.",
            }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            ...LatestPlan.properties,
            intervalStart: DateTime('The start of the interval the plan is for.'),
          }),
          400: problemResponse(VALIDATION_PROBLEM),
          404: problemResponse('No such plan.'),
        },
      },
    },
    async (req) => {
      const stored = await repo.get(req.params.id);
      if (!stored) throw new HttpProblem(404, 'not-found', 'Not found', `no plan ${req.params.id}`);
      return { ...planJson(stored), intervalStart: stored.intervalStart.toISOString() };
    },
  );
};

/** A stored plan as GET /plans/latest and GET /plans/{id} answer it. */
function planJson(stored: StoredPlan<StorablePlan>) {
  const plan = stored.plan as unknown as { warnings?: string[]; economics?: PlanEconomics };
  return {
    id: stored.id,
    createdAt: stored.createdAt.toISOString(),
    site: stored.site,
    epoch: stored.epoch,
    status: stored.status,
    // Columns the database constrains to these values.
    solver: stored.solver as PlanSolver,
    economics: plan.economics,
    warnings: plan.warnings ?? [],
    changes: stored.changes.map((c) => ({ ...c, targetKind: c.targetKind as TargetKind })),
  };
}
