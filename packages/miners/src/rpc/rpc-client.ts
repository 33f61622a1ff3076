// cgminer-style RPC over TCP (port 4028): one request and one reply per connection. The reply
// ends at a NUL byte, at a complete JSON value followed by a newline (firmwares that keep the
// socket open), or when the peer closes. One timer covers connect to last byte, so a reply
// dripped one byte at a time still times out; a reply over maxReplyBytes is cut off.
import { connect } from 'node:net';
import { DEFAULT_MAX_REPLY_BYTES, DEFAULT_TIMEOUT_MS, MinerError } from '../driver.ts';
import type { MinerErrorCode } from '../driver.ts';
import { isObject, parseStatus, statusOk } from './fields.ts';
import type { JsonObject, RpcStatus } from './fields.ts';
import { parseLenientJson } from './lenient-json.ts';

export interface RpcOptions {
  host: string;
  port: number;
  /** From connect to last byte (default 3000 ms). */
  timeoutMs?: number | undefined;
  /** Largest reply accepted (default 1 MiB). */
  maxReplyBytes?: number | undefined;
}

/** A parsed single-command reply whose STATUS is S, I or W. */
export interface RpcReply {
  command: string;
  status: RpcStatus;
  body: JsonObject;
}

/** The firmware answered with STATUS E or F. `status` carries its code and message. */
export class RpcError extends MinerError {
  readonly command: string;
  readonly status: RpcStatus;
  constructor(host: string, command: string, status: RpcStatus) {
    super(
      rpcErrorCode(status),
      host,
      `${command}: ${status.msg ?? 'error'}${status.code === null ? '' : ` (code ${status.code})`}`,
    );
    this.name = 'RpcError';
    this.command = command;
    this.status = status;
  }
}

/** cgminer codes: 14 invalid command, 45 access denied; everything else is a rejection. */
function rpcErrorCode(status: RpcStatus): MinerErrorCode {
  if (status.code === 14 && /invalid command/i.test(status.msg ?? '')) return 'unsupported';
  if (status.code === 45) return 'auth';
  return 'rejected';
}

function socketErrorCode(err: NodeJS.ErrnoException): MinerErrorCode {
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return 'refused';
    default:
      return 'unreachable';
  }
}

/**
 * Tracks JSON structure across chunks (strings and escapes included) to tell when the
 * top-level value has closed. Bytes are enough: UTF-8 continuation bytes are never ASCII.
 */
class FrameScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private started = false;
  closed = false;

  /** Index just past a newline that follows the closed top-level value in `chunk`, or -1. */
  feed(chunk: Buffer): number {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number;
      if (this.closed) {
        if (b === 0x0a) return i + 1;
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === 0x5c) this.escaped = true;
        else if (b === 0x22) this.inString = false;
        continue;
      }
      if (b === 0x22) this.inString = true;
      else if (b === 0x7b || b === 0x5b) {
        this.depth++;
        this.started = true;
      } else if (b === 0x7d || b === 0x5d) {
        this.depth--;
        if (this.started && this.depth <= 0) this.closed = true;
      }
    }
    return -1;
  }
}

/**
 * Sends `payload` and returns the reply text (without the terminating NUL). Failures are
 * MinerErrors: timeout, refused (also a close without a single byte), unreachable,
 * reply-too-large.
 */
export function rpcExchange(opts: RpcOptions, payload: string): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = opts.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
  const host = opts.host;
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const scanner = new FrameScanner();
    const socket = connect({ host, port: opts.port });
    socket.setNoDelay(true);

    const done = (err: MinerError | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.destroy();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, total).toString('utf8'));
    };
    const timer = setTimeout(
      () => done(new MinerError('timeout', host, `no complete reply within ${timeoutMs} ms`)),
      timeoutMs,
    );

    socket.on('connect', () => {
      socket.write(payload);
    });
    socket.on('data', (chunk: Buffer) => {
      if (settled) return;
      const nul = chunk.indexOf(0);
      const part = nul >= 0 ? chunk.subarray(0, nul) : chunk;
      if (total + part.length > maxBytes) {
        done(new MinerError('reply-too-large', host, `reply larger than ${maxBytes} bytes`));
        return;
      }
      const end = nul >= 0 ? -1 : scanner.feed(part);
      const kept = end >= 0 ? part.subarray(0, end) : part;
      chunks.push(kept);
      total += kept.length;
      if (nul >= 0 || end >= 0) done(null);
    });
    socket.on('end', () => {
      if (total === 0) done(new MinerError('refused', host, 'connection closed without a reply'));
      else done(null);
    });
    socket.on('close', () => {
      if (total === 0) done(new MinerError('refused', host, 'connection closed without a reply'));
      else done(null);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after part of a reply: keep what arrived; parsing decides whether it is whole.
      if (total > 0 && err.code === 'ECONNRESET') done(null);
      else done(new MinerError(socketErrorCode(err), host, `${err.code ?? 'socket error'}: ${err.message}`));
    });
  });
}

