// Miner benchmark: poll all 10,000 simulated miners of the example farm, then sleep them all and
// confirm by reading them back. The simulator runs as its own processes (a parent and two
// workers), the poller in this process with two worker threads, all on this machine's 2 cores.
// Writes bench/results/miners.json. Run with ./scripts/bench miners.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { parseFarmYaml } from '@switchyard/domain';
import { pollTargets, ThreadedFleetPoller, type PollResult } from '@switchyard/miners';

const SLEEP_SECONDS = 3;
const THREADS = 2;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function rssMiB(pid: number): number {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function states(r: PollResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of r.fleets) for (const [k, v] of Object.entries(f.byState)) out[k] = (out[k] ?? 0) + v;
  return out;
}

const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
const farm = parsed.farm;
const httpPort = await freePort();
const sim = spawn(
  process.execPath,
  [
    'services/simulator/src/main.ts',
    '--farm',
    'examples/farm.yaml',
    '--sleep-seconds',
    String(SLEEP_SECONDS),
    '--http-port',
    String(httpPort),
    '--workers',
    '2',
  ],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const simExit = new Promise<void>((resolve) => sim.once('exit', () => resolve()));
try {
  const t0 = Date.now();
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() - t0 > 60_000) throw new Error('simulator did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
  const simStartSeconds = (Date.now() - t0) / 1000;
  const targets = pollTargets(farm, (h) => h.replace(/^\d+\./, '127.'));
  const poller = new ThreadedFleetPoller({ threads: THREADS, concurrency: 256, timeoutMs: 5000 });

  const cold = await poller.poll(farm, targets);
  const warm: PollResult[] = [];
  for (let i = 0; i < 5; i++) warm.push(await poller.poll(farm, targets));
  const warmSeconds = warm.map((r) => r.durationMs / 1000).sort((a, b) => a - b);
  const lastStates = states(warm[warm.length - 1] as PollResult);
  if ((lastStates.hashing ?? 0) !== 10_000)
    throw new Error(`expected 10,000 hashing, got ${JSON.stringify(lastStates)}`);

  // Sleep everything, then read back until every miner reports sleeping at sleep draw.
  const s0 = performance.now();
  const failures = await poller.act(targets, 'sleep');
  const commandsSeconds = (performance.now() - s0) / 1000;
  let confirm: PollResult | undefined;
  let rounds = 0;
  for (;;) {
    rounds++;
    confirm = await poller.poll(farm, targets);
    const asleep = confirm.fleets.reduce((n, f) => n + f.byState.sleeping, 0);
    const sleepKw = farm.fleets.reduce(
      (n, f) =>
        n +
        ((f.spec.sleepW ?? 30) *
          1.5 *
          (confirm?.fleets.find((a) => a.fleet === f.metadata.name)?.miners ?? 0)) /
          1000,
      0,
    );
    const kw = confirm.fleets.reduce((n, f) => n + f.powerKw, 0);
    if (asleep === 10_000 && kw <= sleepKw) break;
    if ((performance.now() - s0) / 1000 > 120)
      throw new Error(`not all asleep after 120 s: ${JSON.stringify(states(confirm))}, ${kw.toFixed(0)} kW`);
  }
  const sleep10kSeconds = (performance.now() - s0) / 1000;
  const simPids = [sim.pid as number, ...childrenOf(sim.pid as number)];
  const results = {
    benchmark: 'miners',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version },
    miners: targets.length,
    setup: {
      simulatorProcesses: simPids.length,
      pollerThreads: THREADS,
      concurrencyPerThread: 256,
      simulatorSleepSeconds: SLEEP_SECONDS,
      quirkRate: 0.05,
    },
    poll10kSeconds: +(warmSeconds[Math.floor(warmSeconds.length / 2)] as number).toFixed(3),
    poll10kWarmRunsSeconds: warmSeconds.map((s) => +s.toFixed(3)),
    poll10kColdSeconds: +(cold.durationMs / 1000).toFixed(3),
    coldNote:
      'the first poll also logs on to LuxOS/Braiins, fetches Whatsminer salts and answers Digest challenges',
    sleep10kSeconds: +sleep10kSeconds.toFixed(3),
    sleepCommandsSeconds: +commandsSeconds.toFixed(3),
    sleepConfirmPolls: rounds,
    sleepCommandFailures: failures.length,
    degradedInLastPoll: confirm.degraded.length,
    simulatorRssMiB: Math.round(simPids.reduce((n, p) => n + rssMiB(p), 0)),
    simulatorRssMiBByProcess: simPids.map((p) => Math.round(rssMiB(p))),
    pollerRssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    simulatorStartSeconds: +simStartSeconds.toFixed(2),
    targets: { poll10kSeconds: 5, sleep10kSeconds: 10 },
  };
  await poller.close();
  writeFileSync('bench/results/miners.json', `${JSON.stringify(results, null, 2)}\n`);
  console.log(JSON.stringify(results, null, 2));
} finally {
  sim.kill('SIGTERM');
  await Promise.race([simExit, new Promise((r) => setTimeout(r, 5000))]);
  if (sim.exitCode === null) sim.kill('SIGKILL');
}
