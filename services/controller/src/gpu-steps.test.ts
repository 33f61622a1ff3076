import { describe, expect, it } from '@jest/globals';
import type { GpuNodeState } from '@switchyard/cluster';
import type { PoolMode, PoolStep } from '@switchyard/domain';
import { jobIdOf, parsePayload } from '@switchyard/queue';
import { poolNodeStepId, poolObservationFromNodes, poolStateFromNodes, poolStepJobs } from './gpu-steps.ts';

const node = (name: string, mode: PoolMode | null, over: Partial<GpuNodeState> = {}): GpuNodeState => ({
  pool: 'gpu-a',
  node: name,
  mode,
  powerKw: 1,
  gpuModel: 'H100-SXM-80GB',
  gpus: 8,
  ready: true,
  transitioning: false,
  transitionRemainingS: 0,
  ...over,
});

const step = (over: Partial<PoolStep> = {}): PoolStep => ({
  id: 'west-1-1700000000000:2:0:pool/gpu-a',
  kind: 'gpu-mode',
  pool: 'gpu-a',
  fromMode: 'idle',
  toMode: 'hashing',
  count: 2,
  preempt: [],
  startOrders: [],
  feed: 'pdu-1',
  coolingZone: 'hall',
  expectedDeltaKw: 13.6,
  worstCaseKw: 16.8,
  worstCaseDeltaKw: 13.6,
  ...over,
});

describe('poolStepJobs', () => {
  it('makes one valid kube.action set-gpu-mode per node, with unique job ids', () => {
    const nodes = [
      node('gpu-a-node-02', 'idle'),
      node('gpu-a-node-00', 'serving'),
      node('gpu-a-node-01', 'idle'),
      node('gpu-a-node-03', 'idle'),
    ];
    const taken = new Set<string>();
    const r = poolStepJobs(step(), nodes, { planId: 'west-1-1700000000000', epoch: 7, taken });
    expect(r.missing).toBe(0);
    expect(r.jobs).toEqual([
      {
        name: 'kube.action',
        payload: {
          planId: 'west-1-1700000000000',
          stepId: 'west-1-1700000000000.2.0.pool/gpu-a.0',
          epoch: 7,
          action: 'set-gpu-mode',
          resource: { kind: 'Node', name: 'gpu-a-node-01' },
          params: { pool: 'gpu-a', mode: 'hashing' },
        },
      },
      {
        name: 'kube.action',
        payload: expect.objectContaining({
          stepId: 'west-1-1700000000000.2.0.pool/gpu-a.1',
          resource: { kind: 'Node', name: 'gpu-a-node-02' },
        }),
      },
    ]);
    const ids = r.jobs.map((j) => jobIdOf('kube.action', parsePayload('kube.action', j.payload)));
    expect(ids).toEqual([
      'west-1-1700000000000~west-1-1700000000000.2.0.pool/gpu-a.0~node/gpu-a-node-01~e7',
      'west-1-1700000000000~west-1-1700000000000.2.0.pool/gpu-a.1~node/gpu-a-node-02~e7',
    ]);
    expect([...taken]).toEqual(['gpu-a-node-01', 'gpu-a-node-02']);
  });

  it('skips nodes taken by earlier steps, in an unknown state or unfit for a job id; counts the missing', () => {
    const nodes = [
      node('gpu-a-node-00', 'idle'),
      node('gpu-a-node-01', 'idle', { ready: false }),
      node('gpu-a-node-02', 'idle', { transitioning: true }),
      node('gpu a node 03', 'idle'),
      node('gpu-a-node-04', 'idle'),
    ];
    const taken = new Set(['gpu-a-node-00']);
    const r = poolStepJobs(step({ count: 3 }), nodes, { planId: 'p', epoch: 1, taken });
    expect(r.jobs.map((j) => (j.payload as { resource: { name: string } }).resource.name)).toEqual([
      'gpu-a-node-04',
    ]);
    expect(r.missing).toBe(2);
  });

  it('keeps step ids within 128 characters, index last', () => {
    const long = `${'x'.repeat(140)}:1:0:pool/gpu-a`;
    const id = poolNodeStepId(long, 12);
    expect(id.length).toBe(128);
    expect(id.endsWith('.12')).toBe(true);
  });
});

describe('pool state from nodes', () => {
  const nodes = [
    node('a0', 'idle'),
    node('a1', 'serving'),
    node('a2', 'serving'),
    node('a3', 'hashing', { transitioning: true, transitionRemainingS: 6 }),
    node('a4', null),
    node('a5', 'idle', { ready: false }),
    node('b0', 'hashing', { pool: 'gpu-b' }),
  ];

  it('gives the sequencer settled nodes by mode and everything else as unavailable', () => {
    expect(poolStateFromNodes(nodes, 'gpu-a')).toEqual({
      idle: 1,
      serving: 2,
      hashing: 0,
      unavailable: 3,
      inFlight: [],
    });
    expect(poolStateFromNodes(nodes, 'gpu-c')).toEqual({
      idle: 0,
      serving: 0,
      hashing: 0,
      unavailable: 0,
      inFlight: [],
    });
  });

  it('counts a node following a change from a known mode in flight, not unavailable', () => {
    const moving = [
      node('c0', 'serving', {
        pool: 'gpu-c',
        transitioning: true,
        transitionRemainingS: 30,
        fromMode: 'idle',
      }),
      node('c1', 'serving', {
        pool: 'gpu-c',
        transitioning: true,
        transitionRemainingS: 10,
        fromMode: 'idle',
      }),
      node('c2', 'hashing', { pool: 'gpu-c', transitioning: true, transitionRemainingS: 5, fromMode: null }),
      node('c3', 'idle', { pool: 'gpu-c', transitioning: true, fromMode: 'serving', ready: false }),
    ];
    expect(poolStateFromNodes(moving, 'gpu-c', 1000)).toEqual({
      idle: 0,
      serving: 0,
      hashing: 0,
      unavailable: 2,
      inFlight: [{ from: 'idle', to: 'serving', count: 2, since: 1000 }],
    });
  });

  it('gives the planner a transitioning node in the mode it goes to', () => {
    expect(poolObservationFromNodes(nodes, 'gpu-a')).toEqual({
      idle: 1,
      serving: 2,
      hashing: 1,
      unavailable: 2,
    });
    expect(poolObservationFromNodes(nodes, 'gpu-b')).toEqual({
      idle: 0,
      serving: 0,
      hashing: 1,
      unavailable: 0,
    });
  });
});
