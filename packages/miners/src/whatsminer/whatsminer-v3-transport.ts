// Whatsminer API v3 framing (TCP 4433): each message is a 4-byte little-endian length, then
// that many bytes of JSON. One request and one reply per connection, as pyasic does it. One
// timer covers connect to last byte; a declared length over maxReplyBytes is refused before
// the body is read; a reply that ends early is 'malformed'.
import { connect } from 'node:net';
import { DEFAULT_MAX_REPLY_BYTES, DEFAULT_TIMEOUT_MS, MinerError } from '../driver.ts';
import type { MinerErrorCode } from '../driver.ts';
import { parseLenientJson } from '../rpc/lenient-json.ts';

export interface V3Target {
  host: string;
  port: number;
  timeoutMs?: number | undefined;
  maxReplyBytes?: number | undefined;
}

export const V3_HEADER_BYTES = 4;

export function encodeV3Frame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  const head = Buffer.alloc(V3_HEADER_BYTES);
  head.writeUInt32LE(body.length, 0);
  return Buffer.concat([head, body]);
}

function socketErrorCode(err: NodeJS.ErrnoException): MinerErrorCode {
  const c = err.code ?? '';
  return c === 'ECONNREFUSED' || c === 'ECONNRESET' || c === 'EPIPE' || c === 'ECONNABORTED'
    ? 'refused'
    : 'unreachable';
}

/** First byte of a JSON value, skipping whitespace; -1 when only whitespace so far. */
function firstJsonByte(b: Buffer): number {
  for (const c of b) if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c;
  return -1;
}

/** Sends one framed request and returns the reply's JSON text. */
export function v3Exchange(target: V3Target, message: unknown): Promise<string> {
  const { host, port } = target;
  const timeoutMs = target.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = target.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    let buf = Buffer.alloc(0);
    let expected = -1;
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    const done = (err: MinerError | null, text?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.destroy();
      if (err) reject(err);
      else resolve(text as string);
    };
    const timer = setTimeout(
      () => done(new MinerError('timeout', host, `no complete reply within ${timeoutMs} ms`)),
      timeoutMs,
    );

    socket.on('connect', () => socket.write(encodeV3Frame(message)));
    socket.on('data', (chunk: Buffer) => {
      if (settled) return;
      if (buf.length + chunk.length > maxBytes + V3_HEADER_BYTES) {
        done(new MinerError('reply-too-large', host, `reply larger than ${maxBytes} bytes`));
        return;
      }
      buf = Buffer.concat([buf, chunk]);
      if (expected < 0 && buf.length >= V3_HEADER_BYTES) expected = buf.readUInt32LE(0);
      if (expected < 0) return;
      const body = buf.subarray(V3_HEADER_BYTES);
      // Garbage also declares some length: look at the first body byte before blaming size.
      const first = firstJsonByte(body.subarray(0, 64));
      if (body.length > 0 && first !== -1 && first !== 0x7b && first !== 0x5b) {
        done(new MinerError('malformed', host, 'reply is not a length-prefixed JSON frame'));
        return;
      }
      if (expected > maxBytes) {
        if (first !== -1)
          done(
            new MinerError('reply-too-large', host, `reply declares ${expected} bytes (limit ${maxBytes})`),
          );
        return;
      }
      if (body.length >= expected) done(null, body.subarray(0, expected).toString('utf8'));
    });
    const onEnd = () => {
      if (buf.length === 0) done(new MinerError('refused', host, 'connection closed without a reply'));
      else done(new MinerError('malformed', host, `reply cut short (${buf.length} bytes)`));
    };
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (buf.length > 0) done(new MinerError('malformed', host, `reply cut short: ${err.message}`));
      else done(new MinerError(socketErrorCode(err), host, `${err.code ?? 'socket error'}: ${err.message}`));
    });
  });
}

/** Sends a request and parses the reply (leniently, as every miner reply) as a JSON object. */
export async function v3Request(target: V3Target, message: unknown): Promise<Record<string, unknown>> {
  const text = await v3Exchange(target, message);
  const parsed = parseLenientJson(text, { host: target.host });
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new MinerError('protocol', target.host, 'reply frame is not a JSON object');
  }
  return parsed as Record<string, unknown>;
}
