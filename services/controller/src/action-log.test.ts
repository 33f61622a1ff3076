// The action log: commands count as in flight until telemetry shows them, or until they expire.
import { describe, expect, it } from '@jest/globals';
import { ActionLog } from './action-log.ts';
import type { FleetMiners, MinerView } from './miner-selection.ts';

const view = (state: MinerView['state'], profile: string | null = null): MinerView => ({
  state,
  profile,
  powerW: null,
  port: 4028,
});

describe('ActionLog', () => {
  it('counts outstanding commands per fleet and transition, earliest send first', () => {
    const log = new ActionLog();
    log.record('fa', ['10.0.0.1', '10.0.0.2'], 'normal', 'asleep', 1000);
    log.record('fa', ['10.0.0.3'], 'normal', 'asleep', 2000);
    log.record('fa', ['10.0.0.4'], 'asleep', 'normal', 1500);
    log.record('fb', ['10.0.1.1'], 'eco', 'turbo', 3000);
    expect(log.inFlight()).toEqual({
      fleets: {
        fa: [
          { from: 'asleep', to: 'normal', count: 1, since: 1500 },
          { from: 'normal', to: 'asleep', count: 3, since: 1000 },
        ],
        fb: [{ from: 'eco', to: 'turbo', count: 1, since: 3000 }],
      },
    });
    expect([...log.pending('fa')].sort()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
    expect(log.size()).toBe(5);
  });

  it('drops a command once telemetry shows it, and keeps those it does not show yet', () => {
    const log = new ActionLog();
    log.record('fa', ['a', 'b', 'c', 'd'], 'normal', 'asleep', 0);
    log.record('fa', ['e', 'f'], 'asleep', 'normal', 0);
    const miners: FleetMiners = {
      a: view('sleeping'),
      b: view('hashing', 'normal'), // not there yet
      c: view('offline'),
      e: view('ramping'),
      f: view('sleeping'), // not woken yet
    };
    log.settle('fa', miners, 1000);
    expect([...log.pending('fa')].sort()).toEqual(['b', 'c', 'd', 'f']);
  });

  it('holds a profile change for a while even when the miner reports the new profile', () => {
    const log = new ActionLog({ profileHoldMs: 5000 });
    log.record('fa', ['a'], 'turbo', 'eco', 0);
    log.settle('fa', { a: view('hashing', 'eco') }, 1000);
    expect(log.size()).toBe(1);
    log.settle('fa', { a: view('hashing', 'eco') }, 6000);
    expect(log.size()).toBe(0);
  });

  it('forgets a command telemetry never confirms after the TTL, and a newer command replaces an older', () => {
    const log = new ActionLog({ ttlMs: 10_000 });
    log.record('fa', ['a'], 'normal', 'asleep', 0);
    log.record('fa', ['a'], 'asleep', 'normal', 5000);
    expect(log.inFlight().fleets?.fa).toEqual([{ from: 'asleep', to: 'normal', count: 1, since: 5000 }]);
    log.settle('fa', { a: view('sleeping') }, 14_000);
    expect(log.size()).toBe(1);
    log.settle('fa', { a: view('sleeping') }, 15_001);
    expect(log.size()).toBe(0);
    expect(log.inFlight()).toEqual({ fleets: {} });
  });

  it('trusts the first poll that began after a command’s job was over', () => {
    const log = new ActionLog();
    log.record('fa', ['a', 'b'], 'normal', 'asleep', 1000);
    log.record('fa', ['c'], 'normal', 'asleep', 3000);
    log.finish(2000, 2500); // the first phase finished at 2.5 s; c's is still running
    log.settle('fa', { a: view('hashing', 'normal') }, 2600, 2400); // poll began before: kept
    expect(log.size()).toBe(3);
    log.settle('fa', { a: view('hashing', 'normal') }, 4000, 2600); // a's sleep failed: a is free again
    expect([...log.pending('fa')]).toEqual(['c']);
  });

  it('releases a fenced shed at once, and keeps a fenced wake or raise in flight until a later poll', () => {
    const log = new ActionLog();
    log.record('fa', ['a', 'b'], 'normal', 'asleep', 1000);
    log.record('fa', ['c'], 'asleep', 'normal', 1000);
    log.record('fa', ['e'], 'turbo', 'eco', 1000, true);
    log.record('fa', ['f'], 'eco', 'turbo', 1000, false);
    log.record('fa', ['d'], 'normal', 'asleep', 5000); // sent after the fencing: still outstanding
    log.finish(2000, 4000, true); // preempted at 1 s, fenced off from 4 s
    expect([...log.pending('fa')].sort()).toEqual(['c', 'd', 'f']);
    expect(log.inFlight().fleets?.fa).toEqual([
      { from: 'asleep', to: 'normal', count: 1, since: 1000 },
      { from: 'eco', to: 'turbo', count: 1, since: 1000 },
      { from: 'normal', to: 'asleep', count: 1, since: 5000 },
    ]);
    // A later sleep for a released miner is outstanding again.
    log.record('fa', ['a'], 'normal', 'asleep', 6000);
    expect([...log.pending('fa')].sort()).toEqual(['a', 'c', 'd', 'f']);
    log.settle('fa', { c: view('sleeping') }, 7000, 4500);
    expect([...log.pending('fa')].sort()).toEqual(['a', 'd']);
    // An unfenced finish releases nothing.
    log.record('fa', ['g'], 'normal', 'asleep', 8000);
    log.finish(8000, 9000);
    expect(log.pending('fa').has('g')).toBe(true);
  });
});
