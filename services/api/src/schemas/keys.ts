// The schemas of the operator routes for brokers, API keys and the audit log (routes/keys.ts).
// Every input is bounded and closed (additionalProperties: false): a body cannot set an id, a
// hash, a prefix or a revocation, only the fields named here.
import { Type } from '@sinclair/typebox';
import { API_KEY_ROLES, BROKER_KINDS, BROKER_NAME_PATTERN, MAX_KEY_LABEL_LENGTH } from '@switchyard/db';
import {
  DateTime,
  IsoTimeInput,
  literals,
  Nullable,
  problemResponse,
  StringEnum,
  UuidInput,
  VALIDATION_PROBLEM,
} from './common.ts';

const strict = { additionalProperties: false } as const;

const OPERATOR_ONLY = 'Operators only.';
const NOT_FOUND = (what: string) => problemResponse(`No such ${what}.`);

// ---------------------------------------------------------------- brokers

export const CreateBrokerBody = Type.Object(
  {
    name: Type.String({
      pattern: BROKER_NAME_PATTERN,
      minLength: 1,
      maxLength: 63,
      description: 'Unique; lower-case letters, digits and inner hyphens.',
      examples: ['gridco'],
    }),
    kind: literals(BROKER_KINDS, 'compute: buys GPU capacity; energy: sends grid dispatches.'),
  },
  strict,
);

export const Broker = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  kind: StringEnum(BROKER_KINDS),
  createdAt: DateTime(),
  disabledAt: Nullable(DateTime('Disabled brokers get no new keys.')),
});

export const createBrokerSchema = {
  operationId: 'createBroker',
  summary: 'Register a broker',
  description: `A compute or energy broker: the tenant its keys act for. ${OPERATOR_ONLY}`,
  tags: ['brokers'],
  body: CreateBrokerBody,
  response: {
    201: Broker,
    400: problemResponse(VALIDATION_PROBLEM),
    409: problemResponse('A broker with that name exists already (broker-name-taken).'),
  },
};

export const listBrokersSchema = {
  operationId: 'listBrokers',
  summary: 'Brokers, by name',
  tags: ['brokers'],
  response: { 200: Type.Object({ items: Type.Array(Broker) }) },
};

// ---------------------------------------------------------------- keys

export const CreateKeyBody = Type.Object(
  {
    role: literals(API_KEY_ROLES, 'What the key may do (docs/api.md, Authentication and roles).'),
    brokerId: Type.Optional(
      UuidInput(
        'The broker a compute-broker or energy-broker key acts for (of the matching kind); left out otherwise.',
      ),
    ),
    label: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: MAX_KEY_LABEL_LENGTH,
        description: 'Who or what holds the key.',
      }),
    ),
    expiresAt: Type.Optional(IsoTimeInput('When the key stops working (default: never).')),
  },
  strict,
);

export const RotateKeyBody = Type.Union(
  [
    Type.Object(
      {
        expiresAt: Type.Optional(
          Type.Union([
            IsoTimeInput("The new key's expiry (null: never; default: the old key's)."),
            Type.Null(),
          ]),
        ),
      },
      strict,
    ),
    Type.Null(),
  ],
  { description: 'Optional.' },
);

export const KeyQuery = Type.Object(
  {
    brokerId: Type.Optional(UuidInput("Only this broker's keys.")),
    active: Type.Optional(Type.Boolean({ description: 'true: only keys neither revoked nor expired.' })),
  },
  strict,
);

export const KeyParams = Type.Object({ id: UuidInput("The key's id.") }, strict);

export const ApiKey = Type.Object({
  id: Type.String({ format: 'uuid' }),
  prefix: Type.String({
    description: 'The public part of the token, before the dot.',
    examples: ['sy_k3jd8s2mfq7a'],
  }),
  role: StringEnum(API_KEY_ROLES),
  brokerId: Nullable(Type.String({ format: 'uuid' })),
  label: Nullable(Type.String()),
  active: Type.Boolean({ description: 'Neither revoked nor expired.' }),
  createdAt: DateTime(),
  lastUsedAt: Nullable(DateTime('Updated at most once a minute.')),
  expiresAt: Nullable(DateTime()),
  revokedAt: Nullable(DateTime()),
});

