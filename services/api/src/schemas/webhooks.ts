// The schemas of the webhook routes (routes/webhooks.ts). Inputs are bounded and closed
// (additionalProperties: false): a body names a URL, events and a description, never a broker,
// an id, a secret or a deletion. Operators name the broker of a new webhook in the query.
import { Type } from '@sinclair/typebox';
import {
  DELIVERY_STATES,
  MAX_WEBHOOK_DESCRIPTION_LENGTH,
  MAX_WEBHOOK_URL_LENGTH,
  WEBHOOK_DESCRIPTION_PATTERN,
  WEBHOOK_EVENTS,
  WEBHOOK_URL_PATTERN,
} from '@switchyard/db';
import { DateTime, Nullable, problemResponse, StringEnum, UuidInput, VALIDATION_PROBLEM } from './common.ts';

const TAGS = ['webhooks'];
const strict = { additionalProperties: false } as const;
const EventInput = Type.Union(
  WEBHOOK_EVENTS.map((e) => Type.Literal(e)),
  {
    description: 'order.state: an order changed state; order.preemption-notice: an order will be preempted.',
  },
);

/** Recent deliveries shown with a webhook, by default and at most. */
export const DEFAULT_RECENT_DELIVERIES = 20;
export const MAX_RECENT_DELIVERIES = 100;

// ---------------------------------------------------------------- requests

export const CreateWebhookBody = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: MAX_WEBHOOK_URL_LENGTH,
      pattern: WEBHOOK_URL_PATTERN,
      description:
        'Where deliveries are POSTed: https:// to a public host, with no credentials and no fragment. http:// only to a loopback host, and loopback or private addresses only where the server allows them (docs/webhooks.md).',
      examples: ['https://broker.example/switchyard/hooks'],
    }),
    events: Type.Optional(
      Type.Array(EventInput, {
        minItems: 1,
        maxItems: WEBHOOK_EVENTS.length,
        uniqueItems: true,
        description: 'The events to deliver (default: all of them).',
      }),
    ),
    description: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: MAX_WEBHOOK_DESCRIPTION_LENGTH,
        pattern: WEBHOOK_DESCRIPTION_PATTERN,
        description: 'What the webhook is for (no control characters).',
      }),
    ),
  },
  strict,
);

export const CreateWebhookQuery = Type.Object(
  {
    brokerId: Type.Optional(
      UuidInput(
        "Operators: the compute broker the webhook is for (required). A broker's key registers for its own broker and may not send it.",
      ),
    ),
  },
  strict,
);

export const ListWebhooksQuery = Type.Object(
  {
    brokerId: Type.Optional(UuidInput("Operators: only this broker's webhooks.")),
    deleted: Type.Optional(Type.Boolean({ description: 'true: deleted webhooks too (default false).' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  },
  strict,
);

export const WebhookParams = Type.Object({ id: UuidInput("The webhook's id.") }, strict);

export const GetWebhookQuery = Type.Object(
  {
    deliveries: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_RECENT_DELIVERIES,
        default: DEFAULT_RECENT_DELIVERIES,
        description: 'How many recent deliveries to show.',
      }),
    ),
  },
  strict,
);

export const TestWebhookBody = Type.Union(
  [
    Type.Object(
      {
        event: Type.Optional(
          Type.Union(
            WEBHOOK_EVENTS.map((e) => Type.Literal(e)),
            {
              description: 'The event type of the ping; one the webhook subscribes to (default: its first).',
            },
          ),
        ),
      },
      strict,
    ),
    Type.Null(),
  ],
  { description: 'Optional.' },
);

// ---------------------------------------------------------------- responses

const webhookProperties = {
  id: Type.String({ format: 'uuid' }),
  brokerId: Type.String({ format: 'uuid' }),
  url: Type.String(),
  events: Type.Array(StringEnum(WEBHOOK_EVENTS)),
  description: Nullable(Type.String()),
  createdAt: DateTime(),
  deletedAt: Nullable(DateTime('Deleted webhooks get no new deliveries.')),
};
export const Webhook = Type.Object(webhookProperties, {
  description: 'A webhook. Its signing secret is shown once, when it is registered, and never here.',
});

