// A test-only "firmware": one JSON-lines TCP listener per miner on its loopback address, port
// JSONL_PORT. Each line is a request, each reply one line: {"cmd":"id"} → identity,
// {"cmd":"observe"} → observation, {"cmd":"sleep"|"wake"|"reboot"} → {ok:true},
// {"cmd":"profile","name":"eco"} → {ok, error}. The 'refuse' fault resets connections and
// 'offline' miners do too. Importing the module registers it for every driver, so worker
// processes can load it by path (the simulator's `protocols` option).
import net from 'node:net';
import { MINER_DRIVERS } from '@switchyard/domain';
import type { SimMinerView } from '../../../services/simulator/src/model/sim-miner-api.ts';
import {
  registerProtocol,
  type StartMinerServersOptions,
} from '../../../services/simulator/src/protocols/registry.ts';

/** Far from every real firmware port, so it never collides with the real protocol servers. */
export const JSONL_PORT = 24028;

function reply(miner: SimMinerView, line: string): unknown {
  let req: { cmd?: unknown; name?: unknown };
  try {
    req = JSON.parse(line) as { cmd?: unknown; name?: unknown };
  } catch {
    return { error: 'invalid JSON' };
  }
  switch (req.cmd) {
    case 'id':
      return {
        farmHost: miner.id.farmHost,
        simHost: miner.id.simHost,
        fleet: miner.id.fleet,
        driver: miner.id.driver,
      };
    case 'observe':
      return miner.observe();
    case 'sleep':
      miner.sleep();
      return { ok: true };
    case 'wake':
      miner.wake();
      return { ok: true };
    case 'reboot':
      miner.reboot();
      return { ok: true };
    case 'profile': {
      const error = miner.setProfile(String(req.name));
      return { ok: error === null, error };
    }
    default:
      return { error: `unknown command ${String(req.cmd)}` };
  }
}

export function startJsonlServers(miner: SimMinerView, opts: StartMinerServersOptions) {
  return new Promise<{ close(): Promise<void>; ports: number[] }>((resolve, reject) => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      if (miner.fault === 'refuse' || miner.observe().state === 'offline') {
        socket.resetAndDestroy();
        return;
      }
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      let buf = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        buf += chunk;
        if (buf.length > 65_536) return socket.destroy();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          socket.write(`${JSON.stringify(reply(miner, line))}\n`);
        }
      });
    });
    server.once('error', reject);
    server.listen({ host: miner.id.simHost, port: opts.portMap(JSONL_PORT), exclusive: true }, () => {
      server.off('error', reject);
      const addr = server.address() as net.AddressInfo;
      resolve({
        ports: [addr.port],
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

for (const d of MINER_DRIVERS) registerProtocol(d, startJsonlServers);

/** Sends one request line to a miner's test listener and returns the parsed reply. */
export function jsonlRequest(host: string, port: number, req: unknown, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let buf = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(req)}\n`));
    socket.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        socket.end();
        try {
          resolve(JSON.parse(buf.slice(0, nl)));
        } catch (e) {
          reject(e as Error);
        }
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`${host}:${port} closed without a reply`));
    });
  });
}
