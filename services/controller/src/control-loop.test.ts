// The control loop's orchestration with in-process ports: ordering, coalescing, leadership.
import { describe, expect, it } from '@jest/globals';
import { ControlLoop, type ControlPorts, type CycleRecord, type CycleTrigger } from './control-loop.ts';

function harness(opts: { leader?: boolean; planDelayMs?: number } = {}) {
  const calls: string[] = [];
  const records: CycleRecord[] = [];
  let leader = opts.leader ?? true;
  let epoch: number | null = leader ? 3 : null;
  const lost: Array<() => void> = [];
  const ports: ControlPorts<{ n: number }, string, string[]> = {
    lease: {
      isLeader: () => leader,
      epoch: () => epoch,
      onLost: (cb) => {
        lost.push(cb);
        return () => void lost.splice(lost.indexOf(cb), 1);
      },
    },
    snapshot: async (t: CycleTrigger) => {
      calls.push(`snapshot:${t}`);
      return { at: new Date(), input: { n: calls.length } };
    },
    plan: async (input) => {
      calls.push('plan');
      await new Promise((r) => setTimeout(r, opts.planDelayMs ?? 0));
      return `plan-${input.n}`;
    },
    persist: async (plan, _input, e, t) => {
      calls.push(`persist:${plan}:${e}:${t}`);
      return `id-${plan}`;
    },
    sequence: (plan) => {
      calls.push('sequence');
      return [`${plan}:shed`, `${plan}:add`];
    },
    dispatch: async (seq, _id, e, stillLeader) => {
      for (const s of seq) {
        if (!stillLeader()) return;
        calls.push(`dispatch:${s}:${e}`);
      }
    },
  };
  const loop = new ControlLoop(ports, { intervalMs: 60_000, onCycle: (r) => records.push(r) });
  return {
    loop,
    calls,
    records,
    loseLease: () => {
      leader = false;
      epoch = null;
      for (const cb of [...lost]) cb();
    },
  };
}

