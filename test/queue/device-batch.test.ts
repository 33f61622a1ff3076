// device.batch end to end: a real BullMQ worker on real Redis drives the simulator's firmware
// servers. Every control that reaches a simulated miner is counted, so the tests prove that
// retries and re-sent commands never flip a miner twice (product safety rule 6).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { fleetProfiles, parseFarmYaml, type Farm } from '@switchyard/domain';
import { deviceBatches } from '@switchyard/controller';
import { createMinerDriver, pollTargets } from '@switchyard/miners';
import {
  createDeviceBatchHandler,
  createQueues,
  startWorkers,
  type DeviceCommandTarget,
  type EpochSource,
  type Job,
  type JobInput,
  type JobQueues,
  type RunningWorkers,
} from '@switchyard/queue';
import { startSimulator, type RunningSimulator, type SimMiner } from '@switchyard/simulator';
import { dropPrefix, epochs, producer, sleep, uniquePrefix, waitFinished } from './support.ts';
import { requireRedisUrl } from '../support/redis.ts';

const FARM = `
apiVersion: switchyard.io/v1alpha1
kind: Site
metadata: { name: qlab }
spec:
  interconnectKw: 200
  marketNode: HB_WEST
  pue: 1.1
  powerTree:
    name: site
    limitKw: 200
    children:
      - { name: pdu-1, limitKw: 100 }
  coolingZones: [{ name: hall, capacityKw: 200 }]
${[
  ['lx', 'S19j Pro', 'luxos', '10.204.0.0/29', 4],
  ['bo', 'S21', 'braiins', '10.204.1.0/29', 4],
  ['am', 'S19 Pro', 'antminer', '10.204.2.0/29', 3],
  ['ly', 'S19j Pro', 'luxos', '10.204.3.0/29', 4],
  ['lz', 'S19j Pro', 'luxos', '10.204.4.0/29', 4],
  ['wm', 'M50S', 'whatsminer', '10.204.5.0/29', 3],
]
  .map(
    ([name, model, driver, cidr, count]) => `---
apiVersion: switchyard.io/v1alpha1
kind: MinerFleet
metadata: { name: ${name} }
spec: { site: qlab, feed: pdu-1, coolingZone: hall, model: ${model}, driver: ${driver}, endpoints: { cidr: ${cidr}, count: ${count} } }
`,
  )
  .join('')}`;

const parsed = parseFarmYaml(FARM);
if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
const farm: Farm = parsed.farm;
const targetsOf = (fleet: string) =>
  pollTargets(farm)
    .filter((t) => t.fleet === fleet)
    .map((t) => ({ host: t.host, port: t.port }));
const driverOf = (fleet: string) =>
  farm.fleets.find((f) => f.metadata.name === fleet)?.spec.driver ?? 'luxos';

/** Every control call that reached a simulated miner, and how many of them changed it. */
const counts = new Map<string, { calls: number; flips: number }>();
const CONTROLS = ['sleep', 'wake', 'setProfile', 'setPowerTarget', 'setPowerPercent'] as const;
function instrument(m: SimMiner): void {
  const fingerprint = () => {
    const o = m.observe();
    // ramping counts as awake: a wake's ramp finishing is not another flip
    return `${o.state === 'sleeping' ? 'asleep' : 'awake'}|${o.profile}|${o.powerTargetW}|${o.powerPercent}`;
  };
  for (const name of CONTROLS) {
    const original = (m[name] as (...args: unknown[]) => unknown).bind(m);
    Object.assign(m, {
      [name]: (...args: unknown[]) => {
        const before = fingerprint();
        const r = original(...args);
        const c = counts.get(m.id.farmHost) ?? { calls: 0, flips: 0 };
        c.calls += 1;
        if (fingerprint() !== before) c.flips += 1;
        counts.set(m.id.farmHost, c);
        return r;
      },
    });
  }
}
const countsOf = (fleet: string) => targetsOf(fleet).map((t) => counts.get(t.host) ?? { calls: 0, flips: 0 });

let sim: RunningSimulator;
let redis: Redis;
let prefix: string;
let queues: JobQueues;
let running: RunningWorkers | undefined;
const driversMade: DeviceCommandTarget[] = [];

beforeAll(async () => {
  sim = await startSimulator({
    farm,
    workers: 0,
    httpPort: 0,
    speed: 1,
    sleepSeconds: 1,
    wakeSeconds: 2,
    quirkRate: 0,
    seed: 11,
  });
  for (const m of sim.sim.miners()) instrument(m);
}, 60_000);
afterAll(() => sim?.close());

