// A cgminer-style RPC server (TCP, one request per connection) for simulated firmwares:
// stock Antminer and LuxOS here, Whatsminer's API v2 reuses it. It accepts the JSON form
// `{"command":"summary","parameter":"..."}` and the plain-text form `summary|param`, answers
// joined commands (`summary+pools`, or `{}`/an error like firmwares that do not join), and ends
// each reply with a NUL, then closes. Before answering it applies the miner's wire fault; when
// there is none, with probability quirkRate it writes the reply in one of the firmware's
// broken-JSON variants (the firmware module lists which; serializeRpcJson writes them).
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import type { SimMinerView } from '../model/sim-miner-api.ts';
import { OVERSIZED_BYTES, garbageBytes, sendSlowDrip, sendTruncated } from './stream-faults.ts';

export interface RpcRequestInfo {
  /**
   * One command (a joined request calls the handler once per command). Empty for a JSON
   * request without a "command" member: the handler decides what that is (`raw` has it).
   */
  command: string;
  parameter: string | undefined;
  /** The request as received: the parsed JSON object, or the plain-text line. */
  raw: unknown;
}

/** A reply body (serialized by the server, variants applied) or a string sent verbatim. */
export type RpcHandlerResult = Record<string, unknown> | string;
export type RpcHandler = (req: RpcRequestInfo) => RpcHandlerResult | Promise<RpcHandlerResult>;

/** A way a firmware breaks JSON (PROTOCOLS.md). Flags combine. */
export interface RpcJsonVariant {
  name: string;
  /** bmminer: no comma between adjacent objects in an array, `}{`. */
  objectsWithoutComma?: boolean;
  /** bmminer: a comma before the first object of an array, `[,{`. */
  leadingCommaInArrays?: boolean;
  /** btminer: a comma after the last member, `,}` and `,]`. */
  trailingCommas?: boolean;
  /** btminer: control characters (newlines) raw inside strings. */
  rawControlChars?: boolean;
  /** Avalon: non-finite numbers as bare `inf`, `-inf`, `nan` (else they are written null). */
  bareNonFinite?: boolean;
  /** A doubled printf percent in keys: "Pool Stale%" written "Pool Stale%%". */
  doublePercentKeys?: boolean;
  /** Bytes after the JSON value, before the NUL. */
  trailingGarbage?: boolean;
  /** Framing: end with a newline and keep the socket open (no NUL, no close). */
  newlineKeepOpen?: boolean;
}

export interface ServeRpcOptions {
  miner: SimMinerView;
  /** This firmware's broken-JSON variants; one is picked when random() < quirkRate. */
  variants?: readonly RpcJsonVariant[];
  /** How joined commands are answered: joined (default), `{}`, or an invalid-command error. */
  joined?: 'supported' | 'empty' | 'error';
  /** "Description" in STATUS sections this server writes itself (errors). */
  description?: string;
  /** Clock for STATUS "When" (ms). Default Date.now. */
  now?: () => number;
}

export interface RpcServer {
  port: number;
  close(): Promise<void>;
}

const MAX_REQUEST_BYTES = 64 * 1024;
/** A plain-text request without a terminator is complete after this much silence. */
const TEXT_IDLE_MS = 100;
/** A connection that never sends a request (or is kept open after a reply) is closed after this. */
const IDLE_CLOSE_MS = 10_000;

// ------------------------------------------------------------------ serialization

function writeString(s: string, raw: boolean): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    const code = s.charCodeAt(i);
    if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (code < 0x20) {
      if (raw) out += c;
      else if (c === '\n') out += '\\n';
      else if (c === '\r') out += '\\r';
      else if (c === '\t') out += '\\t';
      else out += `\\u${code.toString(16).padStart(4, '0')}`;
    } else out += c;
  }
  return `${out}"`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * JSON text for `value`, written the way a firmware with `variant` writes it. Without a variant
 * it is JSON.stringify's output (non-finite numbers as null).
 */
