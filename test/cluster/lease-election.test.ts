// Leader election on a coordination.k8s.io/v1 Lease, through the real client against the fake
// API server: one leader among contenders at every sampled moment, epochs (leaseTransitions)
// that only grow, loss noticed at once when another writer takes the Lease, a paused leader
// that stops by its own clock before anyone replaces it, and a quick handover on release.
// The semantics are the Redis lease's (test/queue/lease.test.ts), which both implement.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { CoordinationV1Api, PatchStrategy, setHeaderOptions, type V1Lease } from '@kubernetes/client-node';
import { KubeLeaderLease, type ClusterLeaseLossReason, type KubeLeaseOptions } from '@switchyard/cluster';
import { assertCurrentEpoch, StaleEpochError, type LeaderLease } from '@switchyard/queue';
import type { FakeApiServer } from '../support/kube/fake-apiserver.ts';
import { startFakeApiServer } from '../support/kube/fake-apiserver.ts';

const NS = 'switchyard';
const LEASE = 'switchyard-controller';

let api: FakeApiServer;
const leases: KubeLeaderLease[] = [];
const stops: Array<() => void> = [];

beforeEach(async () => {
  api = await startFakeApiServer({ namespaces: [NS] });
});

afterEach(async () => {
  for (const s of stops.splice(0)) s();
  api.resume();
  await Promise.all(leases.splice(0).map((l) => l.release()));
  await api.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A contender whose requests carry its id as their bearer token, so the server can stall it. */
function contender(id: string, over: Partial<KubeLeaseOptions> = {}): KubeLeaderLease {
  const l = new KubeLeaderLease({
    kubeConfig: api.kubeConfig({ user: id }),
    namespace: NS,
    holderId: id,
    leaseDurationSeconds: 1,
    ...over,
  });
  leases.push(l);
  return l;
}

function lossLog(l: KubeLeaderLease) {
  const log: Array<{ reason: ClusterLeaseLossReason; epoch: number; at: number }> = [];
  l.onLost((reason, epoch) => log.push({ reason, epoch, at: performance.now() }));
  return log;
}

/** What the controller does: a follower tries to acquire on every tick. */
function campaign(l: KubeLeaderLease, everyMs = 100): () => void {
  const t = setInterval(() => {
    if (!l.isLeader()) void l.acquire().catch(() => false);
  }, everyMs);
  const stop = () => clearInterval(t);
  stops.push(stop);
  return stop;
}

/** Samples who leads every few ms: more than one leader at once is a violation. */
function sampleLeaders(all: KubeLeaderLease[]) {
  const violations: string[] = [];
  const reigns: Array<{ holder: string; epoch: number; from: number }> = [];
  const t = setInterval(() => {
    const leaders = all.filter((l) => l.isLeader());
    if (leaders.length > 1) violations.push(leaders.map((l) => `${l.holderId}@${l.epoch()}`).join(' + '));
    const now = leaders[0];
    const last = reigns[reigns.length - 1];
    if (now && (last?.holder !== now.holderId || last.epoch !== now.epoch()))
      reigns.push({ holder: now.holderId, epoch: now.epoch() as number, from: performance.now() });
  }, 2);
  stops.push(() => clearInterval(t));
  return { violations, reigns, stop: () => clearInterval(t) };
}

const coordination = () => api.kubeConfig({ user: 'operator' }).makeApiClient(CoordinationV1Api);
const readLease = () => coordination().readNamespacedLease({ name: LEASE, namespace: NS });
const leaderOf = (all: KubeLeaderLease[]) => all.find((l) => l.isLeader());

it('is a LeaderLease as the queue defines it, so workers fence with its epoch', async () => {
  const a: LeaderLease = contender('a');
  expect(await a.currentEpoch()).toBe(0);
  expect(await a.acquire()).toBe(true);
  await expect(assertCurrentEpoch(a, 1)).resolves.toBe(1);
  await expect(assertCurrentEpoch(a, 0)).rejects.toThrow(StaleEpochError);
});

describe('election', () => {
  it('makes exactly one of three contenders leader, with epoch 1, recorded in the Lease', async () => {
    const all = [contender('a'), contender('b'), contender('c')];
    const won = await Promise.all(all.map((l) => l.acquire()));
    expect(won.filter(Boolean)).toHaveLength(1);
    const leader = all[won.indexOf(true)] as KubeLeaderLease;
    expect(all.filter((l) => l.isLeader())).toEqual([leader]);
    expect(leader.epoch()).toBe(1);
    expect(all.filter((l) => l !== leader).map((l) => l.epoch())).toEqual([null, null]);
    const lease = await readLease();
    expect(lease.spec).toMatchObject({
      holderIdentity: leader.holderId,
      leaseDurationSeconds: 1,
      leaseTransitions: 1,
    });
    expect(String(lease.spec?.renewTime)).toMatch(/\.\d{6}Z$/);
    // losers trying again change nothing while the leader renews
    await sleep(1300);
    expect(await Promise.all(all.filter((l) => l !== leader).map((l) => l.acquire()))).toEqual([
      false,
      false,
    ]);
    expect(leader.isLeader()).toBe(true);
    expect(await leader.currentEpoch()).toBe(1);
  });

  it('has exactly one leader at every sampled moment while leaders are paused, replaced and released', async () => {
    const all = [contender('a'), contender('b'), contender('c')];
    const sampler = sampleLeaders(all);
    const campaigns = new Map(all.map((l) => [l, campaign(l)]));
    await until(() => leaderOf(all) !== undefined, 'a first leader');
    const first = leaderOf(all) as KubeLeaderLease;
    const firstEpoch = first.epoch() as number;
    const firstLost = lossLog(first);

    // The first leader stalls: its renewals hang, another takes over after the lease duration.
    const stall = api.pause({ user: first.holderId });
    await until(() => leaderOf(all) !== undefined && leaderOf(all) !== first, 'a second leader');
    const second = leaderOf(all) as KubeLeaderLease;
    expect(firstLost.map((l) => l.reason)).toEqual(['expired']);
    stall.resume();
    await sleep(400); // its held requests arrive late and change nothing
    expect(first.isLeader()).toBe(false);
    expect(first.epoch()).toBeNull();
    expect(leaderOf(all)).toBe(second);
    // whatever it dispatched under its old epoch is dropped by the workers' fence
    await expect(assertCurrentEpoch(second, firstEpoch)).rejects.toThrow(StaleEpochError);

    // The second leader shuts down: it releases, and someone else leads long before a lease ran out.
    (campaigns.get(second) as () => void)();
    const released = performance.now();
    await second.release();
    await until(() => leaderOf(all) !== undefined && leaderOf(all) !== second, 'a third leader', 1000);
    const handover = performance.now() - released;
    await sleep(50); // a few more samples, the new reign among them
    sampler.stop();

    expect(sampler.violations).toEqual([]);
    expect(handover).toBeLessThan(500);
    const epochs = sampler.reigns.map((r) => r.epoch);
    expect(epochs).toEqual([...epochs].sort((x, y) => x - y));
    expect(new Set(epochs).size).toBe(epochs.length);
    // A leader whose renewal came too late on a saturated machine (the lease lasts 1 s here) loses
    // and may win again under a new epoch: the same holder twice in a row, never two at once.
    const holders = sampler.reigns.map((r) => r.holder).filter((h, i, all) => h !== all[i - 1]);
    expect(holders).toEqual([first.holderId, second.holderId, (leaderOf(all) as KubeLeaderLease).holderId]);
    expect(await first.currentEpoch()).toBe(epochs[epochs.length - 1]);
  });
});

describe('losing the lease', () => {
  it('notices at its next renewal that another writer took the Lease', async () => {
    const a = contender('a', { renewEveryMs: 200 });
    const lost = lossLog(a);
    await a.acquire();
    const lease = await readLease();
    const taken = performance.now();
    await coordination().replaceNamespacedLease({
      name: LEASE,
      namespace: NS,
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', leaseTransitions: 2 } },
    });
    await until(() => lost.length > 0, 'onLost', 1000);
    expect(lost.map((l) => [l.reason, l.epoch])).toEqual([['renew-rejected', 1]]);
    // at its next renewal (every 200 ms), long before the lease would have run out
    expect((lost[0]?.at ?? 0) - taken).toBeLessThan(1000);
    expect(a.isLeader()).toBe(false);
    expect(a.epoch()).toBeNull();
    expect(await a.renew()).toBe(false);
    expect(await a.acquire()).toBe(false); // the intruder's Lease is fresh
    expect(lost).toHaveLength(1); // once per loss
    await expect(assertCurrentEpoch(a, 1)).rejects.toThrow('dropped: stale epoch 1 < 2');
  });

  it('loses when the Lease is deleted; a standby recreates it with a higher epoch', async () => {
    const a = contender('a', { autoRenew: false });
    const b = contender('b');
    const lost = lossLog(a);
    await a.acquire();
    expect(await b.acquire()).toBe(false); // a standby reads the Lease on every try
    await coordination().deleteNamespacedLease({ name: LEASE, namespace: NS });
    expect(await a.currentEpoch()).toBe(0);
    expect(await a.renew()).toBe(false);
    expect(lost.map((l) => l.reason)).toEqual(['renew-rejected']);
    expect(await b.acquire()).toBe(true);
    expect(b.epoch()).toBe(2);
    await expect(assertCurrentEpoch(b, 1)).rejects.toThrow(StaleEpochError);
  });

  it('keeps the Lease through a write that did not take it (a label added by someone)', async () => {
    const a = contender('a', { autoRenew: false });
    const lost = lossLog(a);
    await a.acquire();
    await coordination().patchNamespacedLease(
      { name: LEASE, namespace: NS, body: { metadata: { labels: { team: 'ops' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(await a.renew()).toBe(true);
    expect(lost).toEqual([]);
    expect((await readLease()).metadata?.labels).toEqual({ team: 'ops' });
  });

  it('gives up at its deadline when renewals fail, before anyone takes over', async () => {
    const a = contender('a', { renewEveryMs: 200 });
    const b = contender('b');
    const lost = lossLog(a);
    const t0 = performance.now();
    await a.acquire();
    api.fail({ user: 'a', method: 'PATCH', status: 500, times: 100 });
    campaign(b, 50);
    await until(() => lost.length > 0, 'the local deadline', 2000);
    expect(lost.map((l) => l.reason)).toEqual(['expired']);
    expect((lost[0]?.at ?? 0) - t0).toBeLessThan(1000 + 200); // timer latency on a busy machine
    expect(b.isLeader()).toBe(false); // the Lease is not free before a's deadline
    await until(() => b.isLeader(), 'b takes over', 2000);
    expect(a.isLeader()).toBe(false);
    expect(b.epoch()).toBe(2);
    expect((await readLease()).spec?.holderIdentity).toBe('b');
  });

  it('stops leading by its own clock, before the Lease could be taken over', async () => {
    let now = 1000;
    const a = contender('a', { autoRenew: false, driftMs: 100, now: () => now });
    await a.acquire(); // sent at 1000: nobody may take over before 2000 by anyone's clock
    now = 1899;
    expect(a.isLeader()).toBe(true);
    now = 1900;
    expect(a.isLeader()).toBe(false);
    expect(a.epoch()).toBeNull();
    expect((await readLease()).spec?.holderIdentity).toBe('a'); // still held: nobody else leads yet
    expect(await a.renew()).toBe(false);
  });
});

describe('epochs', () => {
  it('grow with every takeover and bump, and are the Lease’s leaseTransitions', async () => {
    const [a, b, c] = [contender('a', { autoRenew: false }), contender('b'), contender('c')];
    const seen: number[] = [];
    const lt = async () => (await readLease()).spec?.leaseTransitions as number;
    await a.acquire();
    seen.push(a.epoch() as number, await lt());
    await a.release();
    await b.acquire();
    seen.push(b.epoch() as number, await lt());
    expect(await b.bump()).toBe(3);
    seen.push(b.epoch() as number, await lt());
    await sleep(1200); // past the duration: b's background renewals carry the new epoch
    expect(b.isLeader()).toBe(true);
    const stall = api.pause({ user: 'b' });
    campaign(c, 50);
    await until(() => c.isLeader(), 'c takes over from the stalled b', 3000);
    seen.push(c.epoch() as number, await lt());
    stall.resume();
    expect(seen).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
    expect(await b.bump()).toBeNull();
    expect(await c.currentEpoch()).toBe(4);
  });

  it('refuses to bump a Lease that is no longer ours, and reports the loss', async () => {
    const a = contender('a', { autoRenew: false });
    const lost = lossLog(a);
    await a.acquire();
    const lease: V1Lease = await readLease();
    await coordination().replaceNamespacedLease({
      name: LEASE,
      namespace: NS,
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b', leaseTransitions: 9 } },
    });
    expect(await a.bump()).toBeNull();
    expect(a.isLeader()).toBe(false);
    expect(lost.map((l) => l.reason)).toEqual(['renew-rejected']);
    expect(await a.currentEpoch()).toBe(9);
  });
});

describe('release', () => {
  it('hands over at once, and never clears a Lease it does not hold', async () => {
    const a = contender('a');
    const b = contender('b');
    await a.acquire();
    expect(await b.acquire()).toBe(false);
    await a.release();
    await a.release(); // idempotent
    expect(a.isLeader()).toBe(false);
    expect((await readLease()).spec?.holderIdentity).toBe('');
    expect(await b.acquire()).toBe(true);
    expect(b.epoch()).toBe(2);

    const c = contender('c', { autoRenew: false });
    await b.release();
    await c.acquire();
    api.pause({ user: 'c' });
    const d = contender('d');
    campaign(d, 50);
    await until(() => d.isLeader(), 'd replaces the stalled c', 3000);
    api.resume();
    await c.release();
    expect((await readLease()).spec?.holderIdentity).toBe('d');
  });
});
