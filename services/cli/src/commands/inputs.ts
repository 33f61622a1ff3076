// Reading the files the planning commands take: the farm file and a text input, with the
// problems printed the way `farm validate` prints them. null means "reported; exit 1".
import { createMetricsRegistry, serveMetrics, type Registry } from '@switchyard/telemetry';
import { readFile } from 'node:fs/promises';
import { formatIssue, parseFarmYaml, parseIsoTime, type Farm } from '@switchyard/domain';
import { UsageError, type CliContext } from '../context.ts';

export async function readText(file: string, ctx: CliContext): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    ctx.stderr.write(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})\n`);
    return null;
  }
}

export async function loadFarm(file: string, ctx: CliContext): Promise<Farm | null> {
  const text = await readText(file, ctx);
  if (text === null) return null;
  const r = parseFarmYaml(text);
  if (r.ok) return r.farm;
  for (const i of r.issues) ctx.stderr.write(`${formatIssue(i, file)}\n`);
  ctx.stderr.write(`${file}: ${r.issues.length} problem${r.issues.length === 1 ? '' : 's'}\n`);
  return null;
}

/** An ISO-8601 time option (offset required) as epoch ms. */
export function timeOption(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = parseIsoTime(v);
  if (typeof t === 'string') throw new UsageError(`--${name}: ${t}`);
  return t;
}

export function required(name: string, v: string | undefined, hint: string): string {
  if (!v) throw new UsageError(`--${name} is required: ${hint}`);
  return v;
}

export function choice<T extends string>(
  name: string,
  v: string | undefined,
  options: readonly T[],
  def: T,
): T {
  if (v === undefined) return def;
  if (!(options as readonly string[]).includes(v))
    throw new UsageError(`--${name} must be one of ${options.join(', ')} (got "${v}")`);
  return v as T;
}

export function intOption(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer between ${min} and ${max} (got "${v}")`);
  return n;
}

/** 1234567.8 → "1,234,568" (fixed, locale-independent). */
export function money(x: number, digits = 0): string {
  const s = Math.abs(x).toFixed(digits);
  const [i, d] = s.split('.') as [string, string | undefined];
  const neg = x < 0 && Number(s) !== 0 ? '-' : '';
  return `${neg}${i.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${d ? `.${d}` : ''}`;
}

export function isoMinute(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16)}Z`;
}

/**
 * `--metrics-port N` (or METRICS_PORT): the process's metrics registry, served at
 * http://METRICS_HOST:N/metrics (0: any free port; the URL is printed). Without either the
 * registry is undefined: the process keeps no metrics.
 */
export async function metricsEndpoint(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  out: NodeJS.WritableStream,
): Promise<{ registry: Registry | undefined; close: () => Promise<void> }> {
  const fromEnv = flag === undefined && env.METRICS_PORT !== undefined && env.METRICS_PORT !== '';
  const v = flag ?? (fromEnv ? env.METRICS_PORT : undefined);
  if (v === undefined) return { registry: undefined, close: async () => {} };
  const port = Number(v);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new UsageError(
      `${fromEnv ? 'METRICS_PORT' : '--metrics-port'} must be an integer between 0 and 65535 (got "${v}")`,
    );
  const registry = createMetricsRegistry();
  const server = await serveMetrics(registry, { port, host: env.METRICS_HOST || '0.0.0.0' });
  out.write(`metrics: ${server.url}\n`);
  return { registry, close: () => server.close() };
}
