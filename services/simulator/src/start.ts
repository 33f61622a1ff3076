// Starting the whole simulator — the farm's miners (in worker processes), the GPU nodes, the
// power log and the HTTP control API — from a farm file or a Farm. Used by the CLI entry
// (main.ts), by `switchyard sim`, and by tests (in process or as a subprocess).
import { readFile } from 'node:fs/promises';
import { formatIssue, parseFarmYaml, type Farm } from '@switchyard/domain';
import type { Logger } from '@switchyard/telemetry';
import { FarmSimulator, type FarmSimulatorOptions } from './farm-sim.ts';
import { SimulatorConfigError } from './farm-plan.ts';
import { buildSimApi } from './http/api.ts';

export interface StartSimulatorOptions extends FarmSimulatorOptions {
  /** The farm, or a farm file to read and validate. */
  farm?: Farm;
  farmFile?: string;
  /** HTTP API port (default 9090; 0 picks a free one) and address (default 127.0.0.1). */
  httpPort?: number;
  httpHost?: string;
  logger?: Logger;
}

export interface RunningSimulator {
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:9090 */
  url: string;
  sim: FarmSimulator;
  /** Added to ports below 1024 (0 when they are bound as they are). */
  portOffset: number;
  miners: number;
  /** Listening sockets of all miners. */
  listeners: number;
  /** Worker process ids (empty when the miners run in this process). */
  workerPids: number[];
  /** Wall-clock milliseconds from the call to a listening API. */
  startupMs: number;
  /** Closes the API, every miner socket and worker process, and the power log. Idempotent. */
  close(): Promise<void>;
}

/** Reads and validates a farm file; throws SimulatorConfigError listing every problem. */
export async function loadFarm(file: string): Promise<Farm> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new SimulatorConfigError(
      `cannot read farm file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const r = parseFarmYaml(text);
  if (!r.ok)
    throw new SimulatorConfigError(
      `${file} is invalid:\n${r.issues.map((i) => `  ${formatIssue(i, file)}`).join('\n')}`,
    );
  return r.farm;
}

export async function startSimulator(opts: StartSimulatorOptions): Promise<RunningSimulator> {
  const t0 = performance.now();
  const farm = opts.farm ?? (opts.farmFile ? await loadFarm(opts.farmFile) : undefined);
  if (!farm) throw new SimulatorConfigError('give farm or farmFile');
  const sim = new FarmSimulator(farm, opts);
  await sim.start();
  let app: Awaited<ReturnType<typeof buildSimApi>> | undefined;
  try {
    app = await buildSimApi(sim, opts.logger);
    await app.listen({ port: opts.httpPort ?? 9090, host: opts.httpHost ?? '127.0.0.1' });
  } catch (e) {
    await app?.close().catch(() => undefined);
    await sim.close();
    throw e;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.httpPort ?? 9090);
  const host = opts.httpHost ?? '127.0.0.1';
  const api = app;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    sim,
    portOffset: sim.portOffset,
    miners: sim.minerCount,
    listeners: sim.hosts.reduce((n, h) => n + h.listeners, 0),
    workerPids: sim.hosts.filter((h) => h.pid !== process.pid).map((h) => h.pid),
    startupMs: Math.round(performance.now() - t0),
    close: () =>
      (closing ??= (async () => {
        await api.close().catch(() => undefined);
        await sim.close();
      })()),
  };
}
