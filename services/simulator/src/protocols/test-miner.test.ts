import { describe, expect, test } from '@jest/globals';
import { createTestMiner } from './test-miner.ts';

describe('createTestMiner', () => {
  test('defaults: a hashing S19 Pro on its normal profile', () => {
    const m = createTestMiner();
    expect(m.id).toMatchObject({
      model: 'S19 Pro',
      driver: 'antminer',
      make: 'Bitmain',
      nameplateW: 3250,
      sleepW: 30,
    });
    expect(m.id.profiles.map((p) => p.name)).toEqual(['eco', 'normal']);
    const o = m.observe();
    expect(o).toMatchObject({
      state: 'hashing',
      powerW: 3250,
      hashrateThs: 110,
      profile: 'normal',
      uptimeS: 3600,
    });
    expect(o.boards).toHaveLength(3);
    expect(o.boards.reduce((s, b) => s + b.hashrateThs, 0)).toBeCloseTo(110, 0);
    expect(m.credentials).toEqual({ username: 'root', password: 'root' });
  });

  test('model overrides pick the model table profiles', () => {
    const m = createTestMiner({ id: { model: 'S21', driver: 'luxos' } });
    expect(m.id.profiles.map((p) => p.name)).toEqual(['eco', 'normal', 'turbo']);
    expect(m.observe().hashrateThs).toBe(200);
  });

  test('sleep and wake are idempotent and logged', () => {
    const m = createTestMiner();
    m.sleep();
    m.sleep();
    expect(m.observe()).toMatchObject({ state: 'sleeping', powerW: 30, hashrateThs: 0 });
    m.wake();
    m.wake();
    expect(m.calls).toEqual(['sleep', 'sleep', 'wake', 'wake']);
    expect(m.changes).toEqual(['sleep', 'wake']);
  });

  test('a wake ramps linearly for rampSeconds, uptime restarts', () => {
    const m = createTestMiner({ state: 'sleeping', rampSeconds: 100 });
    m.wake();
    m.advance(50);
    const o = m.observe();
    expect(o).toMatchObject({ state: 'ramping', hashrateThs: 55, rampRemainingS: 50, uptimeS: 50 });
    expect(o.powerW).toBe(Math.round(30 + (3250 - 30) * 0.5));
    m.advance(50);
    expect(m.observe().state).toBe('hashing');
  });

  test('stuck-ramp never finishes', () => {
    const m = createTestMiner({ state: 'sleeping', fault: 'stuck-ramp' });
    m.wake();
    m.advance(3600);
    expect(m.observe().state).toBe('ramping');
  });

  test('profiles, power targets and power percent set the draw', () => {
    const m = createTestMiner();
    expect(m.setProfile('eco')).toBeNull();
    expect(m.observe()).toMatchObject({ powerW: 2438, hashrateThs: 89.7, profile: 'eco' });
    expect(m.setProfile('warp')).toMatch(/unknown profile/);
    expect(m.setPowerTarget(100)).toMatch(/outside/);
    expect(m.setPowerTarget(2000)).toBeNull();
    expect(m.observe()).toMatchObject({ powerW: 2000, powerTargetW: 2000, profile: null });
    expect(m.setPowerPercent(50)).toBeNull();
    expect(m.observe().powerW).toBe(1000);
  });

  test('reboot: offline, then ramping, then hashing', () => {
    const m = createTestMiner({ rebootSeconds: 30, rampSeconds: 60 });
    m.reboot();
    expect(m.observe()).toMatchObject({ state: 'offline', powerW: 0, uptimeS: 0 });
    m.advance(40);
    expect(m.observe()).toMatchObject({ state: 'ramping', uptimeS: 10 });
    m.advance(60);
    expect(m.observe().state).toBe('hashing');
  });

  test('fault state with a reason', () => {
    const m = createTestMiner();
    m.setFaulted('chain 2 lost');
    expect(m.observe()).toMatchObject({ state: 'fault', reasons: ['chain 2 lost'], hashrateThs: 0 });
    m.setFaulted(null);
    expect(m.observe().state).toBe('hashing');
  });

  test('random() is deterministic per seed', () => {
    const a = createTestMiner({ seed: 7 });
    const b = createTestMiner({ seed: 7 });
    const xs = [a.random(), a.random(), a.random()];
    expect([b.random(), b.random(), b.random()]).toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });
});
