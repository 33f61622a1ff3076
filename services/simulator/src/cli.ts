// `switchyard sim` / `node services/simulator/src/main.ts`: parses options, starts the
// simulator, prints where everything is, and runs until SIGINT or SIGTERM.
import { parseArgs } from 'node:util';
import { createLogger, type Logger } from '@switchyard/telemetry';
import { startSimulator, type RunningSimulator, type StartSimulatorOptions } from './start.ts';

export const SIM_USAGE = `Usage: switchyard sim [options]

Simulates every miner and GPU node of a farm file, each miner serving its firmware's API on
127.b.c.d for farm address a.b.c.d, and logs the true draw of every power-tree node.

Options:
  --farm FILE           farm file (default examples/farm.yaml)
  --speed N             simulated seconds per real second (default 1)
  --workers N           worker processes hosting the miners (default 2; 0 = this process)
  --http-port N         control API port on 127.0.0.1 (default 9090; 0 = any free port)
  --power-log FILE      write the ground-truth power log as JSON lines
  --sleep-seconds S     time for a sleeping miner's draw to fall (default 3)
  --wake-seconds S      length of a miner's wake ramp (default 60)
  --reboot-seconds S    time a rebooting miner is offline (default 45)
  --retune-seconds S    time to move between profiles or power targets (default 5)
  --quirk-rate R        share of replies using a firmware's broken-JSON variant (default 0.05)
  --port-offset N       add N to ports below 1024 (default: 0, or 10000 when they cannot be bound)
  --ambient C           ambient temperature of every site, °C (default 25)
  --seed S              seed of the per-miner noise (default "switchyard")
  --no-protocols        run the physics only, without protocol servers
  -h, --help            show this text`;

export interface SimCliContext {
  env: Record<string, string | undefined>;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Resolves when the simulator should stop (default: SIGINT or SIGTERM). */
  stopSignal?: Promise<string>;
}

class UsageError extends Error {}

function num(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max)
    throw new UsageError(`--${name} must be a number between ${min} and ${max}, got "${v}"`);
  return n;
}

export function parseSimArgs(args: string[]): StartSimulatorOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        farm: { type: 'string' },
        speed: { type: 'string' },
        workers: { type: 'string' },
        'http-port': { type: 'string' },
        'power-log': { type: 'string' },
        'sleep-seconds': { type: 'string' },
        'wake-seconds': { type: 'string' },
        'retune-seconds': { type: 'string' },
        'reboot-seconds': { type: 'string' },
        'quirk-rate': { type: 'string' },
        'port-offset': { type: 'string' },
        ambient: { type: 'string' },
        seed: { type: 'string' },
        'no-protocols': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const workers = num('workers', v.workers, 0, 64);
  if (workers !== undefined && !Number.isInteger(workers))
    throw new UsageError('--workers must be an integer');
  const port = num('http-port', v['http-port'], 0, 65535);
  const offset = num('port-offset', v['port-offset'], 0, 64511);
  return {
    farmFile: v.farm ?? 'examples/farm.yaml',
    speed: num('speed', v.speed, 0.001, 100_000),
    workers,
    httpPort: port,
    powerLog: v['power-log'],
    sleepSeconds: num('sleep-seconds', v['sleep-seconds'], 0, 3600),
    wakeSeconds: num('wake-seconds', v['wake-seconds'], 0, 7200),
    rebootSeconds: num('reboot-seconds', v['reboot-seconds'], 0, 7200),
    retuneSeconds: num('retune-seconds', v['retune-seconds'], 0, 3600),
    quirkRate: num('quirk-rate', v['quirk-rate'], 0, 1),
    portOffset: offset,
    ambientC: num('ambient', v.ambient, -50, 70),
    seed: v.seed,
    protocols: v['no-protocols'] ? false : undefined,
  };
}

function signalPromise(): Promise<string> {
  return new Promise((resolve) => {
    const on = (s: string) => () => resolve(s);
    process.once('SIGINT', on('SIGINT'));
    process.once('SIGTERM', on('SIGTERM'));
  });
}

/** Runs the simulator until stopped; returns the exit code (0 ok, 1 invalid farm or failure, 2 usage). */
export async function runSimCli(args: string[], ctx: SimCliContext, logger?: Logger): Promise<number> {
  let opts: StartSimulatorOptions | 'help';
  try {
    opts = parseSimArgs(args);
  } catch (e) {
    if (e instanceof UsageError) {
      ctx.stderr.write(`switchyard sim: ${e.message}\n\n${SIM_USAGE}\n`);
      return 2;
    }
    throw e;
  }
  if (opts === 'help') {
    ctx.stdout.write(`${SIM_USAGE}\n`);
    return 0;
  }
  const log =
    logger ??
    createLogger({
      level: ctx.env.LOG_LEVEL ?? 'info',
      pretty: ctx.env.LOG_PRETTY === 'true',
      name: 'switchyard-sim',
    });
  const stop = ctx.stopSignal ?? signalPromise();
  let running: RunningSimulator;
  try {
    running = await startSimulator({ ...opts, logger: log });
  } catch (e) {
    // an invalid farm, a port that cannot be bound, a worker that failed to start
    ctx.stderr.write(`switchyard sim: ${(e as Error).message}\n`);
    return 1;
  }
  const { sim } = running;
  const out = (s: string) => ctx.stdout.write(`simulator: ${s}\n`);
  const workers = running.workerPids.length;
  out(
    `${running.miners} miners in ${sim.farm.fleets.length} fleets, ${sim.gpus.length} GPU nodes; ` +
      `${workers > 0 ? `${workers} worker processes (pids ${running.workerPids.join(', ')})` : 'in this process'}; ` +
      `${running.listeners} listening sockets`,
  );
  if (running.portOffset > 0)
    out(`ports below 1024 are served at port + ${running.portOffset} (e.g. 80 → ${80 + running.portOffset})`);
  out(`speed ${sim.clock.speed}× (sim time ${new Date(sim.clock.now()).toISOString()})`);
  if (opts.powerLog) out(`power log ${opts.powerLog}`);
  out(`control API ${running.url} (GET /sim/power, /sim/miners, /sim/violations; POST /sim/faults)`);
  out(`started in ${running.startupMs} ms; stop with Ctrl-C`);
  const failed = new Promise<Error>((resolve) => sim.onFailure(resolve));
  const why = await Promise.race([stop.then((s) => ({ signal: s })), failed.then((e) => ({ error: e }))]);
  await running.close();
  if ('error' in why) {
    ctx.stderr.write(`switchyard sim: ${why.error.message}\n`);
    return 1;
  }
  out(`stopped (${why.signal})`);
  return 0;
}