export function serializeRpcJson(value: unknown, variant: RpcJsonVariant | null = null): string {
  // Without a variant the output is exactly JSON.stringify's (non-finite numbers become null,
  // undefined members are dropped), so use the native serializer: most replies take this path.
  if (variant === null) return JSON.stringify(value) ?? 'null';
  const v = variant;
  const write = (x: unknown): string => {
    if (x === null || x === undefined) return 'null';
    if (typeof x === 'number') {
      if (Number.isFinite(x)) return JSON.stringify(x);
      if (!v.bareNonFinite) return 'null';
      return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
    }
    if (typeof x === 'string') return writeString(x, v.rawControlChars === true);
    if (typeof x === 'boolean') return x ? 'true' : 'false';
    if (Array.isArray(x)) {
      let out = '[';
      x.forEach((item, i) => {
        if (i === 0) {
          if (v.leadingCommaInArrays && isPlainObject(item)) out += ',';
        } else if (!(v.objectsWithoutComma && isPlainObject(item) && isPlainObject(x[i - 1]))) {
          out += ',';
        }
        out += write(item);
      });
      if (v.trailingCommas && x.length > 0) out += ',';
      return `${out}]`;
    }
    if (isPlainObject(x)) {
      const members = Object.entries(x)
        .filter(([, val]) => val !== undefined)
        .map(
          ([k, val]) =>
            `${writeString(v.doublePercentKeys ? k.replace(/%/g, '%%') : k, false)}:${write(val)}`,
        );
      return `{${members.join(',')}${v.trailingCommas && members.length > 0 ? ',' : ''}}`;
    }
    return 'null';
  };
  return write(value);
}

/** A STATUS section entry, as cgminer writes it. */
export function rpcStatus(
  letter: 'S' | 'I' | 'W' | 'E' | 'F',
  code: number,
  msg: string,
  description: string,
  whenMs: number = Date.now(),
): Record<string, unknown> {
  return { STATUS: letter, When: Math.floor(whenMs / 1000), Code: code, Msg: msg, Description: description };
}

/** cgminer's answer to a JSON request without "command" (code 24). */
export function missingCommandReply(description: string, whenMs?: number): Record<string, unknown> {
  return rpcErrorReply(24, "Missing JSON 'command'", description, whenMs);
}

/** An error reply: the STATUS section alone, with "E". */
export function rpcErrorReply(
  code: number,
  msg: string,
  description: string,
  whenMs?: number,
): Record<string, unknown> {
  return { STATUS: [rpcStatus('E', code, msg, description, whenMs)], id: 1 };
}

// ------------------------------------------------------------------ requests

interface ParsedRequest {
  commands: string[];
  parameter: string | undefined;
  raw: unknown;
  error?: { code: number; msg: string };
}

function parseRequest(text: string): ParsedRequest {
  const trimmed = text.replace(/\0+$/, '').trim();
  if (trimmed.startsWith('{')) {
    let raw: unknown;
    try {
      raw = JSON.parse(trimmed);
    } catch {
      return { commands: [], parameter: undefined, raw: trimmed, error: { code: 23, msg: 'Invalid JSON' } };
    }
    if (!isPlainObject(raw)) {
      return { commands: [], parameter: undefined, raw, error: { code: 23, msg: 'Invalid JSON' } };
    }
    if (typeof raw.command !== 'string' || raw.command.length === 0) {
      // No command (Whatsminer's encrypted {"enc":1,...}, MicroBT's {"cmd":...}): the handler
      // decides; cgminer firmwares answer code 24 (see missingCommandReply).
      return { commands: [''], parameter: undefined, raw };
    }
    const p = raw.parameter;
    const parameter =
      p === undefined || p === null ? undefined : typeof p === 'string' ? p : JSON.stringify(p);
    return { commands: raw.command.split('+').filter((c) => c.length > 0), parameter, raw };
  }
  const bar = trimmed.indexOf('|');
  const command = bar >= 0 ? trimmed.slice(0, bar) : trimmed;
  const parameter = bar >= 0 ? trimmed.slice(bar + 1) : undefined;
  if (command.length === 0) {
    return { commands: [], parameter, raw: trimmed, error: { code: 24, msg: 'Missing command' } };
  }
  return { commands: command.split('+').filter((c) => c.length > 0), parameter, raw: trimmed };
}

/** True once `buf` holds a complete request: a closed JSON object, or a terminated text line. */
function requestComplete(buf: string): boolean {
  const s = buf.trimStart();
  if (s.length === 0) return false;
  if (s.includes('\0')) return true;
  if (!s.startsWith('{')) return s.includes('\n');
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return true;
    }
  }
  return false;
}

// ------------------------------------------------------------------ server

