// `switchyard keys create|list|revoke|rotate` and `switchyard brokers create|list`: API keys and
// brokers, written straight to the database (DATABASE_URL, or PGLITE_DIR) like `switchyard
// migrate`, so that the first operator key can be made before any key exists. Every write is
// recorded in the audit log with the actor `cli`. A revocation reaches running API processes
// within their key cache's lifetime (5 s).
import os from 'node:os';
import { backingEnvSchema, parseEnv } from '@switchyard/config';
import {
  API_KEY_ROLES,
  ApiKeyRepository,
  AuditRepository,
  BROKER_KINDS,
  BrokerRepository,
  isKeyActive,
  migrateDatabase,
  openDatabase,
  type ApiKeyRecord,
  type ApiKeyRole,
  type AuditEntryInput,
  type BrokerKind,
  type BrokerRecord,
  type Database,
  type IssuedApiKey,
} from '@switchyard/db';
import { parseCommandArgs, UsageError, type CliContext, type Command } from '../context.ts';
import { formatTable } from '../table.ts';

export const KEYS_USAGE = `Usage:
  switchyard keys create --role ROLE [--broker ID] [--label L] [--expires-at T]
  switchyard keys list [--broker ID] [--active]
  switchyard keys revoke <id>
  switchyard keys rotate <id> [--expires-at T]
  switchyard brokers create --name N --kind compute|energy
  switchyard brokers list
ROLE is ${API_KEY_ROLES.join(', ')}; compute-broker and energy-broker keys need --broker.
T is ISO-8601 with an offset. Every subcommand takes --json. They work on the database directly
(DATABASE_URL, or PGLITE_DIR); the token of a new key is printed once and never again.`;

/** The key or broker named on the command line does not exist; exits 1. */
export class NotFoundError extends Error {
  readonly code = 'NOT_FOUND';
}

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

function cliActor(): string {
  try {
    return `cli:${os.userInfo().username}`.slice(0, 100);
  } catch {
    return 'cli';
  }
}

function audit(action: string, target: string, detail: Record<string, unknown>): AuditEntryInput {
  return { actor: cliActor(), role: 'system', action, target, detail };
}

/** Opens (and migrates) the configured database; an in-memory one would lose the key at once. */
async function withDatabase<T>(ctx: CliContext, fn: (db: Database) => Promise<T>): Promise<T> {
  const env = parseEnv(backingEnvSchema, ctx.env);
  if (!env.DATABASE_URL && !env.PGLITE_DIR)
    throw new UsageError(
      'set DATABASE_URL (or PGLITE_DIR): an in-memory database would forget the key at once',
    );
  const handle = await openDatabase({ url: env.DATABASE_URL, pgliteDataDir: env.PGLITE_DIR });
  try {
    await migrateDatabase(handle);
    return await fn(handle.db);
  } finally {
    await handle.close();
  }
}

function timeOption(name: string, v: string | undefined): Date | undefined {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (!ISO_WITH_OFFSET.test(v) || Number.isNaN(d.getTime()))
    throw new UsageError(`--${name} must be an ISO-8601 time with an offset, e.g. 2027-01-01T00:00:00Z`);
  return d;
}

function oneId(positionals: string[], what: string): string {
  const [id, extra] = positionals;
  if (!id || extra !== undefined) throw new UsageError(`expects one ${what} id`);
  return id;
}

function noPositionals(positionals: string[]): void {
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
}

const stateOf = (k: ApiKeyRecord, now: Date) =>
  k.revokedAt ? 'revoked' : isKeyActive(k, now) ? 'active' : 'expired';

const keyJson = (k: ApiKeyRecord, now: Date) => ({ ...k, state: stateOf(k, now) });

/** The new key and, once, its token. */
export function formatIssued(issued: IssuedApiKey, verb = 'created'): string {
  const k = issued.key;
  return [
    `${verb} ${k.role} key ${k.prefix} (id ${k.id})`,
    ...(k.brokerId ? [`  broker   ${k.brokerId}`] : []),
    ...(k.label ? [`  label    ${k.label}`] : []),
    `  expires  ${k.expiresAt?.toISOString() ?? 'never'}`,
    '',
    'Token, shown this once and never again (only its hash is stored):',
    '',
    `  ${issued.token}`,
    '',
    'Send it as Authorization: Bearer <token>; the CLI reads it from SWITCHYARD_API_KEY or --api-key.',
  ].join('\n');
}

function print(ctx: CliContext, json: boolean | undefined, value: unknown, human: () => string): void {
  ctx.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

export const keysCreate: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      role: { type: 'string' },
      broker: { type: 'string' },
      label: { type: 'string' },
      'expires-at': { type: 'string' },
      json: { type: 'boolean' },
    },
    true,
  );
  noPositionals(positionals);
  const role = values.role;
  if (role === undefined || !(API_KEY_ROLES as readonly string[]).includes(role))
    throw new UsageError(`--role must be one of ${API_KEY_ROLES.join(', ')}`);
  const expiresAt = timeOption('expires-at', values['expires-at']);
  const issued = await withDatabase(ctx, (db) =>
    db.transaction(async (tx) => {
      const created = await new ApiKeyRepository(tx).create({
        role: role as ApiKeyRole,
        brokerId: values.broker ?? null,
        label: values.label ?? null,
        expiresAt: expiresAt ?? null,
      });
      const k = created.key;
      await new AuditRepository(tx).append(
        audit('key.create', `key:${k.id}`, {
          prefix: k.prefix,
          role: k.role,
          brokerId: k.brokerId,
          label: k.label,
        }),
      );
      return created;
    }),
  );
  print(ctx, values.json, { key: keyJson(issued.key, new Date()), token: issued.token }, () =>
    formatIssued(issued),
  );
  return 0;
};

