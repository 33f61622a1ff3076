// The grid-dispatch routes' schemas (routes/dispatches.ts): what a client may send, and the
// dispatch as the API answers it. The routes check their input by hand first, to name the field
// in their own words (docs/dispatches.md), then apply these schemas to whatever is left.
import { Type } from '@sinclair/typebox';
import { DISPATCH_KINDS, DISPATCH_STATES, MAX_PERFORMANCE_SAMPLES } from '@switchyard/db';
import {
  DateTime,
  IsoTimeInput,
  NextCursor,
  Nullable,
  problemResponse,
  ResourceName,
  StringEnum,
  UuidInput,
  VALIDATION_PROBLEM,
} from './common.ts';

export const MAX_DISPATCH_KW = 10_000_000;
export const MIN_DISPATCH_SECONDS = 60;
export const MAX_DISPATCH_SECONDS = 86_400;

const TAGS = ['dispatches'];

// ---------------------------------------------------------------- requests

const kwInput = (description: string) =>
  Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: MAX_DISPATCH_KW }), Type.Null()], { description });

export const CreateDispatchBody = Type.Object(
  {
    site: Type.Optional(
      Type.Union([ResourceName('The site; may be left out when the farm has one site.'), Type.Null()]),
    ),
    capKw: Type.Optional(kwInput('Hold the site load at or below this, kW.')),
    curtailByKw: Type.Optional(
      kwInput('Reduce the site load by this much from its metered load now, kW (needs a fresh observation).'),
    ),
    startsAt: Type.Optional(Type.Union([IsoTimeInput('When it starts (default: now).'), Type.Null()])),
    durationSeconds: Type.Integer({
      minimum: MIN_DISPATCH_SECONDS,
      maximum: MAX_DISPATCH_SECONDS,
      description: 'How long it lasts, whole seconds.',
    }),
  },
  {
    additionalProperties: false,
    description:
      'Exactly one of capKw and curtailByKw. A null field is the same as one left out. The dispatch must not be over already.',
  },
);

const ListDispatchesQuery = Type.Object({
  active: Type.Optional(Type.Boolean({ description: 'true: only the dispatches in force now.' })),
  site: Type.Optional(ResourceName('Only the dispatches of this site.')),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  before: Type.Optional(IsoTimeInput('Only the dispatches received before this time.')),
  cursor: Type.Optional(UuidInput('nextCursor of the previous page.')),
});

const DispatchParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: "The dispatch's id (a UUID)." }),
});

// ---------------------------------------------------------------- responses

const kw = (description: string) => Type.Number({ minimum: 0, description });
const Sample = Type.Object({ at: DateTime(), kw: kw('The metered site load, kW.') });

const performanceProperties = {
  capKw: kw('The cap the site is held at or below, kW.'),
  baselineKw: Type.Optional(kw('curtail-by: the site load the reduction counts from, kW.')),
  sampleStride: Type.Integer({
    minimum: 1,
    description: 'Every how many received samples one is kept in samples.',
  }),
  lastSample: Nullable(Sample),
  maxKw: Nullable(Type.Number({ description: 'The highest sample, kW.' })),
  meanKw: Nullable(Type.Number({ description: 'The mean of every sample received, kW.' })),
  compliantSamples: Type.Integer({ minimum: 0, description: 'Samples at or below the cap.' }),
  totalSamples: Type.Integer({ minimum: 0 }),
  compliance: Nullable(
    Type.Number({ minimum: 0, maximum: 1, description: 'compliantSamples / totalSamples.' }),
  ),
  firstCompliantAt: Nullable(DateTime('The earliest sample at or below the cap.')),
  energyOverCapKwh: Type.Number({ minimum: 0, description: 'Energy drawn above the cap, kWh.' }),
};

const Performance = Type.Object(
  {
    ...performanceProperties,
    samples: Type.Array(Sample, {
      maxItems: MAX_PERFORMANCE_SAMPLES,
      description: 'Evenly thinned samples in time order.',
    }),
  },
  { description: 'How the site did against the cap (docs/dispatches.md).' },
);
const PerformanceSummary = Type.Object(performanceProperties, {
  description: 'The performance record without its samples.',
});

const dispatchProperties = {
  id: Type.String({ format: 'uuid' }),
  site: Type.String(),
  kind: StringEnum(DISPATCH_KINDS),
  kw: kw('The cap (cap) or the reduction (curtail-by), kW.'),
  capKw: kw('The effective cap, kW.'),
  baselineKw: Nullable(kw('curtail-by: the metered site load when it was received, kW.')),
  brokerId: Nullable(
    Type.String({
      format: 'uuid',
      description: 'The energy broker that sent it; null when an operator did.',
    }),
  ),
  state: StringEnum(DISPATCH_STATES),
  startsAt: DateTime(),
  endsAt: DateTime('startsAt + durationSeconds.'),
  durationSeconds: Type.Integer({ minimum: 1 }),
  receivedAt: DateTime(),
  acknowledgedAt: Nullable(DateTime('When the controller first acknowledged it.')),
  expectedKw: Nullable(kw('The site load the controller expects to hold, kW.')),
};
const notified = Type.Boolean({
  description: 'Whether the controller was told at once; if not, it sees the change on its next interval.',
});

const Dispatch = Type.Object({ ...dispatchProperties, performance: Performance });
const DispatchNotified = Type.Object({ ...dispatchProperties, performance: Performance, notified });

// ---------------------------------------------------------------- routes

export const createDispatchSchema = {
  operationId: 'createDispatch',
  summary: 'Send a grid dispatch',
  description:
    'Cap the site, or curtail it by some kW from its metered load, for a while. The dispatch is stored, then the controller is told at once.',
  tags: TAGS,
  body: CreateDispatchBody,
  response: {
    201: Type.Object(
      { ...dispatchProperties, performance: Performance, notified },
      {
        description: 'Stored.',
        headers: { location: { type: 'string', description: 'The new dispatch: /api/v1/dispatches/{id}.' } },
      },
    ),
    400: problemResponse(VALIDATION_PROBLEM),
    409: problemResponse(
      'A curtail-by without a baseline: no fresh fleet observation of the site (send capKw instead).',
    ),
  },
};

export const listDispatchesSchema = {
  operationId: 'listDispatches',
  summary: 'Grid dispatches, newest first',
  description: 'Each with its performance summary; page with cursor. An energy broker sees only its own.',
  tags: TAGS,
  querystring: ListDispatchesQuery,
  response: {
    200: Type.Object({
      items: Type.Array(Type.Object({ ...dispatchProperties, performance: PerformanceSummary })),
      nextCursor: NextCursor(),
    }),
    400: problemResponse(VALIDATION_PROBLEM),
  },
};

export const getDispatchSchema = {
  operationId: 'getDispatch',
  summary: 'One grid dispatch with its whole performance record',
  tags: TAGS,
  params: DispatchParams,
  response: {
    200: Dispatch,
    400: problemResponse(VALIDATION_PROBLEM),
    404: problemResponse('No such dispatch, or one the caller may not see.'),
  },
};

export const cancelDispatchSchema = {
  operationId: 'cancelDispatch',
  summary: 'Cancel a grid dispatch',
  description: 'Cancelling a cancelled dispatch answers it unchanged (notified: false).',
  tags: TAGS,
  params: DispatchParams,
  response: {
    200: DispatchNotified,
    400: problemResponse(VALIDATION_PROBLEM),
    404: problemResponse('No such dispatch, or one the caller may not see.'),
    409: problemResponse('The dispatch has completed (dispatch-completed).'),
  },
};
