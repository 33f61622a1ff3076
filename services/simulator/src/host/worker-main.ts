// Entry point of a simulator worker process (forked by ChildHostHandle): hosts the fleets the
// coordinator assigns, sends their power samples, answers requests, and exits when told to
// close or when the coordinator goes away. Ctrl-C reaches the whole process group, so SIGINT is
// left to the coordinator, which closes its workers in order.
import { createLogger } from '@switchyard/telemetry';
import { MinerHost } from './miner-host.ts';
import type { ChildMessage, ParentMessage } from './messages.ts';

let host: MinerHost | undefined;
let closing = false;

function send(msg: ChildMessage): void {
  if (process.connected) process.send?.(msg, undefined, {}, () => {});
}

async function shutdown(code: number): Promise<void> {
  if (closing) return;
  closing = true;
  try {
    await host?.close();
  } finally {
    send({ kind: 'closed' });
    process.exitCode = code;
    process.disconnect?.();
    // servers closed and the channel gone: nothing should keep the process, but make sure
    setTimeout(() => process.exit(code), 2000).unref();
  }
}

process.on('message', (raw) => {
  const msg = raw as ParentMessage;
  if (msg.kind === 'init') {
    const logger = createLogger({ level: msg.init.logLevel, name: `switchyard-sim-worker-${process.pid}` });
    try {
      host = new MinerHost(msg.init, logger);
    } catch (e) {
      send({ kind: 'fatal', message: (e as Error).message });
      void shutdown(1);
      return;
    }
    const h = host;
    h.onSamples = (batch) => send({ kind: 'samples', batch });
    h.startSampling();
    h.startServers().then(
      (ready) => send({ kind: 'ready', ready }),
      (e: unknown) => {
        send({ kind: 'fatal', message: (e as Error).message });
        void shutdown(1);
      },
    );
  } else if (msg.kind === 'req') {
    if (!host) {
      send({ kind: 'res', id: msg.id, ok: false, error: 'worker not initialised' });
      return;
    }
    host.handle(msg.op, msg.args as never).then(
      (value) => send({ kind: 'res', id: msg.id, ok: true, value }),
      (e: unknown) => send({ kind: 'res', id: msg.id, ok: false, error: (e as Error).message }),
    );
  } else if (msg.kind === 'close') {
    void shutdown(0);
  }
});

process.on('disconnect', () => void shutdown(0));
process.on('SIGINT', () => {});
process.on('SIGTERM', () => void shutdown(0));
