// One HTTP exchange with a miner's web API: a deadline from connect to the last byte (so a
// slow-drip reply times out), a body cut at maxReplyBytes while streaming, and socket errors
// mapped to MinerError codes. Replies are untrusted: the body is returned as text and parsed
// by the caller's validators, never trusted as a shape.
import http from 'node:http';
import { MinerError } from '../driver.ts';

export interface HttpTarget {
  host: string;
  port: number;
  timeoutMs: number;
  maxReplyBytes: number;
  agent: http.Agent;
}

export interface HttpReply {
  status: number;
  /** The body as text (UTF-8), at most maxReplyBytes. */
  text: string;
}

export interface HttpRequest {
  method: 'GET' | 'PUT' | 'POST' | 'PATCH';
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
}

const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);
const REFUSED = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** A keep-alive agent sized for one miner: a read holds at most a couple of sockets. */
export function minerAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 2, maxFreeSockets: 2, timeout: 30_000 });
}

export async function httpExchange(target: HttpTarget, req: HttpRequest): Promise<HttpReply> {
  try {
    return await exchangeOnce(target, req);
  } catch (err) {
    // A kept-alive socket the miner closed in the meantime fails before any byte comes back;
    // every request this driver sends is idempotent, so one retry on a fresh socket is safe.
    if (err instanceof StaleSocketError) return exchangeOnce(target, req, true);
    throw err;
  }
}

class StaleSocketError extends Error {}

function exchangeOnce(target: HttpTarget, req: HttpRequest, fresh = false): Promise<HttpReply> {
  const { host, port, timeoutMs, maxReplyBytes } = target;
  const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body), 'utf8');
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }

  return new Promise<HttpReply>((resolve, reject) => {
    let settled = false;
    let gotResponse = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      request.destroy();
      reject(err);
    };
    const request = http.request({
      host,
      port,
      method: req.method,
      path: req.path,
      headers,
      agent: fresh ? false : target.agent,
    });
    const deadline = setTimeout(
      () =>
        fail(
          new MinerError(
            'timeout',
            host,
            `no complete reply to ${req.method} ${req.path} within ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );

    // Bytes read on this socket before this request (a kept-alive socket has read earlier
    // replies): any more by the time it fails means a reply started and was cut short.
    let socketRef: { bytesRead: number } | null = null;
    let bytesBefore = 0;
    request.on('socket', (s) => {
      socketRef = s;
      bytesBefore = s.bytesRead;
    });
    const replyStarted = () => gotResponse || (socketRef !== null && socketRef.bytesRead > bytesBefore);

    request.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      const started = replyStarted();
      if (!started && !fresh && request.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        settled = true;
        clearTimeout(deadline);
        reject(new StaleSocketError(err.message));
        return;
      }
      fail(mapSocketError(host, err, started));
    });

    request.on('response', (res) => {
      gotResponse = true;
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxReplyBytes) {
        fail(
          new MinerError(
            'reply-too-large',
            host,
            `reply declares ${declared} bytes (limit ${maxReplyBytes})`,
          ),
        );
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxReplyBytes) {
          fail(new MinerError('reply-too-large', host, `reply exceeds ${maxReplyBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (err: NodeJS.ErrnoException) => fail(mapSocketError(host, err, true)));
      res.on('close', () => {
        if (!res.complete) fail(new MinerError('malformed', host, 'reply cut short (truncated)'));
      });
      res.on('end', () => {
        if (settled) return;
        if (!res.complete) {
          fail(new MinerError('malformed', host, 'reply cut short (truncated)'));
          return;
        }
        settled = true;
        clearTimeout(deadline);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
    });

    request.end(payload);
  });
}

function mapSocketError(host: string, err: NodeJS.ErrnoException, afterResponse: boolean): MinerError {
  const code = err.code ?? '';
  if (afterResponse)
    return new MinerError('malformed', host, `reply cut short: ${err.message}`, { cause: err });
  if (code.startsWith('HPE_'))
    return new MinerError('malformed', host, `not an HTTP reply (${code})`, { cause: err });
  if (UNREACHABLE.has(code)) return new MinerError('unreachable', host, err.message, { cause: err });
  if (REFUSED.has(code) || err.message === 'socket hang up') {
    return new MinerError('refused', host, `${code || 'connection closed'}: ${err.message}`, { cause: err });
  }
  return new MinerError('unreachable', host, err.message, { cause: err });
}

/** Parses a JSON body; an empty body is null. Anything unparseable is 'malformed'. */
export function parseJsonBody(host: string, text: string, what: string): unknown {
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new MinerError(
      'malformed',
      host,
      `${what}: reply is not JSON (${text.slice(0, 40).replace(/\s+/g, ' ')}…)`,
    );
  }
}
