import { describe, expect, it } from '@jest/globals';
import { ChangeLog, mergeChangeSlices, toChangeReport } from './change-log.ts';

function clockedLog(capacity?: number) {
  let wall = 1000;
  const log = new ChangeLog({ capacity, now: () => wall });
  return {
    log,
    at: (t: number) => {
      wall = t;
    },
  };
}

describe('ChangeLog', () => {
  it('filters by time (inclusive), device and way in, and counts no-ops apart', () => {
    const { log, at } = clockedLog();
    at(1000);
    log.record('10.0.0.1', 'sleep', 'protocol');
    at(2000);
    log.record('10.0.0.2', 'sleep', 'control');
    log.noop('10.0.0.1', 'sleep', 'protocol');
    at(3000);
    log.record('10.0.0.1', 'wake', 'protocol');
    const all = log.query();
    expect(all.total).toBe(3);
    expect(all.byKind).toMatchObject({ sleep: 2, wake: 1, 'gpu-mode': 0 });
    expect(all.noops).toMatchObject({ sleep: 1, wake: 0 });
    expect(all.first).toEqual({ at: 1000, host: '10.0.0.1', kind: 'sleep', via: 'protocol' });
    expect(all.last).toEqual({ at: 3000, host: '10.0.0.1', kind: 'wake', via: 'protocol' });
    expect(all.truncated).toBe(false);
    expect(all.dropped).toBe(0);

    const since = log.query({ sinceMs: 2000 });
    expect(since.total).toBe(2);
    expect(since.first?.at).toBe(2000);
    expect(log.query({ sinceMs: 2001 }).noops.sleep).toBe(0);
    expect(log.query({ host: '10.0.0.1' }).entries.map((e) => e.kind)).toEqual(['sleep', 'wake']);
    expect(log.query({ via: 'control' }).entries).toEqual([
      { at: 2000, host: '10.0.0.2', kind: 'sleep', via: 'control' },
    ]);
    expect(log.query({ sinceMs: 5000 })).toMatchObject({ total: 0, first: null, last: null, entries: [] });
  });

  it('lists the earliest `limit` changes and says when it cut the list', () => {
    const { log, at } = clockedLog();
    for (let i = 0; i < 10; i++) {
      at(1000 + i);
      log.record(`10.0.0.${i}`, 'profile', 'protocol');
    }
    const q = log.query({ limit: 3 });
    expect(q.total).toBe(10);
    expect(q.entries.map((e) => e.at)).toEqual([1000, 1001, 1002]);
    expect(q.last?.at).toBe(1009);
    expect(q.truncated).toBe(true);
    expect(log.query({ limit: 0 })).toMatchObject({ total: 10, entries: [], truncated: true });
  });

  it('keeps memory bounded: the oldest changes go first and are reported as dropped', () => {
    const { log, at } = clockedLog(4);
    for (let i = 0; i < 10; i++) {
      at(1000 + i);
      log.record('10.0.0.1', 'power-target', 'protocol');
      log.noop('10.0.0.1', 'power-target', 'protocol');
    }
    expect(log.size).toEqual({ changes: 4, noops: 4 });
    const q = log.query();
    expect(q.entries.map((e) => e.at)).toEqual([1006, 1007, 1008, 1009]);
    expect(q.dropped).toBe(6);
    expect(q.noops['power-target']).toBe(4);
    // nothing evicted is at or after 1006: that answer is complete
    expect(log.query({ sinceMs: 1006 }).dropped).toBe(0);
  });

  it('merges several logs by time and groups the report per device', () => {
    const a = clockedLog();
    const b = clockedLog();
    a.at(1000);
    a.log.record('10.0.0.1', 'sleep', 'protocol');
    b.at(1500);
    b.log.record('gpu-node-00', 'gpu-mode', 'protocol');
    a.at(2000);
    a.log.record('10.0.0.1', 'wake', 'protocol');
    a.log.noop('10.0.0.1', 'wake', 'protocol');
    const merged = mergeChangeSlices([a.log.query(), b.log.query()], 2);
    expect(merged.total).toBe(3);
    expect(merged.entries.map((e) => e.at)).toEqual([1000, 1500]);
    expect(merged.truncated).toBe(true);
    expect(merged.first?.host).toBe('10.0.0.1');
    expect(merged.last?.kind).toBe('wake');
    const report = toChangeReport(mergeChangeSlices([a.log.query(), b.log.query()]));
    expect(report).toMatchObject({
      total: 3,
      byKind: { sleep: 1, wake: 1, 'gpu-mode': 1 },
      noops: { wake: 1 },
      truncated: false,
      dropped: 0,
      perMiner: {
        '10.0.0.1': [
          { at: 1000, kind: 'sleep', via: 'protocol' },
          { at: 2000, kind: 'wake', via: 'protocol' },
        ],
        'gpu-node-00': [{ at: 1500, kind: 'gpu-mode', via: 'protocol' }],
      },
    });
  });
});
