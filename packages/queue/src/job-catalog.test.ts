// The catalog is complete and self-consistent; ids are deterministic and BullMQ-safe.
import { describe, expect, it } from '@jest/globals';
import { UnrecoverableError } from 'bullmq';
import { MinerError, WHATSMINER_POWER_PERCENT } from '@switchyard/miners';
import {
  DEVICE_ACTIONS,
  DEVICE_ACTION_PARAMS,
  JOB_CATALOG,
  POWER_PERCENT_BOUNDS,
  JOB_NAMES,
  QUEUE_NAMES,
  REPEATABLE_JOBS,
  jobIdOf,
  jobsOfQueue,
  parsePayload,
  setGpuModeParams,
  type JobName,
} from './job-catalog.ts';
import { fencedJobId, jobId, JOB_ID_SEPARATOR } from './job-id.ts';
import { assertHashTaggedPrefix, jobOptions } from './queues.ts';
import { checkHandlerCoverage, toBullError } from './worker-harness.ts';
import { HandlerCoverageError, JobIdError, PayloadError, PrefixError } from './errors/index.ts';

const fenced = { planId: 'plan-7', stepId: 'shed-2', epoch: 4 };
const SAMPLES: Record<JobName, Record<string, unknown>> = {
  'device.batch': {
    ...fenced,
    fleet: 'fa',
    feed: 'pdu-a',
    driver: 'luxos',
    action: 'sleep',
    targets: [{ host: '10.0.0.1', port: 4028 }],
  },
  'device.confirm': { ...fenced, nodes: ['pdu-a'], expectLoadAtMostKw: 40, timeoutMs: 30_000 },
  'plan.phase': { ...fenced, phase: 'shed' },
  'kube.action': {
    ...fenced,
    action: 'set-gpu-mode',
    resource: { kind: 'Node', name: 'h100-a-node-03' },
    params: { pool: 'h100-a', mode: 'hashing' },
  },
  'webhook.deliver': { deliveryId: '3f1c2a9e-7b4d-4c1e-9a2f-0d6e8b5c4a31' },
  'telemetry.poll': { site: 'lab' },
  'signals.fetch': { source: 'ercot' },
};

describe('job catalog', () => {
  it.each(JOB_NAMES)('%s has a queue, schema, attempts, backoff, timeout and retention', (name) => {
    const s = JOB_CATALOG[name];
    expect(QUEUE_NAMES).toContain(s.queue);
    expect(typeof s.payload.safeParse).toBe('function');
    expect(s.description.length).toBeGreaterThan(10);
    expect(Number.isInteger(s.attempts) && s.attempts >= 1).toBe(true);
    expect(['exponential', 'fixed']).toContain(s.backoff.type);
    expect(s.backoff.delay).toBeGreaterThanOrEqual(0);
    expect(s.timeoutMs).toBeGreaterThan(0);
    // failed jobs are kept for inspection, bounded in age and count
    expect(s.removeOnFail.age).toBeGreaterThanOrEqual(24 * 3600);
    expect(s.removeOnFail.count).toBeGreaterThanOrEqual(1000);
    expect(s.removeOnComplete.count).toBeGreaterThan(0);
  });

  it('has a sample payload for every job, and every sample parses', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual([...JOB_NAMES].sort());
    for (const n of JOB_NAMES) expect(() => parsePayload(n, SAMPLES[n])).not.toThrow();
  });

  it('serves every job from exactly one queue, and every queue has jobs', () => {
    expect(QUEUE_NAMES.flatMap((q) => jobsOfQueue(q)).sort()).toEqual([...JOB_NAMES].sort());
    for (const q of QUEUE_NAMES) expect(jobsOfQueue(q).length).toBeGreaterThan(0);
  });

  it('requires the epoch on every fenced job, and fences everything that actuates', () => {
    const fencedNames = JOB_NAMES.filter((n) => JOB_CATALOG[n].fenced);
    expect(fencedNames.sort()).toEqual(['device.batch', 'device.confirm', 'kube.action', 'plan.phase']);
    for (const n of fencedNames) {
      const noEpoch: Record<string, unknown> = { ...SAMPLES[n] };
      delete noEpoch.epoch;
      expect(() => parsePayload(n, noEpoch)).toThrow(PayloadError);
      expect(() => parsePayload(n, { ...SAMPLES[n], epoch: 0 })).toThrow(PayloadError);
    }
  });

  it('lists exactly the jobs with a repeat interval as repeatable', () => {
    expect(JOB_NAMES.filter((n) => 'repeat' in JOB_CATALOG[n]).sort()).toEqual([...REPEATABLE_JOBS].sort());
  });

  it('builds deterministic ids without ":" that BullMQ accepts', () => {
    const ids = JOB_NAMES.map((n) => jobIdOf(n, parsePayload(n, SAMPLES[n])));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(id).not.toContain(':');
      expect(`${parseInt(id, 10)}`).not.toBe(id);
    }
    expect(jobIdOf('device.batch', parsePayload('device.batch', SAMPLES['device.batch']))).toBe(
      `plan-7${JOB_ID_SEPARATOR}shed-2${JOB_ID_SEPARATOR}fa${JOB_ID_SEPARATOR}e4`,
    );
    const parted = parsePayload('device.batch', { ...SAMPLES['device.batch'], part: 3 });
    expect(jobIdOf('device.batch', parted)).toBe('plan-7~shed-2~fa@3~e4');
    // the same command under a newer leader is a different job, never swallowed as a duplicate
    expect(jobIdOf('plan.phase', parsePayload('plan.phase', { ...SAMPLES['plan.phase'], epoch: 5 }))).toBe(
      'plan-7~shed-2~phase~e5',
    );
  });

  it('puts the catalog retries, backoff and retention into the BullMQ options', () => {
    const data = parsePayload('device.batch', SAMPLES['device.batch']);
    expect(jobOptions('device.batch', data)).toEqual({
      jobId: 'plan-7~shed-2~fa~e4',
      attempts: JOB_CATALOG['device.batch'].attempts,
      backoff: JOB_CATALOG['device.batch'].backoff,
      removeOnComplete: JOB_CATALOG['device.batch'].removeOnComplete,
      removeOnFail: JOB_CATALOG['device.batch'].removeOnFail,
    });
  });

  it.each([
    ['plan:1', 'step', 'fa'],
    ['plan~1', 'step', 'fa'],
    ['plan', '', 'fa'],
    ['plan', 'step', 'f a'],
    ['plan', 'step', '{fa}'],
  ])('refuses id parts BullMQ or the format cannot carry: %s / %s / %s', (p, s, t) => {
    expect(() => fencedJobId(p, s, t, 1)).toThrow(JobIdError);
  });

  it('refuses a non-positive epoch and all-digit ids', () => {
    expect(() => fencedJobId('p', 's', 't', 0)).toThrow(JobIdError);
    expect(() => jobId('123')).toThrow(JobIdError);
    expect(jobId('webhook', '123')).toBe('webhook~123');
  });
});

