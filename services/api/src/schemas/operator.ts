// The schemas of the operator routes (routes/status.ts, policy.ts, overrides.ts, actions.ts,
// signals.ts): the farm at a glance, the allocation policy and its versions, overrides, actions
// and signal readings. Inputs are bounded and closed (additionalProperties: false).
import { Type } from '@sinclair/typebox';
import {
  ACTION_PHASES,
  ACTION_STATES,
  OVERRIDE_STATES,
  OVERRIDE_TARGETS,
  PLAN_SOLVERS,
  TARGET_KINDS,
} from '@switchyard/db';
import { SIGNAL_NAMES } from '@switchyard/signals';
import {
  DateTime,
  IsoTimeInput,
  literals,
  NextCursor,
  Nullable,
  problemResponse,
  ResourceName,
  StringEnum,
  UuidInput,
  VALIDATION_PROBLEM,
} from './common.ts';

const strict = { additionalProperties: false } as const;
const siteQuery = Type.Optional(ResourceName("The site (default: the farm's first site)."));
const limitQuery = (def: number) => Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: def }));
const nextCursor = NextCursor();
const notified = Type.Boolean({
  description: 'Whether the controller was told at once; if not, it sees the change on its next interval.',
});
const kw = (description: string) => Type.Number({ description });

/** The longest an override may last: 7 days. */
export const MAX_OVERRIDE_SECONDS = 7 * 86_400;
export const MIN_OVERRIDE_SECONDS = 60;
/** How far ahead an override may start: 30 days. */
export const MAX_OVERRIDE_LEAD_SECONDS = 30 * 86_400;
export const MAX_REASON_LENGTH = 500;

// ---------------------------------------------------------------- status

const EconomicsView = Type.Object(
  {
    hashingUsdPerHour: Type.Number(),
    inferenceUsdPerHour: Type.Number(),
    gpuHashingUsdPerHour: Type.Number(),
    energyUsdPerHour: Type.Number({ description: 'With PUE.' }),
    wearUsdPerHour: Type.Number(),
    netUsdPerHour: Type.Number({ description: 'What the plan expects to earn, net, $/h.' }),
  },
  { additionalProperties: true, description: 'What the latest plan earns and costs, $/h, by use.' },
);

const StatusPlan = Type.Object({
  id: Type.String({ format: 'uuid' }),
  createdAt: DateTime(),
  ageSeconds: Type.Integer({ minimum: 0 }),
  intervalStart: DateTime(),
  epoch: Type.Integer(),
  solver: StringEnum(PLAN_SOLVERS),
  status: Type.String({ description: 'planned, dispatched, converged, superseded or dropped.' }),
  changes: Type.Integer({ minimum: 0, description: 'How many changes it makes (GET /plans/{id}).' }),
  warnings: Type.Array(Type.String()),
  expectedUsdPerHour: Nullable(Type.Number({ description: 'Net $/h the plan expects.' })),
  economics: Nullable(EconomicsView),
  prices: Nullable(
    Type.Object(
      {
        energyUsdPerMwh: Type.Number(),
        hashpriceUsdPerThDay: Type.Number(),
        gpuUsdPerGpuHour: Nullable(Type.Number()),
      },
      { additionalProperties: true, description: 'The signal values the plan used.' },
    ),
  ),
});

const PowerView = Type.Object({
  planned: Nullable(
    Type.Object(
      {
        itKw: kw('IT load the plan expects, kW.'),
        facilityKw: kw('IT load × PUE: what the interconnect meter sees, kW.'),
        capKw: kw('The facility cap the plan held to (interconnect or dispatch, less reserve), kW.'),
        currentKw: kw('The facility load the plan started from, kW.'),
        asicKw: kw('ASIC fleets, IT kW.'),
        gpuKw: kw('GPU pools, IT kW.'),
        gpuByMode: Type.Object(
          { serving: kw('kW.'), hashing: kw('kW.'), idle: kw('kW.') },
          { description: "GPU nodes' draw by mode: nodes × the pool's node power in that mode, kW." },
        ),
      },
      { description: 'Power by use in the latest plan.' },
    ),
  ),
  observed: Type.Object({
    asicKw: kw("The fleets' latest observed draw, IT kW (fleets observed in the last hour)."),
    fleets: Type.Integer({ minimum: 0, description: 'Fleets with an observation in the last hour.' }),
    oldestObservationAt: Nullable(DateTime()),
  }),
});

