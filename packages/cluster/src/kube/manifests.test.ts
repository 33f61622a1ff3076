// The workload manifests, pinned: names, labels, placement on the pool's serving or hashing
// nodes, priorities, GPUs, the graceful drain and the restricted security context.
import { describe, expect, it } from '@jest/globals';
import type { GpuPool } from '@switchyard/domain';
import type { ClusterError } from '../errors.ts';
import {
  dnsNameFor,
  gpuHashingDaemonSetManifest,
  orderDeadlineSeconds,
  orderJobManifest,
  orderJobName,
  orderPlacement,
  type WorkloadOrder,
} from './manifests.ts';

const pool = (over: Partial<GpuPool['spec']> = {}): GpuPool => ({
  apiVersion: 'switchyard.io/v1alpha1',
  kind: 'GpuPool',
  metadata: { name: 'h100-a' },
  spec: {
    site: 'klab',
    feed: 'pdu-1',
    coolingZone: 'hall',
    nodeSelector: { 'switchyard.io/pool': 'h100-a', 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' },
    nodes: 4,
    gpuModel: 'H100-SXM-80GB',
    gpusPerNode: 8,
    vramGiB: 80,
    nodePowerKw: { idle: 1.6, serving: 10.2, hashing: 8.4 },
    hashing: { enabled: true, image: 'ghcr.io/switchyard/gpu-hasher:1.4.0', args: ['--algo', 'kheavy'] },
    ...over,
  },
});

const ORDER_ID = '0b6f3c1e-5d2a-4f7b-9c8e-1a2b3c4d5e6f';
const BROKER_ID = '7d9e8f10-1112-4314-9516-171819202122';
const order = (over: Partial<WorkloadOrder> = {}): WorkloadOrder => ({
  id: ORDER_ID,
  brokerId: BROKER_ID,
  tier: 'on-demand',
  gpuCount: 8,
  image: 'vllm/vllm-openai:v0.9.1',
  args: ['--model', 'meta-llama/Llama-3.1-8B-Instruct'],
  durationSeconds: 7200,
  endBy: null,
  ...over,
});
const OPTS = { namespace: 'switchyard', now: new Date('2026-12-01T12:00:00Z') };

function thrown(fn: () => unknown): ClusterError {
  try {
    fn();
  } catch (e) {
    return e as ClusterError;
  }
  throw new Error('expected a throw');
}

describe('names', () => {
  it.each([
    [ORDER_ID, `order-${ORDER_ID}`],
    ['abc', 'order-abc'],
  ])('uses a valid id whole: %s', (id, name) => {
    expect(orderJobName(id)).toBe(name);
  });

  it.each(['Order_42', 'x'.repeat(80), '---', 'ÄÖÜ'])(
    'makes a DNS-1123 label of any other id, distinct per id: %s',
    (id) => {
      const name = orderJobName(id);
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
      expect(name).toBe(orderJobName(id));
      expect(name).not.toBe(orderJobName(`${id}2`));
    },
  );

  it('hashes case apart: ids that differ only in case get different names', () => {
    expect(dnsNameFor('order-', 'Abc')).not.toBe(dnsNameFor('order-', 'aBc'));
    expect(dnsNameFor('order-', 'Abc')).toMatch(/^order-abc-[0-9a-f]{10}$/);
  });
});

describe('orderPlacement', () => {
  it.each([
    // gpuCount, gpusPerNode, pods, gpusPerPod
    [1, 8, 1, 1],
    [8, 8, 1, 8],
    [12, 8, 2, 6],
    [13, 8, 2, 7],
    [16, 8, 2, 8],
    [17, 8, 3, 6],
    [3, 1, 3, 1],
  ])('%i GPUs on %i-GPU nodes: %i pods of %i', (g, p, pods, per) => {
    const r = orderPlacement(g, p);
    expect(r).toEqual({ pods, gpusPerPod: per });
    expect(r.pods * r.gpusPerPod).toBeGreaterThanOrEqual(g);
    // Two pods of one order never fit on one node.
    if (r.pods > 1) expect(2 * r.gpusPerPod).toBeGreaterThan(p);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses %p GPUs', (g) => {
    expect(thrown(() => orderPlacement(g, 8)).code).toBe('invalid-request');
  });
});

describe('orderDeadlineSeconds', () => {
  const now = new Date('2026-12-01T12:00:00Z');
  it('is the duration, or what is left to endBy, or none', () => {
    expect(orderDeadlineSeconds(order({ durationSeconds: 600 }), now)).toBe(600);
    expect(
      orderDeadlineSeconds(
        order({ durationSeconds: null, endBy: new Date('2026-12-01T13:00:00.500Z') }),
        now,
      ),
    ).toBe(3601);
    expect(orderDeadlineSeconds(order({ durationSeconds: null }), now)).toBeUndefined();
  });

  it('refuses an order whose end has passed', () => {
    const e = thrown(() =>
      orderDeadlineSeconds(order({ durationSeconds: null, endBy: new Date('2026-12-01T11:59:59Z') }), now),
    );
    expect([e.code, e.permanent]).toEqual(['invalid-request', true]);
  });
});

describe('orderJobManifest', () => {
  it('pins the Job of a one-node order', () => {
    expect(orderJobManifest(order(), pool(), OPTS)).toEqual({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: `order-${ORDER_ID}`,
        namespace: 'switchyard',
        labels: {
          'switchyard.io/order': ORDER_ID,
          'switchyard.io/broker': BROKER_ID,
          'switchyard.io/pool': 'h100-a',
          'app.kubernetes.io/managed-by': 'switchyard',
          'app.kubernetes.io/component': 'inference',
        },
        annotations: { 'switchyard.io/tier': 'on-demand', 'switchyard.io/gpu-count': '8' },
      },
      spec: {
        completions: 1,
        parallelism: 1,
        completionMode: 'Indexed',
        backoffLimit: 2,
        activeDeadlineSeconds: 7200,
        ttlSecondsAfterFinished: 3600,
        podFailurePolicy: {
          rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }],
        },
        template: {
          metadata: {
            labels: {
              'switchyard.io/order': ORDER_ID,
              'switchyard.io/broker': BROKER_ID,
              'switchyard.io/pool': 'h100-a',
              'app.kubernetes.io/managed-by': 'switchyard',
              'app.kubernetes.io/component': 'inference',
            },
          },
          spec: {
            restartPolicy: 'Never',
            priorityClassName: 'switchyard-inference',
            terminationGracePeriodSeconds: 60,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [
                    {
                      matchExpressions: [
                        { key: 'nvidia.com/gpu.product', operator: 'In', values: ['NVIDIA-H100-80GB-HBM3'] },
                        { key: 'switchyard.io/pool', operator: 'In', values: ['h100-a'] },
                        { key: 'switchyard.io/mode', operator: 'In', values: ['serving'] },
                      ],
                    },
                  ],
                },
              },
            },
            tolerations: [
              { key: 'switchyard.io/mode', operator: 'Equal', value: 'serving', effect: 'NoSchedule' },
            ],
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 1000,
              runAsGroup: 1000,
              fsGroup: 1000,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: 'inference',
                image: 'vllm/vllm-openai:v0.9.1',
                args: ['--model', 'meta-llama/Llama-3.1-8B-Instruct'],
                resources: { limits: { 'nvidia.com/gpu': '8' } },
                lifecycle: { preStop: { sleep: { seconds: 15 } } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: false,
                  runAsNonRoot: true,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [{ name: 'dshm', mountPath: '/dev/shm' }],
              },
            ],
            volumes: [{ name: 'dshm', emptyDir: { medium: 'Memory' } }],
          },
        },
      },
    });
  });

  it('spreads a multi-node order and takes the options', () => {
    const job = orderJobManifest(order({ gpuCount: 12, args: [], durationSeconds: null }), pool(), {
      ...OPTS,
      inferencePriorityClassName: 'gold',
      terminationGracePeriodSeconds: 90,
      preStopSleepSeconds: 0,
      backoffLimit: 0,
      ttlSecondsAfterFinished: 60,
      runAsUser: 2000,
      extraTolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
    });
    const spec = job.spec!;
    const pod = spec.template.spec!;
    const c = pod.containers[0]!;
    expect([spec.completions, spec.parallelism, c.resources?.limits]).toEqual([
      2,
      2,
      { 'nvidia.com/gpu': '6' },
    ]);
    expect(spec.activeDeadlineSeconds).toBeUndefined();
    expect([spec.backoffLimit, spec.ttlSecondsAfterFinished]).toEqual([0, 60]);
    expect([pod.priorityClassName, pod.terminationGracePeriodSeconds]).toEqual(['gold', 90]);
    expect(c.lifecycle).toBeUndefined();
    expect(c.args).toBeUndefined();
    expect(pod.securityContext?.runAsUser).toBe(2000);
    expect(pod.tolerations?.map((t) => t.key)).toEqual(['switchyard.io/mode', 'nvidia.com/gpu']);
  });

  it('does not let a pool selector on the mode label override serving', () => {
    const p = pool({ nodeSelector: { 'switchyard.io/pool': 'h100-a', 'switchyard.io/mode': 'hashing' } });
    const terms = orderJobManifest(order(), p, OPTS).spec!.template.spec!.affinity!.nodeAffinity!
      .requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms;
    expect(terms[0]!.matchExpressions).toEqual([
      { key: 'switchyard.io/pool', operator: 'In', values: ['h100-a'] },
      { key: 'switchyard.io/mode', operator: 'In', values: ['serving'] },
    ]);
  });

  it.each([
    ['an id that is no label value', { id: 'a b' }],
    ['a broker id that is no label value', { brokerId: '-x-' }],
    ['no image', { image: ' ' }],
    ['no GPUs', { gpuCount: 0 }],
  ])('refuses %s', (_what, over) => {
    const e = thrown(() => orderJobManifest(order(over), pool(), OPTS));
    expect([e.code, e.permanent]).toEqual(['invalid-request', true]);
  });
});