export const keysList: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(
    args,
    { broker: { type: 'string' }, active: { type: 'boolean' }, json: { type: 'boolean' } },
    true,
  );
  noPositionals(positionals);
  const keys = await withDatabase(ctx, (db) =>
    new ApiKeyRepository(db).list({
      ...(values.broker !== undefined ? { brokerId: values.broker } : {}),
      activeOnly: values.active === true,
    }),
  );
  const now = new Date();
  print(ctx, values.json, { items: keys.map((k) => keyJson(k, now)) }, () =>
    keys.length === 0
      ? 'no keys'
      : formatTable(
          ['id', 'prefix', 'role', 'state', 'broker', 'label', 'created', 'last used'],
          keys.map((k) => [
            k.id,
            k.prefix,
            k.role,
            stateOf(k, now),
            k.brokerId ?? '-',
            k.label ?? '-',
            k.createdAt.toISOString(),
            k.lastUsedAt?.toISOString() ?? 'never',
          ]),
        ),
  );
  return 0;
};

export const keysRevoke: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean' } }, true);
  const id = oneId(positionals, 'key');
  const key = await withDatabase(ctx, (db) =>
    db.transaction(async (tx) => {
      const keys = new ApiKeyRepository(tx);
      const before = await keys.get(id);
      if (!before) throw new NotFoundError(`no key ${id}`);
      if (before.revokedAt) return before;
      const after = (await keys.revoke(id))!;
      await new AuditRepository(tx).append(audit('key.revoke', `key:${id}`, { prefix: after.prefix }));
      return after;
    }),
  );
  print(
    ctx,
    values.json,
    keyJson(key, new Date()),
    () =>
      `revoked key ${key.prefix} (id ${key.id}) at ${key.revokedAt!.toISOString()}; ` +
      'running API processes refuse it within 5 s',
  );
  return 0;
};

export const keysRotate: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(
    args,
    { 'expires-at': { type: 'string' }, json: { type: 'boolean' } },
    true,
  );
  const id = oneId(positionals, 'key');
  const expiresAt = timeOption('expires-at', values['expires-at']);
  const rotated = await withDatabase(ctx, (db) =>
    db.transaction(async (tx) => {
      const r = await new ApiKeyRepository(tx).rotate(id, expiresAt ? { expiresAt } : {});
      if (!r) throw new NotFoundError(`no key ${id}`);
      await new AuditRepository(tx).append(
        audit('key.rotate', `key:${id}`, {
          prefix: r.previous.prefix,
          newKeyId: r.key.id,
          newPrefix: r.key.prefix,
        }),
      );
      return r;
    }),
  );
  const now = new Date();
  print(
    ctx,
    values.json,
    { key: keyJson(rotated.key, now), token: rotated.token, previous: keyJson(rotated.previous, now) },
    () => `${formatIssued(rotated, 'rotated: new')}\nThe previous key ${rotated.previous.prefix} is revoked.`,
  );
  return 0;
};

const brokerLine = (b: BrokerRecord) => [b.id, b.name, b.kind, b.disabledAt ? 'disabled' : 'enabled'];

export const brokersCreate: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(
    args,
    { name: { type: 'string' }, kind: { type: 'string' }, json: { type: 'boolean' } },
    true,
  );
  noPositionals(positionals);
  if (values.name === undefined) throw new UsageError('--name is required');
  const kind = values.kind;
  if (kind === undefined || !(BROKER_KINDS as readonly string[]).includes(kind))
    throw new UsageError(`--kind must be one of ${BROKER_KINDS.join(', ')}`);
  const broker = await withDatabase(ctx, (db) =>
    db.transaction(async (tx) => {
      const b = await new BrokerRepository(tx).create({ name: values.name!, kind: kind as BrokerKind });
      await new AuditRepository(tx).append(
        audit('broker.create', `broker:${b.id}`, { name: b.name, kind: b.kind }),
      );
      return b;
    }),
  );
  print(ctx, values.json, broker, () => `created ${broker.kind} broker ${broker.name} (id ${broker.id})`);
  return 0;
};

export const brokersList: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean' } }, true);
  noPositionals(positionals);
  const brokers = await withDatabase(ctx, (db) => new BrokerRepository(db).list());
  print(ctx, values.json, { items: brokers }, () =>
    brokers.length === 0
      ? 'no brokers'
      : formatTable(['id', 'name', 'kind', 'state'], brokers.map(brokerLine)),
  );
  return 0;
};

/** `switchyard keys` or `switchyard brokers` alone, or with an unknown subcommand. */
const help =
  (group: string): Command =>
  async (args, ctx) => {
    const [sub] = args;
    if (sub === 'help' || sub === '--help' || sub === '-h') {
      ctx.stdout.write(`${KEYS_USAGE}\n`);
      return 0;
    }
    ctx.stderr.write(
      `${sub === undefined ? `switchyard ${group}: expects a subcommand` : `switchyard ${group}: unknown subcommand "${sub}"`}\n\n${KEYS_USAGE}\n`,
    );
    return 2;
  };

export const KEYS_COMMANDS: Record<string, Command> = {
  keys: help('keys'),
  'keys create': keysCreate,
  'keys list': keysList,
  'keys revoke': keysRevoke,
  'keys rotate': keysRotate,
  brokers: help('brokers'),
  'brokers create': brokersCreate,
  'brokers list': brokersList,
};