describe('payload schemas', () => {
  const batch = SAMPLES['device.batch'];
  it.each([
    ['set-profile without a profile', { ...batch, action: 'set-profile' }, 'profile'],
    ['set-power-target without watts', { ...batch, action: 'set-power-target' }, 'watts'],
    ['a profile on a sleep', { ...batch, profile: 'eco' }, 'profile'],
    ['set-power-percent without a percent', { ...batch, action: 'set-power-percent' }, 'percent'],
    ['a percent on a sleep', { ...batch, percent: 80 }, 'percent'],
    [
      'a percent on a set-profile',
      { ...batch, action: 'set-profile', profile: 'eco', percent: 80 },
      'percent',
    ],
    [
      'a profile on a set-power-percent',
      { ...batch, action: 'set-power-percent', percent: 80, profile: 'eco' },
      'profile',
    ],
    ['a fractional percent', { ...batch, action: 'set-power-percent', percent: 80.5 }, 'percent'],
    ['a percent below the bounds', { ...batch, action: 'set-power-percent', percent: -1 }, 'percent'],
    ['a percent above the bounds', { ...batch, action: 'set-power-percent', percent: 101 }, 'percent'],
    ['a target listed twice', { ...batch, targets: [batch.targets, batch.targets].flat() }, 'targets.1'],
    ['no targets', { ...batch, targets: [] }, 'targets'],
    ['an unknown driver', { ...batch, driver: 'cgminer' }, 'driver'],
    ['an unknown field', { ...batch, extra: 1 }, ''],
    ['a port out of range', { ...batch, targets: [{ host: 'h', port: 70000 }] }, 'targets.0.port'],
  ])('device.batch rejects %s', (_label, payload, path) => {
    try {
      parsePayload('device.batch', payload);
      throw new Error('parsed');
    } catch (e) {
      expect(e).toBeInstanceOf(PayloadError);
      expect((e as PayloadError).issues.map((i) => i.path)).toContain(path);
    }
  });

  it('device.batch set-power-percent takes a whole percent within the Whatsminer driver’s bounds', () => {
    expect(POWER_PERCENT_BOUNDS).toEqual(WHATSMINER_POWER_PERCENT);
    for (const percent of [POWER_PERCENT_BOUNDS.min, 68, POWER_PERCENT_BOUNDS.max])
      expect(
        parsePayload('device.batch', {
          ...batch,
          driver: 'whatsminer',
          action: 'set-power-percent',
          percent,
        }),
      ).toMatchObject({ action: 'set-power-percent', percent });
    expect(() => parsePayload('device.batch', { ...batch, action: 'set-power-percent' })).toThrow(
      /percent: set-power-percent needs percent/,
    );
    expect(() => parsePayload('device.batch', { ...batch, percent: 50 })).toThrow(
      /percent: percent is only for set-power-percent/,
    );
    // every action with a parameter is a device action, and each parameter belongs to one action
    expect(
      Object.keys(DEVICE_ACTION_PARAMS).every((a) => (DEVICE_ACTIONS as readonly string[]).includes(a)),
    ).toBe(true);
    expect(new Set(Object.values(DEVICE_ACTION_PARAMS)).size).toBe(Object.keys(DEVICE_ACTION_PARAMS).length);
  });

  const kube = SAMPLES['kube.action'] as (typeof SAMPLES)['kube.action'] & {
    params: Record<string, unknown>;
  };
  it.each([
    ['an action it does not know', { ...kube, action: 'drain' }, 'action'],
    ['a Pod', { ...kube, resource: { kind: 'Pod', name: 'p-1' } }, 'resource.kind'],
    [
      'a Node with a namespace',
      { ...kube, resource: { kind: 'Node', name: 'n', namespace: 'x' } },
      'resource.namespace',
    ],
    ['no pool', { ...kube, params: { mode: 'idle' } }, 'params.pool'],
    ['a pool that is not a name', { ...kube, params: { pool: 'a b', mode: 'idle' } }, 'params.pool'],
    ['a numeric pool', { ...kube, params: { pool: 7, mode: 'idle' } }, 'params.pool'],
    ['no mode', { ...kube, params: { pool: 'h100-a' } }, 'params.mode'],
    ['an unknown mode', { ...kube, params: { pool: 'h100-a', mode: 'mining' } }, 'params.mode'],
    ['an extra param', { ...kube, params: { ...kube.params, drain: true } }, 'params.drain'],
    ['no params at all', { ...kube, params: undefined }, 'params.pool'],
  ])('kube.action set-gpu-mode rejects %s', (_label, payload, path) => {
    try {
      parsePayload('kube.action', payload);
      throw new Error('parsed');
    } catch (e) {
      expect(e).toBeInstanceOf(PayloadError);
      expect((e as PayloadError).issues.map((i) => i.path)).toContain(path);
    }
  });

  it('kube.action set-gpu-mode names the problem and keeps the node in the job id', () => {
    expect(() => parsePayload('kube.action', { ...kube, params: { pool: 'h100-a' } })).toThrow(
      /params\.mode: set-gpu-mode needs params\.mode: one of idle, serving, hashing/,
    );
    const p = parsePayload('kube.action', kube);
    expect(setGpuModeParams(p)).toEqual({ pool: 'h100-a', mode: 'hashing' });
    expect(jobIdOf('kube.action', p)).toBe('plan-7~shed-2~node/h100-a-node-03~e4');
  });

  it('webhook.deliver carries a delivery id only, never a URL or a secret', () => {
    const w = SAMPLES['webhook.deliver'];
    expect(jobIdOf('webhook.deliver', parsePayload('webhook.deliver', w))).toBe(
      'webhook~3f1c2a9e-7b4d-4c1e-9a2f-0d6e8b5c4a31',
    );
    for (const bad of [
      { ...w, url: 'https://broker.example/hook' },
      { ...w, secret: 'whsec_x' },
      { deliveryId: 'evt-1' },
      { deliveryId: '3F1C2A9E-7B4D-4C1E-9A2F-0D6E8B5C4A31' },
      {},
    ])
      expect(() => parsePayload('webhook.deliver', bad)).toThrow(PayloadError);
  });
});