describe('gpuHashingDaemonSetManifest', () => {
  it('pins the DaemonSet of a pool', () => {
    expect(gpuHashingDaemonSetManifest(pool(), OPTS)).toEqual({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: {
        name: 'gpu-hashing-h100-a',
        namespace: 'switchyard',
        labels: {
          'switchyard.io/pool': 'h100-a',
          'app.kubernetes.io/component': 'gpu-hashing',
          'app.kubernetes.io/managed-by': 'switchyard',
        },
      },
      spec: {
        selector: {
          matchLabels: { 'switchyard.io/pool': 'h100-a', 'app.kubernetes.io/component': 'gpu-hashing' },
        },
        template: {
          metadata: {
            labels: {
              'switchyard.io/pool': 'h100-a',
              'app.kubernetes.io/component': 'gpu-hashing',
              'app.kubernetes.io/managed-by': 'switchyard',
            },
          },
          spec: {
            nodeSelector: {
              'switchyard.io/pool': 'h100-a',
              'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3',
              'switchyard.io/mode': 'hashing',
            },
            tolerations: [
              { key: 'switchyard.io/mode', operator: 'Equal', value: 'hashing', effect: 'NoSchedule' },
            ],
            priorityClassName: 'switchyard-gpu-hashing',
            terminationGracePeriodSeconds: 10,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 1000,
              runAsGroup: 1000,
              fsGroup: 1000,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: 'hasher',
                image: 'ghcr.io/switchyard/gpu-hasher:1.4.0',
                args: ['--algo', 'kheavy'],
                resources: { limits: { 'nvidia.com/gpu': '8' } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  runAsNonRoot: true,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
              },
            ],
            volumes: [{ name: 'tmp', emptyDir: {} }],
          },
        },
      },
    });
  });

  it('takes the pool’s priority class over the option, and the option over the default', () => {
    const pc = (p: GpuPool, o = {}) =>
      gpuHashingDaemonSetManifest(p, { ...OPTS, ...o }).spec!.template.spec!.priorityClassName;
    expect(pc(pool(), { hashingPriorityClassName: 'low' })).toBe('low');
    const own = pool({ hashing: { enabled: true, image: 'h:1', priorityClassName: 'pool-low' } });
    expect(pc(own, { hashingPriorityClassName: 'low' })).toBe('pool-low');
  });

  it('refuses a pool without hashing or without an image', () => {
    const off = thrown(() =>
      gpuHashingDaemonSetManifest(pool({ hashing: { enabled: false, image: 'h:1' } }), OPTS),
    );
    expect(off.code).toBe('not-allowed');
    const none = thrown(() => gpuHashingDaemonSetManifest(pool({ hashing: undefined }), OPTS));
    expect(none.code).toBe('not-allowed');
    const noImage = thrown(() => gpuHashingDaemonSetManifest(pool({ hashing: { enabled: true } }), OPTS));
    expect([noImage.code, noImage.permanent]).toEqual(['invalid-config', true]);
  });
});
