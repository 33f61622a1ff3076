// `switchyard dispatch create|list|show|cancel`: grid dispatches through the operator API.
import { parseCommandArgs, UsageError, type CliContext, type Command } from '../context.ts';
import { formatTable } from '../table.ts';

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';
const REQUEST_TIMEOUT_MS = 10_000;

export const DISPATCH_USAGE = `Usage:
  switchyard dispatch create (--cap-kw N | --curtail-by-kw N) --duration D [--starts-at T] [--site S]
  switchyard dispatch list [--active] [--site S] [--limit N]
  switchyard dispatch show <id>
  switchyard dispatch cancel <id>
Every subcommand takes --api URL (default SWITCHYARD_API_URL, else ${DEFAULT_API_URL}),
--api-key KEY (default SWITCHYARD_API_KEY; sent as Authorization: Bearer) and --json.
D is seconds or a span like 90s, 15m, 1h30m (60 s to 24 h); T is ISO-8601 with an offset.`;

/** The API answered with an error, or could not be reached; exits 1. */
export class DispatchApiError extends Error {
  readonly code: string;
  constructor(code: 'API_UNREACHABLE' | 'API_ERROR', message: string) {
    super(message);
    this.code = code;
    this.name = 'DispatchApiError';
  }
}

interface Performance {
  capKw: number;
  baselineKw?: number;
  samples?: Array<{ at: string; kw: number }>;
  maxKw: number | null;
  meanKw: number | null;
  compliantSamples: number;
  totalSamples: number;
  compliance: number | null;
  firstCompliantAt: string | null;
  energyOverCapKwh: number;
}

interface DispatchJson {
  id: string;
  site: string;
  kind: 'cap' | 'curtail-by';
  kw: number;
  capKw: number;
  baselineKw: number | null;
  brokerId: string | null;
  state: string;
  startsAt: string;
  endsAt: string;
  durationSeconds: number;
  receivedAt: string;
  acknowledgedAt: string | null;
  expectedKw: number | null;
  performance: Performance;
  notified?: boolean;
}