beforeEach(async () => {
  redis = await producer();
  prefix = uniquePrefix();
  queues = createQueues(redis, { prefix });
  driversMade.length = 0;
});

afterEach(async () => {
  await running?.close({ force: true });
  running = undefined;
  await queues.close();
  await dropPrefix(redis, prefix);
  redis.disconnect();
});

const makeDriver = (t: DeviceCommandTarget) => {
  driversMade.push(t);
  return createMinerDriver(t.driver, {
    host: t.host.replace(/^10\./, '127.'),
    port: t.port + (t.port < 1024 ? sim.portOffset : 0),
    timeoutMs: 1500,
    credentials: t.credentials,
  });
};

async function startDeviceWorker(opts: { lease?: EpochSource; concurrency?: number } = {}) {
  running = await startWorkers({
    connection: requireRedisUrl(),
    prefix,
    lease: opts.lease ?? epochs(1),
    handleSignals: false,
    queues: ['device'],
    concurrency: 2,
    handlers: {
      'device.batch': createDeviceBatchHandler({
        concurrency: opts.concurrency ?? 8,
        resolveCredentials: async () => ({ username: 'root', password: 'not-the-password' }),
        createDriver: makeDriver,
      }),
    },
  });
}

function batch(
  fleet: string,
  action: 'sleep' | 'wake' | 'set-profile' | 'set-power-percent',
  extra: Record<string, unknown> = {},
) {
  return {
    planId: 'plan-1',
    stepId: `${action}-1`,
    epoch: 1,
    fleet,
    feed: 'pdu-1',
    driver: driverOf(fleet),
    action,
    targets: targetsOf(fleet),
    ...extra,
  };
}

async function run(payload: JobInput<'device.batch'>): Promise<Job> {
  const job = await queues.add('device.batch', payload);
  return waitFinished(queues.queues.device, job.id as string, 30_000);
}

async function simState(host: string): Promise<string> {
  const res = await fetch(`${sim.url}/sim/miners/${host}`);
  return ((await res.json()) as { observation: { state: string } }).observation.state;
}

const outcomes = (job: Job) =>
  Object.values((job.returnvalue as { outcomes: Record<string, string> }).outcomes);

