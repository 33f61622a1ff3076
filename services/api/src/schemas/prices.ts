// The schema of POST /prices (routes/prices.ts): an energy price curve pushed by an energy broker
// or an operator.
import { Type } from '@sinclair/typebox';
import { MAX_PUSHED_POINTS } from '@switchyard/signals';
import {
  DateTime,
  IsoTimeInput,
  Nullable,
  problemResponse,
  ResourceName,
  VALIDATION_PROBLEM,
} from './common.ts';

/** Prices outside this range are refused, USD/MWh (the farm model's own bounds on energy prices). */
export const MIN_USD_PER_MWH = -1000;
export const MAX_USD_PER_MWH = 50_000;
/** How far back a point may lie, and how far ahead. */
export const MAX_POINT_AGE_HOURS = 48;
export const MAX_POINT_LEAD_DAYS = 14;

export const PushPricesBody = Type.Object(
  {
    site: Type.Optional(
      Type.Union([
        ResourceName('The site the prices are for; may be left out when the farm has one site.'),
        Type.Null(),
      ]),
    ),
    kind: Type.Optional(
      Type.Literal('energy', {
        description: 'What is priced: energy, real time (the only kind so far; the default).',
      }),
    ),
    points: Type.Array(
      Type.Object(
        {
          at: IsoTimeInput('When the price starts to hold; it holds until the next point.'),
          usdPerMWh: Type.Number({
            minimum: MIN_USD_PER_MWH,
            maximum: MAX_USD_PER_MWH,
            description: 'The price, USD/MWh (may be negative).',
          }),
        },
        { additionalProperties: false },
      ),
      {
        minItems: 1,
        maxItems: MAX_PUSHED_POINTS,
        description: `1 to ${MAX_PUSHED_POINTS} points in strictly increasing time, none more than ${MAX_POINT_AGE_HOURS} h old or ${MAX_POINT_LEAD_DAYS} days ahead.`,
      },
    ),
  },
  { additionalProperties: false },
);

const PricePoint = Type.Object({
  at: DateTime(),
  usdPerMWh: Type.Number(),
  validUntil: DateTime('When it stops holding: the next point, or one step of the curve after the last.'),
});

export const pushPricesSchema = {
  operationId: 'pushPrices',
  summary: 'Push an energy price curve',
  description:
    "Stored as signal readings (source broker:<broker name>, or operator:<key prefix> for an operator; signal energy_usd_per_mwh), which the controller's signal hub reads: for each instant, the newest push that covers it counts. An energy broker's push is recorded under its broker.",
  tags: ['prices'],
  body: PushPricesBody,
  response: {
    201: Type.Object({
      pushId: Type.String({ format: 'uuid' }),
      site: Type.String(),
      signal: Type.Literal('energy_usd_per_mwh'),
      source: Type.String({ examples: ['broker:gridco'] }),
      brokerId: Nullable(
        Type.String({
          format: 'uuid',
          description: 'The energy broker that pushed it; null for an operator.',
        }),
      ),
      points: Type.Integer({ minimum: 1 }),
      from: DateTime('The first point.'),
      to: DateTime('The last point.'),
      validUntil: DateTime('When the last point stops holding.'),
      receivedAt: DateTime(),
      current: Nullable(PricePoint),
    }),
    400: problemResponse(VALIDATION_PROBLEM),
  },
};