const COMMON = {
  api: { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Where to send requests, and the key to send with them. */
interface ApiTarget {
  base: string;
  apiKey: string | undefined;
}

/** Seconds from "900", "90s", "15m", "2h" or "1h30m". */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(t);
  if (!t || !m || (m[1] === undefined && m[2] === undefined && m[3] === undefined))
    throw new UsageError(`--duration must be seconds or a span like 90s, 15m, 1h30m (got "${text}")`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

function kwOption(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new UsageError(`--${name} must be a positive number of kW (got "${v}")`);
  return n;
}

function apiBase(v: string | undefined, ctx: CliContext): string {
  const raw = v ?? ctx.env.SWITCHYARD_API_URL ?? DEFAULT_API_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--api must be a URL like ${DEFAULT_API_URL} (got "${raw}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--api must be an http or https URL (got "${raw}")`);
  return url.toString().replace(/\/+$/, '');
}

function apiTarget(
  values: { api?: string | undefined; 'api-key'?: string | undefined },
  ctx: CliContext,
): ApiTarget {
  const key = (values['api-key'] ?? ctx.env.SWITCHYARD_API_KEY)?.trim();
  if (values['api-key'] !== undefined && !key) throw new UsageError('--api-key must not be empty');
  if (key && /\s/.test(key)) throw new UsageError('the API key must not contain spaces');
  return { base: apiBase(values.api, ctx), apiKey: key || undefined };
}

/** Calls the API; a problem document or a failure to connect becomes a DispatchApiError. */
async function call(target: ApiTarget, method: string, path: string, body?: unknown): Promise<unknown> {
  const base = target.base;
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new DispatchApiError(
      'API_UNREACHABLE',
      `cannot reach the API at ${base}: ${cause?.code ?? cause?.message ?? (e as Error).message}`,
    );
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const p = (json ?? {}) as { title?: string; detail?: string };
    const what = [p.title, p.detail].filter(Boolean).join(': ') || text.slice(0, 200) || res.statusText;
    const hint =
      res.status === 401
        ? target.apiKey
          ? ' (check SWITCHYARD_API_KEY or --api-key)'
          : ' (set SWITCHYARD_API_KEY or pass --api-key; an operator creates keys with `switchyard keys create`)'
        : '';
    throw new DispatchApiError('API_ERROR', `${method} ${path} answered ${res.status}: ${what}${hint}`);
  }
  return json;
}

const num = (v: number) => (Math.round(v * 10) / 10).toLocaleString('en-US');

export function formatDispatch(d: DispatchJson): string {
  const lines = [`dispatch ${d.id}`];
  const row = (k: string, v: string) => lines.push(`  ${k.padEnd(13)}${v}`);
  row('state', d.state);
  row('site', d.site);
  row(
    'cap',
    d.kind === 'cap'
      ? `${num(d.capKw)} kW`
      : `${num(d.capKw)} kW (curtail by ${num(d.kw)} kW from a baseline of ${num(d.baselineKw ?? Number.NaN)} kW)`,
  );
  row('window', `${d.startsAt} → ${d.endsAt} (${d.durationSeconds} s)`);
  row('received', d.receivedAt);
  if (d.acknowledgedAt)
    row(
      'acknowledged',
      `${d.acknowledgedAt}${d.expectedKw !== null ? `, expecting ${num(d.expectedKw)} kW` : ''}`,
    );
  if (d.brokerId) row('broker', d.brokerId);
  const p = d.performance;
  row(
    'performance',
    p.totalSamples === 0
      ? 'no samples yet'
      : `${p.totalSamples} samples, ${num((p.compliance ?? 0) * 100)} % at or under the cap, ` +
          `max ${num(p.maxKw ?? 0)} kW, mean ${num(p.meanKw ?? 0)} kW, ` +
          `${num(p.energyOverCapKwh)} kWh over the cap` +
          (p.firstCompliantAt ? `, first under the cap at ${p.firstCompliantAt}` : ''),
  );
  if (d.notified !== undefined)
    row('controller', d.notified ? 'notified' : 'not notified; it will see the change on its next interval');
  return lines.join('\n');
}

function formatList(items: DispatchJson[]): string {
  if (items.length === 0) return 'no dispatches';
  const rows = items.map((d) => [
    d.id,
    d.state,
    d.site,
    d.kind === 'cap' ? `cap ${num(d.kw)}` : `curtail-by ${num(d.kw)}`,
    `${num(d.capKw)} kW`,
    d.startsAt,
    d.endsAt,
  ]);
  const head = ['id', 'state', 'site', 'order', 'cap', 'starts', 'ends'];
  return formatTable(head, rows);
}

function print(ctx: CliContext, json: boolean | undefined, value: unknown, human: () => string): void {
  ctx.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

function oneId(positionals: string[]): string {
  const [id, extra] = positionals;
  if (!id || extra !== undefined) throw new UsageError('expects one dispatch id');
  return id;
}

export const dispatchCreate: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      ...COMMON,
      'cap-kw': { type: 'string' },
      'curtail-by-kw': { type: 'string' },
      duration: { type: 'string' },
      'starts-at': { type: 'string' },
      site: { type: 'string' },
    },
    true,
  );
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const capKw = kwOption('cap-kw', values['cap-kw']);
  const curtailByKw = kwOption('curtail-by-kw', values['curtail-by-kw']);
  if ((capKw === undefined) === (curtailByKw === undefined))
    throw new UsageError('give exactly one of --cap-kw and --curtail-by-kw');
  if (values.duration === undefined) throw new UsageError('--duration is required, e.g. --duration 15m');
  const body = {
    ...(capKw !== undefined ? { capKw } : { curtailByKw }),
    durationSeconds: parseDuration(values.duration),
    ...(values['starts-at'] !== undefined ? { startsAt: values['starts-at'] } : {}),
    ...(values.site !== undefined ? { site: values.site } : {}),
  };
  const d = (await call(apiTarget(values, ctx), 'POST', '/api/v1/dispatches', body)) as DispatchJson;
  print(ctx, values.json, d, () => formatDispatch(d));
  return 0;
};

export const dispatchList: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(
    args,
    { ...COMMON, active: { type: 'boolean' }, site: { type: 'string' }, limit: { type: 'string' } },
    true,
  );
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const q = new URLSearchParams();
  if (values.active) q.set('active', 'true');
  if (values.site !== undefined) q.set('site', values.site);
  if (values.limit !== undefined) q.set('limit', values.limit);
  const query = q.size > 0 ? `?${q.toString()}` : '';
  const r = (await call(apiTarget(values, ctx), 'GET', `/api/v1/dispatches${query}`)) as {
    items: DispatchJson[];
  };
  print(ctx, values.json, r, () => formatList(r.items));
  return 0;
};

export const dispatchShow: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, COMMON, true);
  const id = oneId(positionals);
  const d = (await call(
    apiTarget(values, ctx),
    'GET',
    `/api/v1/dispatches/${encodeURIComponent(id)}`,
  )) as DispatchJson;
  print(ctx, values.json, d, () => formatDispatch(d));
  return 0;
};

export const dispatchCancel: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, COMMON, true);
  const id = oneId(positionals);
  const d = (await call(
    apiTarget(values, ctx),
    'DELETE',
    `/api/v1/dispatches/${encodeURIComponent(id)}`,
  )) as DispatchJson;
  print(ctx, values.json, d, () => formatDispatch(d));
  return 0;
};

/** `switchyard dispatch` alone, or with an unknown subcommand. */
export const dispatchHelp: Command = async (args, ctx) => {
  const [sub] = args;
  if (sub === 'help' || sub === '--help' || sub === '-h') {
    ctx.stdout.write(`${DISPATCH_USAGE}\n`);
    return 0;
  }
  ctx.stderr.write(
    `${sub === undefined ? 'switchyard dispatch: expects a subcommand' : `switchyard dispatch: unknown subcommand "${sub}"`}\n\n${DISPATCH_USAGE}\n`,
  );
  return 2;
};

export const DISPATCH_COMMANDS: Record<string, Command> = {
  dispatch: dispatchHelp,
  'dispatch create': dispatchCreate,
  'dispatch list': dispatchList,
  'dispatch show': dispatchShow,
  'dispatch cancel': dispatchCancel,
};