describe('device.batch against the simulator', () => {
  it('sleeps a fleet once: a retried job and a re-sent command flip no miner again', async () => {
    await startDeviceWorker();
    const first = await run(batch('lx', 'sleep'));
    expect(await first.getState()).toBe('completed');
    expect(outcomes(first)).toEqual(['applied', 'applied', 'applied', 'applied']);
    expect(first.returnvalue).toMatchObject({ applied: 4, already: 0, failed: 0 });
    for (const t of targetsOf('lx')) expect(await simState(t.host)).toBe('sleeping');
    expect(countsOf('lx')).toEqual(Array(4).fill({ calls: 1, flips: 1 }));

    // BullMQ retries the same job: its progress says every miner is done, so none is touched.
    driversMade.length = 0;
    await first.retry('completed');
    const retried = await waitFinished(queues.queues.device, first.id as string, 30_000);
    expect(outcomes(retried)).toEqual(['applied', 'applied', 'applied', 'applied']);
    expect(driversMade).toEqual([]);

    // The same command again with no memory of the first (its job record is gone): every miner
    // is read, found asleep and left alone.
    await retried.remove();
    const resent = await run(batch('lx', 'sleep'));
    expect(resent.id).toBe(first.id);
    expect(outcomes(resent)).toEqual(['already', 'already', 'already', 'already']);
    expect(countsOf('lx')).toEqual(Array(4).fill({ calls: 1, flips: 1 }));

    // Waking is one more flip each, and waking again is none.
    const woke = await run(batch('lx', 'wake'));
    expect(outcomes(woke)).toEqual(['applied', 'applied', 'applied', 'applied']);
    await (await queues.queues.device.getJob(woke.id as string))?.remove();
    expect(outcomes(await run(batch('lx', 'wake')))).toEqual(['already', 'already', 'already', 'already']);
    expect(countsOf('lx')).toEqual(Array(4).fill({ calls: 2, flips: 2 }));
    for (const t of targetsOf('lx')) expect(['hashing', 'ramping']).toContain(await simState(t.host));
  }, 60_000);

  it('retries only the miners that failed, and flips each miner once', async () => {
    const [a, b] = targetsOf('bo').map((t) => t.host);
    await sim.sim.applyFaults({ fault: 'refuse', hosts: [a as string, b as string] });
    await startDeviceWorker();
    const attempts: Array<Record<string, string>> = [];
    running?.workers.device?.on('failed', (job) => {
      attempts.push({ ...(job?.progress as { outcomes: Record<string, string> }).outcomes });
      void sim.sim.applyFaults({ fault: null, hosts: [a as string, b as string] });
    });
    const job = await run(batch('bo', 'sleep'));
    expect(await job.getState()).toBe('completed');
    expect(job.attemptsMade).toBe(2);
    // first attempt: the two refusing miners failed, the others were slept
    expect(Object.values(attempts[0] ?? {}).sort()).toEqual([
      'applied',
      'applied',
      'failed:refused',
      'failed:refused',
    ]);
    // second attempt: only the two failed miners were dialled again
    const hosts = driversMade.map((d) => d.host);
    expect(hosts.filter((h) => h === a || h === b)).toHaveLength(4);
    expect(hosts.filter((h) => h !== a && h !== b)).toHaveLength(2);
    expect(outcomes(job)).toEqual(['applied', 'applied', 'applied', 'applied']);
    expect(countsOf('bo')).toEqual(Array(4).fill({ calls: 1, flips: 1 }));
  }, 60_000);

  it('fails a batch for good on rejected credentials, touches nothing, and keeps the job', async () => {
    await startDeviceWorker();
    const before = countsOf('am').map((c) => c.calls);
    const job = await run(batch('am', 'sleep', { credentialsRef: 'am-secret' }));
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toMatch(/3 of 3 miners of am failed to sleep: .* failed:auth/);
    expect(Object.values((job.progress as { outcomes: Record<string, string> }).outcomes)).toEqual(
      Array(3).fill('failed:auth'),
    );
    expect(countsOf('am').map((c) => c.calls)).toEqual(before);
    expect((await queues.queues.device.getFailed()).map((j) => j.id)).toEqual([job.id]);
  }, 60_000);

  it('changes a profile once and then finds it in place', async () => {
    await startDeviceWorker();
    const set = await run(batch('am', 'set-profile', { profile: 'low-power' }));
    expect(outcomes(set)).toEqual(['applied', 'applied', 'applied']);
    // (the simulated web UI applies miner-mode 3 as a profile change plus a no-op wake)
    const afterSet = countsOf('am');
    expect(afterSet.map((c) => c.flips)).toEqual([1, 1, 1]);
    await (await queues.queues.device.getJob(set.id as string))?.remove();
    const again = await run(batch('am', 'set-profile', { profile: 'low-power' }));
    expect(outcomes(again)).toEqual(['already', 'already', 'already']);
    expect(countsOf('am')).toEqual(afterSet);
  }, 60_000);

  it('takes Whatsminer miners from 100 % to a lower power percent once; the same command again changes nothing', async () => {
    await startDeviceWorker();
    const miners = targetsOf('wm').map(
      (t) => sim.sim.miners().find((m) => m.id.farmHost === t.host) as SimMiner,
    );
    expect(miners.map((m) => m.observe().powerPercent)).toEqual([null, null, null]); // full power

    // What the controller sends for a set-profile step normal → eco on an M50S fleet.
    const fleet = farm.fleets.find((f) => f.metadata.name === 'wm');
    const [payload, ...more] = deviceBatches(
      {
        id: 'plan-1:0:1:fleet/wm',
        kind: 'set-profile',
        fleet: 'wm',
        feed: 'pdu-1',
        toProfile: 'eco',
        powerTargetW: 2457,
      },
      targetsOf('wm'),
      { planId: 'plan-1', epoch: 1, driver: 'whatsminer', profiles: fleet ? fleetProfiles(fleet) : [] },
    );
    expect(more).toEqual([]);
    expect(payload).toMatchObject({ action: 'set-power-percent', percent: 68 });
    if (!payload) throw new Error('no batch');
    const set = await run(payload);
    expect(await set.getState()).toBe('completed');
    expect(outcomes(set)).toEqual(['applied', 'applied', 'applied']);
    expect(miners.map((m) => m.observe().powerPercent)).toEqual([68, 68, 68]);
    expect(countsOf('wm')).toEqual(Array(3).fill({ calls: 1, flips: 1 }));

    // A retry of the same job: its progress says every miner is done, so none is dialled.
    driversMade.length = 0;
    await set.retry('completed');
    const retried = await waitFinished(queues.queues.device, set.id as string, 30_000);
    expect(outcomes(retried)).toEqual(['applied', 'applied', 'applied']);
    expect(driversMade).toEqual([]);

    // The same command with no memory of the first. Whatsminer telemetry reports no power
    // percent, so the handler cannot find the miners already there: the command is sent again,
    // and set_power_pct to the percent in place changes no miner.
    await retried.remove();
    const again = await run(batch('wm', 'set-power-percent', { stepId: payload.stepId, percent: 68 }));
    expect(again.id).toBe(set.id);
    expect(outcomes(again)).toEqual(['applied', 'applied', 'applied']);
    expect(miners.map((m) => m.observe().powerPercent)).toEqual([68, 68, 68]);
    expect(countsOf('wm')).toEqual(Array(3).fill({ calls: 2, flips: 1 }));
  }, 60_000);

  it('stops actuating the moment a newer leader appears, and drops the rest of the batch', async () => {
    let fenceChecks = 0;
    // Epoch 1 for the harness's check and the first two miners, then a new leader (epoch 2).
    const lease = { currentEpoch: async () => (++fenceChecks <= 3 ? 1 : 2) };
    await startDeviceWorker({ lease, concurrency: 1 });
    const job = await run(batch('ly', 'sleep'));
    expect(await job.getState()).toBe('completed');
    expect(job.returnvalue).toEqual({
      status: 'dropped',
      reason: 'dropped: stale epoch 1 < 2',
      jobEpoch: 1,
      currentEpoch: 2,
    });
    expect(Object.values((job.progress as { outcomes: Record<string, string> }).outcomes)).toEqual([
      'applied',
      'applied',
    ]);
    expect(countsOf('ly')).toEqual([
      { calls: 1, flips: 1 },
      { calls: 1, flips: 1 },
      { calls: 0, flips: 0 },
      { calls: 0, flips: 0 },
    ]);
  }, 60_000);

  it('survives a worker dying between a command and its record: the next worker flips nothing twice', async () => {
    // Worker 1 sleeps the second miner, then hangs before it can record it, as if killed.
    let hangRelease: (e: Error) => void = () => undefined;
    const hang = new Promise<never>((_, reject) => (hangRelease = reject));
    hang.catch(() => undefined);
    let slept = 0;
    const dying = await startWorkers({
      connection: requireRedisUrl(),
      prefix,
      lease: epochs(1),
      handleSignals: false,
      queues: ['device'],
      workerOptions: { lockDuration: 800, stalledInterval: 300 },
      handlers: {
        'device.batch': createDeviceBatchHandler({
          concurrency: 1,
          progressGapMs: 0, // the first outcome is on record before the second miner is commanded
          createDriver: (t) => {
            const d = makeDriver(t);
            const sleepOnce = d.sleep.bind(d);
            d.sleep = async () => {
              const outcome = await sleepOnce();
              if (++slept === 2) await hang;
              return outcome;
            };
            return d;
          },
        }),
      },
    });
    try {
      const job = await queues.add('device.batch', batch('lz', 'sleep'));
      while (slept < 2) await sleep(20);
      await dying.close({ force: true }); // stops renewing the job's lock: it will stall
      expect(countsOf('lz').map((c) => c.flips)).toEqual([1, 1, 0, 0]);
      running = await startWorkers({
        connection: requireRedisUrl(),
        prefix,
        lease: epochs(1),
        handleSignals: false,
        queues: ['device'],
        workerOptions: { lockDuration: 800, stalledInterval: 300 },
        handlers: { 'device.batch': createDeviceBatchHandler({ createDriver: makeDriver }) },
      });
      const done = await waitFinished(queues.queues.device, job.id as string, 30_000);
      expect(await done.getState()).toBe('completed');
      // the first miner was recorded; the second was done but not recorded, so it was read
      expect(outcomes(done)).toEqual(['applied', 'already', 'applied', 'applied']);
      expect(countsOf('lz')).toEqual(Array(4).fill({ calls: 1, flips: 1 }));
    } finally {
      hangRelease(new Error('test over'));
      await dying.close({ force: true });
    }
  }, 60_000);
});
