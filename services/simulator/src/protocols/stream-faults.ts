// Byte-level wire faults for the simulator's HTTP and framed-TCP protocol servers (Braiins
// REST, Whatsminer API v3): what a broken miner puts on the wire instead of a good reply.
// Each takes the complete, correct reply bytes and the socket; the server calls it in place
// of writing the reply. `timeout` and `refuse` are handled where the connection is accepted.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { SimFault, SimMinerView } from '../model/sim-miner-api.ts';

/** Faults that replace the reply bytes (the others act on the connection itself). */
export type ReplyFault = Extract<SimFault, 'garbage' | 'truncate' | 'slow-drip' | 'oversized'>;

export const SLOW_DRIP_INTERVAL_MS = 500;
/** Larger than the drivers' default 1 MiB reply limit. */
export const OVERSIZED_BYTES = 1024 * 1024 + 64 * 1024;

export function isReplyFault(f: SimFault | null): f is ReplyFault {
  return f === 'garbage' || f === 'truncate' || f === 'slow-drip' || f === 'oversized';
}

/** Random bytes from the miner's deterministic generator (never a valid reply). */
export function garbageBytes(random: () => number, n = 512): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(random() * 256) & 0xff;
  // A leading NUL-free non-ASCII byte keeps it from ever looking like "HTTP/" or "{".
  b[0] = 0xfe;
  return b;
}

/** Sends the first part of the reply, then closes: a reply cut short. */
export function sendTruncated(socket: Socket, reply: Buffer): void {
  const cut = Math.max(1, Math.floor(reply.length / 2));
  socket.end(reply.subarray(0, cut));
}

/**
 * Sends one byte every 500 ms until the reply is out or the client hangs up. Returns a
 * function that stops the drip (for server close).
 */
export function sendSlowDrip(socket: Socket, reply: Buffer, intervalMs = SLOW_DRIP_INTERVAL_MS): () => void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= reply.length) {
      clearInterval(timer);
      if (!socket.destroyed) socket.end();
      return;
    }
    socket.write(reply.subarray(i, i + 1));
    i++;
  }, intervalMs);
  socket.once('close', () => clearInterval(timer));
  return () => clearInterval(timer);
}

/**
 * The HTTP server a simulated firmware's web API runs on: bounded request times and headers, and
 * connections reset at once while the miner refuses connections or is offline (rebooting).
 */
export function createMinerHttpServer(miner: SimMinerView): http.Server {
  const server = http.createServer({
    requestTimeout: 30_000,
    headersTimeout: 10_000,
    maxHeaderSize: 16 * 1024,
  });
  server.on('connection', (socket) => {
    socket.on('error', () => {});
    if (miner.fault === 'refuse' || miner.observe().state === 'offline') socket.resetAndDestroy();
  });
  return server;
}