describe('ControlLoop', () => {
  it('runs snapshot → plan → persist → sequence → dispatch with the leader epoch', async () => {
    const h = harness();
    await h.loop.trigger('manual');
    expect(h.calls).toEqual([
      'snapshot:manual',
      'plan',
      'persist:plan-1:3:manual',
      'sequence',
      'dispatch:plan-1:shed:3',
      'dispatch:plan-1:add:3',
    ]);
    expect(h.records[0]).toMatchObject({ trigger: 'manual', outcome: 'dispatched', planId: 'id-plan-1' });
    await h.loop.stop();
  });

  it('does nothing but record it when not the leader', async () => {
    const h = harness({ leader: false });
    await h.loop.trigger('interval');
    expect(h.calls).toEqual([]);
    expect(h.records[0]?.outcome).toBe('not-leader');
  });

  it('coalesces triggers that arrive during a cycle into one follow-up, a grid dispatch first', async () => {
    const h = harness({ planDelayMs: 30 });
    const first = h.loop.trigger('interval');
    void h.loop.trigger('price-move');
    void h.loop.trigger('grid-dispatch');
    void h.loop.trigger('device-fault');
    await first;
    await new Promise((r) => setTimeout(r, 100));
    expect(h.records.map((r) => r.trigger)).toEqual(['interval', 'grid-dispatch']);
    await h.loop.stop();
  });

  it('lets an over-limit outrank the routine triggers, and a grid dispatch outrank it', async () => {
    const h = harness({ planDelayMs: 30 });
    let first = h.loop.trigger('interval');
    void h.loop.trigger('price-move');
    void h.loop.trigger('over-limit');
    void h.loop.trigger('device-fault');
    await first;
    await new Promise((r) => setTimeout(r, 100));
    expect(h.records.map((r) => r.trigger)).toEqual(['interval', 'over-limit']);
    first = h.loop.trigger('interval');
    void h.loop.trigger('grid-dispatch');
    void h.loop.trigger('over-limit');
    await first;
    await new Promise((r) => setTimeout(r, 100));
    expect(h.records.map((r) => r.trigger).slice(2)).toEqual(['interval', 'grid-dispatch']);
    await h.loop.stop();
  });

  it.each(['grid-dispatch', 'over-limit'] as const)(
    'preempts a cycle waiting on its phases for %s, under a new epoch',
    async (urgent) => {
      const records: CycleRecord[] = [];
      const calls: string[] = [];
      let epoch = 7;
      const loop = new ControlLoop<number, string, string>(
        {
          lease: {
            isLeader: () => true,
            epoch: () => epoch,
            onLost: () => () => {},
            bump: async () => {
              calls.push(`bump:${epoch}`);
              return ++epoch;
            },
          },
          snapshot: async (t) => ({ at: new Date(), input: t === urgent ? 2 : 1 }),
          plan: async (n) => `plan-${n}`,
          persist: async (p) => `id-${p}`,
          sequence: (p) => p,
          dispatch: (seq, _id, e, _still, signal) =>
            new Promise<void>((resolve, reject) => {
              calls.push(`dispatch:${seq}:${e}`);
              if (seq === 'plan-2') return resolve();
              // An add phase that would take minutes: only the abort ends it.
              signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
            }),
        },
        { intervalMs: 60_000, onCycle: (r) => records.push(r) },
      );
      const slow = loop.trigger('interval');
      await new Promise((r) => setTimeout(r, 20));
      const t0 = performance.now();
      void loop.trigger(urgent);
      await slow;
      await new Promise((r) => setTimeout(r, 20));
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(calls).toEqual(['dispatch:plan-1:7', 'bump:7', 'dispatch:plan-2:8']);
      expect(records.map((r) => [r.trigger, r.outcome, r.epoch])).toEqual([
        ['interval', 'preempted', 7],
        [urgent, 'dispatched', 8],
      ]);
      expect(records[1]?.toDispatchMs).toBeGreaterThanOrEqual(0);
      await loop.stop();
    },
  );

  it('fences off a failed cycle’s jobs: the next cycle runs under a new epoch', async () => {
    let epoch = 1;
    let fail = true;
    const epochs: number[] = [];
    const loop = new ControlLoop<number, string, string>(
      {
        lease: {
          isLeader: () => true,
          epoch: () => epoch,
          onLost: () => () => {},
          bump: async () => ++epoch,
        },
        snapshot: async () => ({ at: new Date(), input: 1 }),
        plan: async () => 'p',
        persist: async () => 'id',
        sequence: () => 's',
        dispatch: async (_s, _id, e) => {
          epochs.push(e);
          if (fail) throw new Error('phase 1 stopped short');
        },
      },
      { intervalMs: 60_000 },
    );
    await loop.trigger('interval');
    fail = false;
    await loop.trigger('interval');
    await loop.trigger('interval');
    expect(epochs).toEqual([1, 2, 2]);
    await loop.stop();
  });

  it('stops dispatching the moment the lease is lost mid-cycle', async () => {
    const h = harness({ planDelayMs: 30 });
    const cycle = h.loop.trigger('interval');
    setTimeout(() => h.loseLease(), 10);
    await cycle;
    expect(h.calls.filter((c) => c.startsWith('dispatch') || c.startsWith('persist'))).toEqual([]);
    expect(h.records[0]?.outcome).toBe('lost-lease');
    await h.loop.stop();
  });

  it('records a failed cycle and keeps running the next', async () => {
    let fail = true;
    // A snapshot failure (e.g. the database is away) fails this cycle only.
    const h2 = harness();
    const loop = new ControlLoop(
      {
        lease: { isLeader: () => true, epoch: () => 1, onLost: () => () => {} },
        snapshot: async () => {
          if (fail) throw new Error('database unavailable');
          return { at: new Date(), input: 1 };
        },
        plan: async () => 'p',
        persist: async () => 'id',
        sequence: () => [],
        dispatch: async () => {},
      },
      { intervalMs: 60_000, onCycle: (r) => h2.records.push(r) },
    );
    await loop.trigger('interval');
    fail = false;
    await loop.trigger('interval');
    expect(h2.records.map((r) => r.outcome)).toEqual(['failed', 'dispatched']);
    expect(h2.records[0]?.error).toBe('database unavailable');
    await loop.stop();
  });
});