const token = Type.String({
  description:
    'The whole key, `<prefix>.<secret>`: send it as `Authorization: Bearer <token>`. Shown only here.',
});
const notice = Type.String();

export const createKeySchema = {
  operationId: 'createKey',
  summary: 'Issue an API key',
  description: `The token is in this response and never again: only a hash of it is stored. ${OPERATOR_ONLY}`,
  tags: ['keys'],
  body: CreateKeyBody,
  response: {
    201: Type.Object({ key: ApiKey, token, notice }),
    400: problemResponse(`${VALIDATION_PROBLEM} Also a broker that does not exist or is of the other kind.`),
    409: problemResponse('The broker is disabled.'),
  },
};

export const listKeysSchema = {
  operationId: 'listKeys',
  summary: 'API keys, newest first (never their secrets)',
  tags: ['keys'],
  querystring: KeyQuery,
  response: { 200: Type.Object({ items: Type.Array(ApiKey) }), 400: problemResponse(VALIDATION_PROBLEM) },
};

export const revokeKeySchema = {
  operationId: 'revokeKey',
  summary: 'Revoke an API key',
  description:
    'At once on this API process; other API processes refuse the key within their key cache lifetime (5 s). Revoking a revoked key answers it unchanged.',
  tags: ['keys'],
  params: KeyParams,
  response: { 200: ApiKey, 400: problemResponse(VALIDATION_PROBLEM), 404: NOT_FOUND('key') },
};

export const rotateKeySchema = {
  operationId: 'rotateKey',
  summary: 'Rotate an API key',
  description:
    'Issues a new key with the same role, broker and label and revokes the old one, in one transaction. The new token is shown only here.',
  tags: ['keys'],
  params: KeyParams,
  body: RotateKeyBody,
  response: {
    201: Type.Object({ key: ApiKey, token, notice, previous: ApiKey }),
    400: problemResponse(VALIDATION_PROBLEM),
    404: NOT_FOUND('key'),
    409: problemResponse('The key is revoked or expired (key-not-active): issue a new one instead.'),
  },
};

// ---------------------------------------------------------------- audit

export const AuditQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(
      Type.String({
        pattern: '^[1-9][0-9]{0,15}$',
        maxLength: 16,
        description: 'nextCursor of the previous page.',
      }),
    ),
    actor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'A key prefix, or cli:<user>, system.' }),
    ),
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 100, examples: ['key.create'] })),
    target: Type.Optional(Type.String({ minLength: 1, maxLength: 200, examples: ['dispatch:<id>'] })),
  },
  strict,
);

const AuditEntry = Type.Object({
  id: Type.String({ description: 'Increasing; entries are listed newest first.' }),
  at: DateTime(),
  actor: Type.String({ description: 'The key prefix, cli:<user> or system.' }),
  role: Type.String(),
  keyId: Nullable(Type.String({ format: 'uuid' })),
  brokerId: Nullable(Type.String({ format: 'uuid' })),
  action: Type.String({ examples: ['dispatch.create'] }),
  target: Nullable(Type.String()),
  detail: Type.Unknown(),
  requestId: Nullable(Type.String()),
});

export const listAuditSchema = {
  operationId: 'listAudit',
  summary: 'The audit log, newest first, a page at a time',
  tags: ['audit'],
  querystring: AuditQuery,
  response: {
    200: Type.Object({
      items: Type.Array(AuditEntry),
      nextCursor: Nullable(
        Type.String({ description: 'Pass as cursor for the next page; null on the last.' }),
      ),
    }),
    400: problemResponse(VALIDATION_PROBLEM),
  },
};