/** Replies that are plainly another protocol (a web server, SSH) rather than broken JSON. */
function sniffOtherProtocol(text: string, host: string): void {
  const head = text.slice(0, 16).trimStart();
  if (/^HTTP\/\d/i.test(head) || /^SSH-\d/.test(head) || /^<(!doctype|html|\?xml)/i.test(head)) {
    throw new MinerError('protocol', host, `not a cgminer RPC reply (starts "${head.slice(0, 8)}")`);
  }
}

/**
 * Sends a raw JSON request object (e.g. Whatsminer's `{"enc":1,"data":...}`) and returns the
 * leniently parsed reply, unvalidated. Errors as rpcExchange, plus 'malformed' and 'protocol'.
 */
export async function rpcRequest(opts: RpcOptions, request: object): Promise<unknown> {
  const text = await rpcExchange(opts, JSON.stringify(request));
  sniffOtherProtocol(text, opts.host);
  return parseLenientJson(text, { host: opts.host });
}

/** Validates a single-command reply object: STATUS present and S/I/W. */
export function toRpcReply(host: string, command: string, body: unknown): RpcReply {
  if (!isObject(body)) throw new MinerError('protocol', host, `${command}: reply is not a JSON object`);
  const status = parseStatus(body);
  if (status === null) throw new MinerError('protocol', host, `${command}: reply has no STATUS`);
  if (!statusOk(status)) throw new RpcError(host, command, status);
  return { command, status, body };
}

/**
 * Sends one command (`{"command":..,"parameter":..}`) and returns its validated reply. STATUS
 * E/F throws RpcError ('rejected'; 'unsupported' for an invalid command; 'auth' for access
 * denied).
 */
export async function rpcCommand(opts: RpcOptions, command: string, parameter?: string): Promise<RpcReply> {
  const request: Record<string, string> = { command };
  if (parameter !== undefined) request.parameter = parameter;
  const body = await rpcRequest(opts, request);
  return toRpcReply(opts.host, command, body);
}

// ------------------------------------------------------------------ joined commands

/** Hosts (host:port) known to answer a joined command with `{}` or an error. Bounded. */
const noJoin = new Map<string, true>();
const NO_JOIN_MAX = 100_000;

function joinKey(opts: RpcOptions): string {
  return `${opts.host}:${opts.port}`;
}

/** Whether joined commands are known not to work on this host. */
export function joinUnsupported(opts: RpcOptions): boolean {
  return noJoin.has(joinKey(opts));
}

function rememberNoJoin(opts: RpcOptions): void {
  if (noJoin.size >= NO_JOIN_MAX) {
    const oldest = noJoin.keys().next();
    if (!oldest.done) noJoin.delete(oldest.value);
  }
  noJoin.set(joinKey(opts), true);
}

/** Forgets what was learnt about joined commands (one host, or all). */
export function forgetJoinSupport(opts?: RpcOptions): void {
  if (opts) noJoin.delete(joinKey(opts));
  else noJoin.clear();
}

export interface RpcJoinedResult {
  /** Replies that succeeded, by command. */
  replies: Partial<Record<string, RpcReply>>;
  /** Commands that failed on their own (E status, or a per-command fallback failure). */
  errors: Partial<Record<string, MinerError>>;
  /** True when the commands were sent joined and answered joined. */
  joined: boolean;
}

/**
 * Reads several commands, joined (`summary+pools+stats`) in one request when the firmware
 * supports it. A firmware that answers the joined form with `{}` or an error status is
 * remembered and asked one command per connection from then on, as are commands missing from
 * a joined reply. Transport failures (timeout, refused, malformed, ...) reject at once.
 */
export async function rpcJoined(
  opts: RpcOptions,
  commands: readonly string[],
  parameter?: string,
): Promise<RpcJoinedResult> {
  const result: RpcJoinedResult = { replies: {}, errors: {}, joined: false };
  let pending = [...commands];
  if (commands.length > 1 && !joinUnsupported(opts)) {
    const request: Record<string, string> = { command: commands.join('+') };
    if (parameter !== undefined) request.parameter = parameter;
    const body = await rpcRequest(opts, request);
    if (!isObject(body)) throw new MinerError('protocol', opts.host, 'joined reply is not a JSON object');
    const answered = commands.filter((c) => Array.isArray(body[c]));
    if (answered.length === 0) {
      // `{}`, or a bare STATUS error: this firmware does not join.
      rememberNoJoin(opts);
    } else {
      result.joined = true;
      for (const c of answered) {
        const sub = (body[c] as unknown[])[0];
        try {
          result.replies[c] = toRpcReply(opts.host, c, sub);
        } catch (err) {
          result.errors[c] = err as MinerError;
        }
      }
      pending = commands.filter((c) => !answered.includes(c));
    }
  }
  // One connection per command, all at once: the firmware serves each on its own socket.
  const settled = await Promise.allSettled(pending.map((c) => rpcCommand(opts, c, parameter)));
  settled.forEach((s, i) => {
    const c = pending[i] as string;
    if (s.status === 'fulfilled') result.replies[c] = s.value;
    else if (s.reason instanceof RpcError) result.errors[c] = s.reason;
  });
  const failed = settled.find((s) => s.status === 'rejected' && !(s.reason instanceof RpcError));
  if (failed && failed.status === 'rejected') throw failed.reason;
  return result;
}