describe('queue prefix', () => {
  it.each(['{switchyard}', '{sy}:prod', 'env-{switchyard}'])('accepts the hash-tagged %s', (p) => {
    expect(assertHashTaggedPrefix(p)).toBe(p);
  });
  it.each(['bull', 'switchyard', '{}switchyard', '{switchyard', 'switchyard}'])('refuses %s', (p) => {
    expect(() => assertHashTaggedPrefix(p)).toThrow(PrefixError);
  });
});

describe('handler coverage', () => {
  const all = Object.fromEntries(JOB_NAMES.map((n) => [n, async () => undefined]));
  it('accepts exactly one handler per job', () => {
    expect(() => checkHandlerCoverage(all, QUEUE_NAMES)).not.toThrow();
  });
  it('refuses a missing handler and names it', () => {
    const some: Record<string, unknown> = { ...all };
    delete some['kube.action'];
    expect(() => checkHandlerCoverage(some, QUEUE_NAMES)).toThrow(/no handler for kube\.action/);
  });
  it('refuses a handler for a job the catalog lacks', () => {
    expect(() => checkHandlerCoverage({ ...all, 'device.reboot': async () => 1 }, QUEUE_NAMES)).toThrow(
      HandlerCoverageError,
    );
  });
  it('asks only for the jobs of the served queues', () => {
    expect(() => checkHandlerCoverage({ 'device.batch': all['device.batch'] }, ['device'])).not.toThrow();
    expect(() => checkHandlerCoverage({ 'device.batch': all['device.batch'] }, ['device', 'plan'])).toThrow(
      /plan\.phase/,
    );
  });
});

describe('error mapping', () => {
  it('turns permanent miner errors and bad payloads into UnrecoverableError', () => {
    expect(toBullError(new MinerError('auth', 'h', 'denied'))).toBeInstanceOf(UnrecoverableError);
    expect(toBullError(new MinerError('unsupported', 'h', 'no'))).toBeInstanceOf(UnrecoverableError);
    expect(toBullError(new PayloadError('device.batch', []))).toBeInstanceOf(UnrecoverableError);
    const transient = new MinerError('timeout', 'h', 'slow');
    expect(toBullError(transient)).toBe(transient);
  });
});
