// HTTP for signal sources: Node's built-in fetch with the caller's abort signal, a cap on the
// body size, no redirects (an API key must never follow a redirect to another host), and every
// failure turned into a SignalSourceError that says whether a retry can help.
import type { z } from 'zod';
import { SignalSourceError } from './signal-source-error.ts';

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface HttpRequestOptions {
  signal: AbortSignal;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Larger bodies are cut off and rejected (default 4 MiB). */
  maxBytes?: number;
}

export interface HttpTextResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** Where a request went, without its query string (which may carry keys). */
function describe(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function fetchFailure(err: unknown, signal: AbortSignal, url: URL): SignalSourceError {
  const reason: unknown = signal.aborted ? signal.reason : err;
  const name = (reason as { name?: unknown } | undefined)?.name;
  if (name === 'TimeoutError')
    return new SignalSourceError('TIMEOUT', `${describe(url)}: timed out`, { cause: reason });
  if (signal.aborted) return new SignalSourceError('ABORTED', `${describe(url)}: aborted`, { cause: reason });
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  const detail = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new SignalSourceError('NETWORK', `${describe(url)}: ${String(detail)}`, { cause: err });
}

function statusFailure(res: Response, url: URL): SignalSourceError {
  const where = `${describe(url)}: HTTP ${res.status}`;
  if (res.status === 429) return new SignalSourceError('RATE_LIMITED', where, { status: 429 });
  if (res.status === 401 || res.status === 403)
    return new SignalSourceError('AUTH', `${where} (check the API key)`, { status: res.status });
  if (res.status >= 300 && res.status < 400)
    return new SignalSourceError('HTTP_STATUS', `${where}: redirects are not followed`, {
      status: res.status,
      retryable: false,
    });
  const retryable = res.status >= 500 || res.status === 408;
  return new SignalSourceError('HTTP_STATUS', where, { status: res.status, retryable });
}

/** Reads a body stream, refusing more than maxBytes. */
async function readCapped(res: Response, maxBytes: number, url: URL): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new SignalSourceError(
      'BODY_TOO_LARGE',
      `${describe(url)}: body of ${declared} bytes > ${maxBytes}`,
    );
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new SignalSourceError('BODY_TOO_LARGE', `${describe(url)}: body larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function httpText(url: string | URL, opts: HttpRequestOptions): Promise<HttpTextResponse> {
  const target = new URL(url);
  let res: Response;
  try {
    res = await fetch(target, {
      method: opts.method ?? 'GET',
      headers: opts.headers,
      body: opts.body,
      signal: opts.signal,
      redirect: 'manual',
    });
  } catch (err) {
    throw fetchFailure(err, opts.signal, target);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw statusFailure(res, target);
  }
  try {
    const text = await readCapped(res, opts.maxBytes ?? DEFAULT_MAX_BODY_BYTES, target);
    return { status: res.status, headers: res.headers, text };
  } catch (err) {
    if (err instanceof SignalSourceError) throw err;
    throw fetchFailure(err, opts.signal, target);
  }
}

/** A short, single-line summary of schema problems, e.g. `bitcoin.usd: expected number`. */
export function summarizeIssues(error: z.ZodError, max = 3): string {
  const parts = error.issues.slice(0, max).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  if (error.issues.length > max) parts.push(`and ${error.issues.length - max} more`);
  return parts.join('; ');
}

/** Parses JSON text and validates it; both failures are MALFORMED (a retry will not help). */
export function parseJson<T>(text: string, schema: z.ZodType<T>, where: string): T {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new SignalSourceError(
      'MALFORMED',
      `${where}: body is not JSON (starts ${JSON.stringify(text.slice(0, 40))})`,
    );
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success)
    throw new SignalSourceError('MALFORMED', `${where}: unexpected shape: ${summarizeIssues(parsed.error)}`, {
      cause: parsed.error,
    });
  return parsed.data;
}

export async function httpJson<T>(
  url: string | URL,
  schema: z.ZodType<T>,
  opts: HttpRequestOptions,
): Promise<T> {
  const target = new URL(url);
  const headers = { accept: 'application/json', ...opts.headers };
  const res = await httpText(target, { ...opts, headers });
  return parseJson(res.text, schema, describe(target));
}

/** Joins a base URL (which may have a path) and a path, keeping exactly one slash. */
export function joinUrl(base: string, path: string): URL {
  return new URL(`${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`);
}