const FleetStatus = Type.Object({
  name: Type.String(),
  model: Type.String(),
  miners: Type.Integer({ minimum: 0, description: 'Miners in the farm file.' }),
  planned: Nullable(
    Type.Object({
      asleep: Type.Integer({ minimum: 0 }),
      byProfile: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
      expectedKw: Type.Number(),
    }),
  ),
  observed: Nullable(
    Type.Object({
      at: DateTime(),
      byState: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), {
        description: 'Miners by state, e.g. hashing, sleeping, ramping, fault, offline, stale.',
      }),
      powerKw: Type.Number(),
      hashrateThs: Type.Number(),
    }),
  ),
});

const PoolStatus = Type.Object({
  name: Type.String(),
  gpuModel: Type.String(),
  nodes: Type.Integer({ minimum: 0, description: 'Nodes in the farm file.' }),
  planned: Nullable(
    Type.Object({
      serving: Type.Integer({ minimum: 0 }),
      hashing: Type.Integer({ minimum: 0 }),
      idle: Type.Integer({ minimum: 0 }),
      unavailable: Type.Integer({ minimum: 0 }),
      expectedKw: Type.Number(),
    }),
  ),
});

const DispatchStatus = Type.Object({
  id: Type.String({ format: 'uuid' }),
  kind: Type.String(),
  capKw: Type.Number(),
  state: Type.String(),
  startsAt: DateTime(),
  endsAt: DateTime(),
  brokerId: Nullable(Type.String({ format: 'uuid' })),
});

const SignalAge = Type.Object({
  signal: StringEnum(SIGNAL_NAMES),
  subject: Nullable(Type.String()),
  source: Type.String(),
  value: Type.Number(),
  unit: Type.String(),
  status: Type.String(),
  observedAt: DateTime(),
  ageSeconds: Type.Integer({
    minimum: 0,
    description: 'Seconds since the value stopped being current (validUntil, else observedAt).',
  }),
  stale: Type.Boolean({ description: "Older than the signal's soft staleness limit, or stored as stale." }),
});

/** An override as the API answers it (also part of the status). */
export const OverrideView = Type.Object({
  id: Type.String({ format: 'uuid' }),
  site: Type.String(),
  targetKind: StringEnum(OVERRIDE_TARGETS),
  target: Type.String(),
  mode: Type.String(),
  startsAt: DateTime(),
  endsAt: DateTime(),
  reason: Type.String(),
  createdBy: Type.String({ description: 'The key prefix of the operator who set it.' }),
  createdAt: DateTime(),
  cancelledAt: Nullable(DateTime()),
  state: StringEnum(OVERRIDE_STATES, 'scheduled, in-force, ended or cancelled, now.'),
});

export const statusSchema = {
  operationId: 'getStatus',
  summary: 'The farm at a glance',
  description:
    "One site's latest plan (its $/h, prices and power by use), miners by state per fleet and GPU nodes by mode per pool, the grid dispatches and overrides in force, and how old each signal is.",
  tags: ['status'],
  querystring: Type.Object({ site: siteQuery }, strict),
  response: {
    200: Type.Object({
      at: DateTime('When the answer was made.'),
      site: Type.Object({
        name: Type.String(),
        interconnectKw: Type.Number(),
        pue: Type.Number(),
        marketNode: Type.String(),
      }),
      sites: Type.Array(Type.String(), { description: 'Every site of the farm.' }),
      plan: Nullable(StatusPlan),
      power: PowerView,
      fleets: Type.Array(FleetStatus),
      pools: Type.Array(PoolStatus),
      dispatches: Type.Array(DispatchStatus, { description: 'Grid dispatches in force now.' }),
      overrides: Type.Object({
        inForce: Type.Integer({ minimum: 0 }),
        upcoming: Type.Integer({ minimum: 0 }),
        items: Type.Array(OverrideView, { description: 'In force or to come, newest first (at most 50).' }),
      }),
      signals: Type.Array(SignalAge, {
        description:
          'The newest usable reading of each signal in the last 7 days (GET /signals has every source).',
      }),
    }),
    400: problemResponse(VALIDATION_PROBLEM),
  },
};

