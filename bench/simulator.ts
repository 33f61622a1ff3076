// Simulator benchmark: start-up time, memory and open files for the example farm (10,000 miners
// with the real protocol servers) in 0, 1 and 2 worker processes, and the coordinator's CPU at
// speed 60 while steady and while every miner ramps at once. Writes bench/results/simulator.json.
// Run with ./scripts/bench simulator (needs the ports of 127.x.y.z free; root binds 80 directly).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { startSimulator } from '../services/simulator/src/index.ts';

const rssMb = (pid: number) =>
  Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);
const openFiles = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

const startup: Record<string, unknown>[] = [];
for (const workers of [2, 1, 0]) {
  for (let run = 0; run < (workers === 2 ? 3 : 1); run++) {
    const sim = await startSimulator({
      farmFile: 'examples/farm.yaml',
      workers,
      httpPort: 0,
      logLevel: 'warn',
    });
    await pause(2000);
    const pids = [process.pid, ...sim.workerPids];
    startup.push({
      workers,
      startupMs: sim.startupMs,
      listeners: sim.listeners,
      hostStartMs: sim.sim.hosts.map((h) => h.startMs),
      rssMb: pids.map(rssMb),
      openFiles: pids.map(openFiles),
    });
    await sim.close();
  }
}

// the model's cost: coordinator CPU with every miner in this process, no servers
const sim = await startSimulator({
  farmFile: 'examples/farm.yaml',
  workers: 0,
  protocols: false,
  httpPort: 0,
  speed: 60,
  wakeSeconds: 600,
});
const cpuMsPerS = async (seconds: number) => {
  const c = process.cpuUsage();
  await pause(seconds * 1000);
  const u = process.cpuUsage(c);
  return Math.round((u.user + u.system) / 1000 / seconds);
};
await pause(1000);
const steady = await cpuMsPerS(3);
await sim.sim.control({ action: 'sleep' });
await pause(500);
await sim.sim.control({ action: 'wake' });
const ramping = await cpuMsPerS(3);
const lagS = Math.round((sim.sim.clock.now() - (sim.sim.power()[0]?.t ?? 0)) / 1000);
await sim.close();

const results = {
  benchmark: 'simulator',
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version },
  farm: { miners: 10_000, fleets: 17, gpuNodes: 56 },
  startup,
  speed60InProcess: { steadyCpuMsPerS: steady, allRampingCpuMsPerS: ramping, sampleLagS: lagS },
};
writeFileSync('bench/results/simulator.json', `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