export const Delivery = Type.Object({
  id: Type.String({ format: 'uuid', description: 'Sent as the webhook-id header.' }),
  eventId: Type.String({ description: "The event's id: the body's `id`." }),
  event: StringEnum(WEBHOOK_EVENTS),
  state: StringEnum(
    DELIVERY_STATES,
    'pending: not yet delivered, maybe retrying; delivered: answered 2xx; failed: for good.',
  ),
  attempts: Type.Integer({ minimum: 0, description: 'Requests sent so far.' }),
  lastStatus: Nullable(
    Type.Integer({ description: "The receiver's HTTP status on the last attempt (null: no answer)." }),
  ),
  lastError: Nullable(Type.String({ description: 'Why the last attempt failed.' })),
  createdAt: DateTime("The event's time (the body's `at`)."),
  deliveredAt: Nullable(DateTime()),
});

const secret = Type.String({
  description:
    'The signing secret, `whsec_` and base64: verify each delivery with it (docs/webhooks.md). Shown only here.',
  examples: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw3dXqpFLDBWE='],
});
const notice = Type.String();
const NOT_FOUND = problemResponse("No such webhook, or another broker's.");

export const createWebhookSchema = {
  operationId: 'createWebhook',
  summary: 'Register a webhook',
  description:
    "Deliveries of the broker's order events, signed with the secret in this response, which is never shown again. A broker has at most 20 live webhooks.",
  tags: TAGS,
  querystring: CreateWebhookQuery,
  body: CreateWebhookBody,
  response: {
    201: Type.Object(
      { webhook: Webhook, secret, notice },
      {
        description: 'Registered.',
        headers: { location: { type: 'string', description: 'The new webhook: /api/v1/webhooks/{id}.' } },
      },
    ),
    400: problemResponse(
      `${VALIDATION_PROBLEM} Also a URL the server does not allow, and a broker that does not exist or is not a compute broker.`,
    ),
    409: problemResponse('The broker is disabled, or has 20 live webhooks already (too-many-webhooks).'),
  },
};

export const listWebhooksSchema = {
  operationId: 'listWebhooks',
  summary: 'Webhooks, newest first (never their secrets)',
  description: "A broker's key sees its own broker's webhooks only.",
  tags: TAGS,
  querystring: ListWebhooksQuery,
  response: { 200: Type.Object({ items: Type.Array(Webhook) }), 400: problemResponse(VALIDATION_PROBLEM) },
};

export const getWebhookSchema = {
  operationId: 'getWebhook',
  summary: 'One webhook with its recent deliveries',
  tags: TAGS,
  params: WebhookParams,
  querystring: GetWebhookQuery,
  response: {
    200: Type.Object({
      ...webhookProperties,
      deliveries: Type.Array(Delivery, {
        maxItems: MAX_RECENT_DELIVERIES,
        description: 'The most recent deliveries, newest event first.',
      }),
    }),
    400: problemResponse(VALIDATION_PROBLEM),
    404: NOT_FOUND,
  },
};

export const deleteWebhookSchema = {
  operationId: 'deleteWebhook',
  summary: 'Delete a webhook',
  description:
    'It gets no new deliveries, and pending ones fail without being sent; it stays readable with its history. Deleting a deleted webhook answers it unchanged.',
  tags: TAGS,
  params: WebhookParams,
  response: { 200: Webhook, 400: problemResponse(VALIDATION_PROBLEM), 404: NOT_FOUND },
};

export const testWebhookSchema = {
  operationId: 'testWebhook',
  summary: 'Send a test ping',
  description:
    'Enqueues one signed delivery whose `data` is `{ "test": true }` and whose event id starts with `test_`, of an event type the webhook subscribes to.',
  tags: TAGS,
  params: WebhookParams,
  body: TestWebhookBody,
  response: {
    202: Type.Object(
      {
        delivery: Delivery,
        enqueued: Type.Boolean({
          description: 'false: the queue was unavailable; the ping is recorded and sent once it is back.',
        }),
      },
      { description: 'Accepted.' },
    ),
    400: problemResponse(`${VALIDATION_PROBLEM} Also an event the webhook does not subscribe to.`),
    404: NOT_FOUND,
    409: problemResponse('The webhook is deleted (webhook-deleted).'),
    503: problemResponse('This API process has no delivery queue (webhooks-unavailable).'),
  },
};