// ---------------------------------------------------------------- policy

const number = (min: number, max: number, description: string, extra: object = {}) =>
  Type.Number({ minimum: min, maximum: max, description, ...extra });
const integer = (min: number, max: number, description: string) =>
  Type.Integer({ minimum: min, maximum: max, description });

/** The AllocationPolicy spec's fields with the domain's bounds (packages/domain resource-schema.ts). */
const policyFields = {
  intervalSeconds: integer(10, 3600, 'Planning interval, seconds (default 300).'),
  safetyMarginPct: number(0, 50, 'Every power-tree node is held at limit × (1 − margin/100) (default 5).'),
  rampKwPerMin: Type.Number({
    exclusiveMinimum: 0,
    maximum: 1_000_000,
    description: 'Largest increase in site load per minute, kW (default 2000).',
  }),
  minDwellSeconds: integer(0, 86_400, 'Least time a fleet or pool stays in a mode, seconds (default 900).'),
  hysteresisUsdPerMwh: number(0, 1000, 'Band around breakeven before a change, USD/MWh (default 5).'),
  maxCyclesPerDay: integer(0, 288, 'Most sleep/wake cycles per fleet per day (default 4).'),
  wearCostUsdPerCycle: number(0, 1000, 'Wear cost of one cycle, USD (default 0.5).'),
  poolFeePct: number(0, 50, "The mining pool's fee, percent (default 2)."),
  reserveKw: number(
    0,
    5_000_000,
    'Power kept free for reserved broker work and grid programmes, kW (default 0).',
  ),
};

export const PolicySpecBody = Type.Object(
  {
    site: Type.Optional(ResourceName('The site (may be left out when the farm has one site).')),
    intervalSeconds: Type.Optional(policyFields.intervalSeconds),
    safetyMarginPct: Type.Optional(policyFields.safetyMarginPct),
    rampKwPerMin: Type.Optional(policyFields.rampKwPerMin),
    minDwellSeconds: Type.Optional(policyFields.minDwellSeconds),
    hysteresisUsdPerMwh: Type.Optional(policyFields.hysteresisUsdPerMwh),
    maxCyclesPerDay: Type.Optional(policyFields.maxCyclesPerDay),
    wearCostUsdPerCycle: Type.Optional(policyFields.wearCostUsdPerCycle),
    poolFeePct: Type.Optional(policyFields.poolFeePct),
    reserveKw: Type.Optional(policyFields.reserveKw),
  },
  {
    ...strict,
    description:
      'The whole AllocationPolicy spec (docs/farm-model.md): a field left out takes its default, not its current value.',
  },
);

const PolicySpec = Type.Object({ site: Type.String(), ...policyFields });

const PolicyView = Type.Object({
  site: Type.String(),
  name: Nullable(Type.String({ description: "The farm file's AllocationPolicy for the site, if any." })),
  source: StringEnum(
    ['api', 'farm-file', 'defaults'],
    'api: a version set through PUT /policy; farm-file: the farm file; defaults: neither has one.',
  ),
  version: Nullable(Type.Integer({ description: 'The policy version in force (GET /policy/versions).' })),
  updatedAt: Nullable(DateTime()),
  updatedBy: Nullable(Type.String({ description: 'The key prefix that set the version.' })),
  spec: PolicySpec,
});

const PolicyVersion = Type.Object({
  version: Type.Integer(),
  site: Type.String(),
  spec: PolicySpec,
  createdAt: DateTime(),
  createdBy: Type.String(),
});

export const getPolicySchema = {
  operationId: 'getPolicy',
  summary: "The site's allocation policy",
  description:
    "The farm file's AllocationPolicy spec for the site, replaced by the newest version set through PUT /policy.",
  tags: ['policy'],
  querystring: Type.Object({ site: siteQuery }, strict),
  response: { 200: PolicyView, 400: problemResponse(VALIDATION_PROBLEM) },
};