/**
 * Listens on host:port (port 0 picks a free one) and answers with `handler`. Faults, checked
 * on every connection (SimMinerView.fault, and state 'offline'):
 * - refuse, or the miner offline: the connection is reset at once;
 * - timeout: the request is read and never answered;
 * - garbage: random bytes, then close;
 * - truncate: the first half of the reply, then close (no NUL);
 * - slow-drip: the reply one byte every 500 ms;
 * - oversized: a reply of more than 1 MiB.
 * The handler never sees a faulted request; an exception in it becomes an error reply.
 */
export function serveRpc(
  host: string,
  port: number,
  handler: RpcHandler,
  options: ServeRpcOptions,
): Promise<RpcServer> {
  const { miner } = options;
  const now = options.now ?? Date.now;
  const description = options.description ?? 'cgminer 4.11.1';
  const variants = options.variants ?? [];
  const joined = options.joined ?? 'supported';
  const sockets = new Set<Socket>();

  const answerOne = async (
    command: string,
    parameter: string | undefined,
    raw: unknown,
  ): Promise<RpcHandlerResult> => {
    try {
      return await handler({ command, parameter, raw });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      return rpcErrorReply(0, `Internal error: ${msg}`.slice(0, 200), description, now());
    }
  };

  const buildReply = async (req: ParsedRequest): Promise<RpcHandlerResult> => {
    if (req.error) return rpcErrorReply(req.error.code, req.error.msg, description, now());
    const { commands, parameter, raw } = req;
    if (commands.length === 1) return answerOne(commands[0] as string, parameter, raw);
    if (joined === 'empty') return {};
    if (joined === 'error') return rpcErrorReply(14, 'Invalid command', description, now());
    const body: Record<string, unknown> = {};
    for (const c of commands.slice(0, 16)) {
      const sub = await answerOne(c, parameter, raw);
      let value: unknown = sub;
      if (typeof sub === 'string') {
        try {
          value = JSON.parse(sub);
        } catch {
          value = rpcErrorReply(0, 'Internal error', description, now());
        }
      }
      body[c] = [value];
    }
    body.id = 1;
    return body;
  };

  const respond = async (socket: Socket, text: string) => {
    const fault = miner.fault;
    if (fault === 'timeout') return; // read, never answer
    if (fault === 'refuse') {
      socket.resetAndDestroy();
      return;
    }
    if (fault === 'garbage') {
      socket.end(garbageBytes(() => miner.random()));
      return;
    }
    const reply = await buildReply(parseRequest(text));
    if (socket.destroyed) return;
    const useVariant = fault === null && variants.length > 0 && miner.random() < miner.quirkRate;
    const variant = useVariant ? (variants[Math.floor(miner.random() * variants.length)] ?? null) : null;
    const json = typeof reply === 'string' ? reply : serializeRpcJson(reply, variant);
    const garbage = variant?.trailingGarbage ? ' \u0001}]xq' : '';

    if (fault === 'oversized') {
      const pad = 'x'.repeat(OVERSIZED_BYTES);
      socket.end(Buffer.from(`{"STATUS":[{"STATUS":"S","Code":70,"Msg":"Stats"}],"PAD":"${pad}"}\0`));
      return;
    }
    const bytes = Buffer.from(`${json}${garbage}\0`);
    if (fault === 'truncate') {
      sendTruncated(socket, bytes);
      return;
    }
    if (fault === 'slow-drip') {
      sendSlowDrip(socket, bytes);
      return;
    }
    if (variant?.newlineKeepOpen) {
      socket.write(`${json}\n`); // stays open; the client decides when to hang up
      return;
    }
    socket.end(bytes);
  };

  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (miner.fault === 'refuse' || miner.observe().state === 'offline') {
      socket.resetAndDestroy();
      return;
    }
    socket.setTimeout(IDLE_CLOSE_MS, () => socket.destroy());
    let buf = '';
    let handled = false;
    let idle: NodeJS.Timeout | undefined;
    const handle = () => {
      if (handled) return;
      handled = true;
      clearTimeout(idle);
      respond(socket, buf).catch(() => socket.destroy());
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      if (handled) return;
      buf += chunk;
      if (buf.length > MAX_REQUEST_BYTES) {
        socket.destroy();
        return;
      }
      if (requestComplete(buf)) handle();
      else if (!buf.trimStart().startsWith('{')) {
        clearTimeout(idle);
        idle = setTimeout(handle, TEXT_IDLE_MS);
      }
    });
    socket.on('end', () => {
      if (!handled && buf.trim().length > 0) handle();
    });
  });

  return new Promise<RpcServer>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      resolve({
        port: bound,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
