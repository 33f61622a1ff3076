import { describe, expect, it } from '@jest/globals';
import { ClusterError, type ClusterDriver, type GpuNodeState } from '@switchyard/cluster';
import type { PoolMode } from '@switchyard/domain';
import { StaleEpochError, UnrecoverableError, parsePayload, type JobContext } from '@switchyard/queue';
import { createKubeActionHandler } from './kube-handler.ts';

const state = (node: string, mode: PoolMode | null, over: Partial<GpuNodeState> = {}): GpuNodeState => ({
  pool: 'gpu-a',
  node,
  mode,
  powerKw: mode === 'hashing' ? 8.4 : 1.6,
  gpuModel: 'H100-SXM-80GB',
  gpus: 8,
  ready: true,
  transitioning: false,
  transitionRemainingS: 0,
  ...over,
});

/** A driver over an in-memory pool that records what it was asked to do. */
function fakeDriver(nodes: GpuNodeState[], fail?: { list?: Error; set?: Error }) {
  const calls: string[] = [];
  const driver: ClusterDriver = {
    async listNodes(pool) {
      calls.push(`list ${pool}`);
      if (fail?.list) throw fail.list;
      return nodes.filter((n) => pool === undefined || n.pool === pool).map((n) => ({ ...n }));
    },
    async setNodeMode(pool, node, mode) {
      calls.push(`set ${pool}/${node} ${mode}`);
      if (fail?.set) throw fail.set;
      const n = nodes.find((x) => x.pool === pool && x.node === node);
      if (!n) throw new ClusterError('not-found', `no node ${node}`);
      const changed = n.mode !== mode;
      n.mode = mode;
      return { changed, node: { ...n, powerKw: 5 } };
    },
  };
  return { driver, calls, nodes };
}

const ctx = (calls: string[], fence: () => Promise<void> = async () => undefined) =>
  ({
    signal: new AbortController().signal,
    fence: async () => {
      calls.push('fence');
      return fence();
    },
    attempt: 1,
    job: {},
  }) as unknown as JobContext;

const payload = (node: string, mode: string, pool = 'gpu-a') =>
  parsePayload('kube.action', {
    planId: 'plan-1',
    stepId: 'p.1.0.pool/gpu-a.0',
    epoch: 3,
    action: 'set-gpu-mode',
    resource: { kind: 'Node', name: node },
    params: { pool, mode },
  });

describe('createKubeActionHandler', () => {
  it('reads the node, fences right before actuating, then sets the mode', async () => {
    const f = fakeDriver([state('gpu-a-node-00', 'idle')]);
    const h = createKubeActionHandler({ driver: f.driver });
    await expect(h(payload('gpu-a-node-00', 'hashing'), ctx(f.calls))).resolves.toEqual({
      status: 'applied',
      action: 'set-gpu-mode',
      planId: 'plan-1',
      stepId: 'p.1.0.pool/gpu-a.0',
      pool: 'gpu-a',
      node: 'gpu-a-node-00',
      from: 'idle',
      mode: 'hashing',
      powerKw: 5,
    });
    expect(f.calls).toEqual(['list gpu-a', 'fence', 'set gpu-a/gpu-a-node-00 hashing']);
  });

  it('leaves a node already in the mode alone', async () => {
    const f = fakeDriver([state('gpu-a-node-00', 'serving')]);
    const h = createKubeActionHandler({ driver: f.driver });
    await expect(h(payload('gpu-a-node-00', 'serving'), ctx(f.calls))).resolves.toMatchObject({
      status: 'already',
      from: 'serving',
      powerKw: 1.6,
    });
    expect(f.calls).toEqual(['list gpu-a']);
  });

  it('does not actuate for a replaced leader', async () => {
    const f = fakeDriver([state('gpu-a-node-00', 'idle')]);
    const stale = new StaleEpochError(3, 4);
    const h = createKubeActionHandler({ driver: f.driver });
    await expect(
      h(
        payload('gpu-a-node-00', 'serving'),
        ctx(f.calls, () => Promise.reject(stale)),
      ),
    ).rejects.toBe(stale);
    expect(f.calls).toEqual(['list gpu-a', 'fence']);
  });

  it('fails for good without a driver, on an unknown node and on a permanent cluster error', async () => {
    const calls: string[] = [];
    await expect(createKubeActionHandler({})(payload('n', 'idle'), ctx(calls))).rejects.toThrow(
      /no cluster driver configured/,
    );
    const f = fakeDriver([state('gpu-a-node-00', 'idle')]);
    const h = createKubeActionHandler({ driver: f.driver });
    const unknown = await h(payload('gpu-a-node-09', 'idle'), ctx(f.calls)).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(UnrecoverableError);
    expect((unknown as Error).message).toMatch(/no GPU node "gpu-a-node-09" in GpuPool "gpu-a"/);

    const refused = fakeDriver([state('gpu-a-node-00', 'idle')], {
      set: new ClusterError('not-allowed', 'GpuPool gpu-a does not allow hashing', { status: 409 }),
    });
    const err = await createKubeActionHandler({ driver: refused.driver })(
      payload('gpu-a-node-00', 'hashing'),
      ctx(refused.calls),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect((err as Error).message).toMatch(
      /set-gpu-mode gpu-a\/gpu-a-node-00 → hashing: not-allowed: .*allow hashing/,
    );
  });

  it('lets transient errors and nodes that are not ready be retried', async () => {
    const down = new ClusterError('unreachable', 'simulator unreachable');
    const f = fakeDriver([], { list: down });
    await expect(
      createKubeActionHandler({ driver: f.driver })(payload('n', 'idle'), ctx(f.calls)),
    ).rejects.toBe(down);
    const g = fakeDriver([state('gpu-a-node-00', 'serving', { ready: false })]);
    const err = await createKubeActionHandler({ driver: g.driver })(
      payload('gpu-a-node-00', 'idle'),
      ctx(g.calls),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterError);
    expect(err).toMatchObject({ code: 'not-ready', permanent: false });
    expect(g.calls).toEqual(['list gpu-a']);
  });
});