export const putPolicySchema = {
  operationId: 'putPolicy',
  summary: "Set the site's allocation policy",
  description:
    "Validated whole by the farm model's own rules (a bad field answers 400 naming it), stored as a new version, audited; the controller is told to plan again.",
  tags: ['policy'],
  body: PolicySpecBody,
  response: {
    200: Type.Object({ ...PolicyView.properties, notified }),
    400: problemResponse(VALIDATION_PROBLEM),
  },
};

export const listPolicyVersionsSchema = {
  operationId: 'listPolicyVersions',
  summary: "The site's policy versions, newest first",
  tags: ['policy'],
  querystring: Type.Object(
    {
      site: siteQuery,
      limit: limitQuery(50),
      cursor: Type.Optional(
        Type.String({
          pattern: '^[1-9][0-9]{0,15}$',
          maxLength: 16,
          description: 'nextCursor of the previous page.',
        }),
      ),
    },
    strict,
  ),
  response: {
    200: Type.Object({ items: Type.Array(PolicyVersion), nextCursor }),
    400: problemResponse(VALIDATION_PROBLEM),
  },
};

// ---------------------------------------------------------------- overrides

export const CreateOverrideBody = Type.Object(
  {
    targetKind: literals(OVERRIDE_TARGETS, 'What to pin: a miner fleet or a GPU pool.'),
    target: ResourceName("The fleet's or pool's name in the farm."),
    mode: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$',
      minLength: 1,
      maxLength: 63,
      description: "A fleet: asleep or one of its profiles' names; a pool: idle, serving or hashing.",
      examples: ['asleep'],
    }),
    startsAt: Type.Optional(Type.Union([IsoTimeInput('When it starts (default: now).'), Type.Null()])),
    endsAt: Type.Optional(Type.Union([IsoTimeInput('When it ends.'), Type.Null()])),
    durationSeconds: Type.Optional(
      Type.Union([
        Type.Integer({
          minimum: MIN_OVERRIDE_SECONDS,
          maximum: MAX_OVERRIDE_SECONDS,
          description: 'Or how long it lasts, whole seconds.',
        }),
        Type.Null(),
      ]),
    ),
    reason: Type.String({
      minLength: 1,
      maxLength: MAX_REASON_LENGTH,
      description: 'Why: kept in the audit log.',
    }),
  },
  {
    ...strict,
    description: `Exactly one of endsAt and durationSeconds; it lasts ${MIN_OVERRIDE_SECONDS} s to 7 days and starts at most 30 days ahead.`,
  },
);

const OverrideParams = Type.Object({ id: UuidInput("The override's id.") }, strict);

export const createOverrideSchema = {
  operationId: 'createOverride',
  summary: 'Pin a fleet or a pool to a mode for a while',
  description:
    'Stored and audited; the controller is told at once. Hard limits (breakers, cooling, grid dispatches) still win over an override.',
  tags: ['overrides'],
  body: CreateOverrideBody,
  response: {
    201: Type.Object(
      { ...OverrideView.properties, notified },
      { headers: { location: { type: 'string', description: 'The new override: /api/v1/overrides/{id}.' } } },
    ),
    400: problemResponse(VALIDATION_PROBLEM),
    409: problemResponse(
      'Another override of the same target overlaps the window (override-conflict; `conflictingOverride` names it).',
    ),
  },
};

export const listOverridesSchema = {
  operationId: 'listOverrides',
  summary: 'Overrides, newest first',
  description:
    'By default those in force or still to come; all=true for the whole history, cancelled and ended included.',
  tags: ['overrides'],
  querystring: Type.Object(
    {
      site: Type.Optional(ResourceName('Only the overrides of this site (default: every site).')),
      all: Type.Optional(Type.Boolean({ description: 'true: every override, not only open ones.' })),
      limit: limitQuery(50),
      cursor: Type.Optional(UuidInput('nextCursor of the previous page.')),
    },
    strict,
  ),
  response: {
    200: Type.Object({ items: Type.Array(OverrideView), nextCursor }),
    400: problemResponse(VALIDATION_PROBLEM),
  },
};

export const getOverrideSchema = {
  operationId: 'getOverride',
  summary: 'One override',
  tags: ['overrides'],
  params: OverrideParams,
  response: {
    200: OverrideView,
    400: problemResponse(VALIDATION_PROBLEM),
    404: problemResponse('No such override.'),
  },
};

