// A small HTTP/1.1 client for miner web UIs: one connection per request (no keep-alive pool),
// one timer from connect to last byte, a bounded body, and MinerErrors for every failure.
import { request as httpRequestRaw } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { DEFAULT_MAX_REPLY_BYTES, DEFAULT_TIMEOUT_MS, MinerError } from '../driver.ts';
import type { MinerErrorCode } from '../driver.ts';

export interface HttpRequestOptions {
  host: string;
  port: number;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  headers?: Record<string, string> | undefined;
  body?: string | undefined;
  timeoutMs?: number | undefined;
  maxReplyBytes?: number | undefined;
}

export interface HttpResponse {
  status: number;
  /** Lower-case header name → values, in order (a header may repeat, e.g. WWW-Authenticate). */
  headers: Map<string, string[]>;
  body: string;
}

function errorCode(err: NodeJS.ErrnoException): MinerErrorCode {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED') {
    return 'refused';
  }
  // llhttp parse errors: the peer does not speak HTTP.
  if (code.startsWith('HPE_')) return 'protocol';
  return 'unreachable';
}

function collectHeaders(res: IncomingMessage): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length && i < 200; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const list = out.get(name) ?? [];
    list.push((raw[i + 1] as string).slice(0, 4096));
    out.set(name, list);
  }
  return out;
}

/** Sends one HTTP request and returns status, headers and body (UTF-8), whatever the status. */
export function httpRequest(opts: HttpRequestOptions): Promise<HttpResponse> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = opts.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
  const host = opts.host;
  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const headers: Record<string, string> = { Connection: 'close', ...opts.headers };
    if (opts.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(opts.body));
    const req = httpRequestRaw({
      host,
      port: opts.port,
      method: opts.method,
      path: opts.path,
      headers,
      agent: false,
    });
    const finish = (err: MinerError | null, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      if (err) reject(err);
      else resolve(res as HttpResponse);
    };
    const timer = setTimeout(
      () => finish(new MinerError('timeout', host, `no complete HTTP reply within ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      // A peer that sent part of a reply and hung up: a truncated reply, not a refusal.
      const partial = (req.socket?.bytesRead ?? 0) > 0 && err.code === 'ECONNRESET';
      const code = partial ? 'malformed' : errorCode(err);
      finish(new MinerError(code, host, `${err.code ?? 'http error'}: ${err.message}`));
    });
    req.on('response', (res) => {
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > maxBytes) {
        finish(new MinerError('reply-too-large', host, `HTTP body larger than ${maxBytes} bytes`));
        return;
      }
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > maxBytes) {
          finish(new MinerError('reply-too-large', host, `HTTP body larger than ${maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        finish(null, {
          status: res.statusCode ?? 0,
          headers: collectHeaders(res),
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
      // Headers arrived but the body did not: a truncated reply.
      res.on('error', () => finish(new MinerError('malformed', host, 'HTTP reply cut off')));
      res.on('close', () => {
        if (!res.complete) finish(new MinerError('malformed', host, 'HTTP reply cut off'));
      });
    });
    req.end(opts.body);
  });
}