export const cancelOverrideSchema = {
  operationId: 'cancelOverride',
  summary: 'Cancel an override',
  description:
    'It stops applying at once. Cancelling a cancelled override answers it unchanged (notified: false).',
  tags: ['overrides'],
  params: OverrideParams,
  response: {
    200: Type.Object({ ...OverrideView.properties, notified }),
    400: problemResponse(VALIDATION_PROBLEM),
    404: problemResponse('No such override.'),
    409: problemResponse('The override has ended already (override-ended).'),
  },
};

// ---------------------------------------------------------------- actions

const ActionView = Type.Object({
  id: Type.String({ format: 'uuid' }),
  planId: Type.String({ format: 'uuid' }),
  step: Type.Integer({ minimum: 0, description: "Its place in the plan's sequence." }),
  phase: StringEnum(ACTION_PHASES),
  targetKind: StringEnum(TARGET_KINDS),
  target: Type.String(),
  command: Type.String(),
  payload: Type.Unknown({ description: 'The command as queued.' }),
  state: StringEnum(ACTION_STATES, 'pending, dispatched, succeeded, failed or dropped.'),
  attempts: Type.Integer({ minimum: 0 }),
  epoch: Type.Integer({ description: "The controller leader's epoch; workers refuse older ones." }),
  jobId: Nullable(Type.String()),
  error: Nullable(Type.String({ description: 'Why it failed, when it did.' })),
  createdAt: DateTime(),
  updatedAt: DateTime(),
});

export const listActionsSchema = {
  operationId: 'listActions',
  summary: 'Actions and their outcomes, newest first',
  description: 'The steps that carry plans out. Filter by plan, state and target; page with cursor.',
  tags: ['actions'],
  querystring: Type.Object(
    {
      plan: Type.Optional(UuidInput("Only this plan's actions.")),
      state: Type.Optional(literals(ACTION_STATES, 'Only actions in this state.')),
      targetKind: Type.Optional(literals(TARGET_KINDS, 'Only actions on this kind of target.')),
      target: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 253,
          description: 'Only actions on this fleet, pool, order or dispatch.',
        }),
      ),
      limit: limitQuery(50),
      cursor: Type.Optional(UuidInput('nextCursor of the previous page.')),
    },
    strict,
  ),
  response: {
    200: Type.Object({ items: Type.Array(ActionView), nextCursor }),
    400: problemResponse(VALIDATION_PROBLEM),
  },
};

// ---------------------------------------------------------------- signals

const SignalReadingView = Type.Object({
  source: Type.String({ description: 'Where it came from, e.g. ercot-rt, broker:gridco, operator:sy_…' }),
  signal: StringEnum(SIGNAL_NAMES),
  subject: Nullable(
    Type.String({ description: 'The series within the signal: the GPU model of a GPU price.' }),
  ),
  value: Type.Number(),
  unit: Type.String(),
  status: Type.String({
    description:
      'accepted, confirmed, held, rejected, derived; override or override-cleared; pushed (a pushed curve point).',
  }),
  observedAt: DateTime('When the source says the value was true.'),
  fetchedAt: DateTime('When Switchyard got it.'),
  validUntil: Nullable(DateTime('It stays current until then (a settlement interval, a curve point).')),
  ageSeconds: Type.Integer({ minimum: 0, description: 'Seconds since validUntil, else since observedAt.' }),
  stale: Type.Boolean({ description: "Older than the signal's soft staleness limit, or stored as stale." }),
  staleAfterSeconds: Type.Integer({ minimum: 0, description: "The signal's soft staleness limit." }),
});

export const listSignalsSchema = {
  operationId: 'listSignals',
  summary: 'The latest reading of every source, signal and subject, with its age',
  tags: ['signals'],
  querystring: Type.Object(
    {
      signal: Type.Optional(literals(SIGNAL_NAMES, 'Only this signal.')),
      source: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Only this source.' })),
      sinceHours: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: 2160,
          default: 168,
          description: 'Only readings observed in the last this many hours.',
        }),
      ),
    },
    strict,
  ),
  response: {
    200: Type.Object({ at: DateTime(), items: Type.Array(SignalReadingView) }),
    400: problemResponse(VALIDATION_PROBLEM),
  },
};
