import { describe, expect, it } from '@jest/globals';
import type { MinerFleet } from '@switchyard/domain';
import { minerIdentity } from '../farm-plan.ts';
import { ThermalEnv } from './environment.ts';
import { SimClock } from './sim-clock.ts';
import { SimMiner, type SimMinerInit } from './sim-miner.ts';
import { ChangeLog } from './change-log.ts';

function fleet(model: string, driver: MinerFleet['spec']['driver'] = 'braiins'): MinerFleet {
  return {
    apiVersion: 'switchyard.io/v1alpha1',
    kind: 'MinerFleet',
    metadata: { name: 'f1' },
    spec: {
      site: 's1',
      feed: 'pdu-1',
      coolingZone: 'z1',
      model,
      driver,
      endpoints: { addresses: ['10.0.0.7'] },
    },
  };
}

function setup(
  opts: {
    model?: string;
    host?: string;
    seed?: string;
    initial?: SimMinerInit['initial'];
    ambientC?: number;
    changes?: ChangeLog;
  } = {},
) {
  let real = 1_000_000;
  const clock = new SimClock({ realNow: () => real, simStartMs: 0 });
  const env = new ThermalEnv('s1', 'z1', opts.ambientC ?? 25);
  const host = opts.host ?? '10.0.0.7';
  const identity = minerIdentity(
    fleet(opts.model ?? 'S21'),
    { fleet: 'f1', index: 0, farmHost: host, simHost: `127.${host.split('.').slice(1).join('.')}`, port: 80 },
    opts.seed ?? 'seed',
  );
  const m = new SimMiner({
    identity,
    clock,
    env,
    timing: { sleepSeconds: 3, wakeSeconds: 60, rebootSeconds: 45, retuneSeconds: 5 },
    seed: opts.seed ?? 'seed',
    initial: opts.initial,
    changes: opts.changes,
  });
  const advance = (s: number) => {
    real += s * 1000;
  };
  return { m, env, clock, advance };
}

const jth = (s: { powerW: number; hashrateThs: number }) => s.powerW / s.hashrateThs;

describe('SimMiner at rest', () => {
  it('starts hashing on the normal profile near its nameplate, with 3 boards and 4 fans', () => {
    const { m } = setup();
    const o = m.observe();
    expect(o.state).toBe('hashing');
    expect(o.profile).toBe('normal');
    expect(o.powerW).toBeGreaterThan(3500 * 0.98);
    expect(o.powerW).toBeLessThan(3500 * 1.02);
    expect(o.hashrateThs).toBeGreaterThan(190);
    expect(o.boards).toHaveLength(3);
    expect(o.boards[0]?.chips).toBe(108);
    expect(o.fans).toHaveLength(4);
    expect(o.uptimeS).toBeGreaterThan(86_000);
    expect(o.reasons).toEqual([]);
  });

  it('is deterministic per seed and address, and differs between addresses', () => {
    const a = setup({ host: '10.0.0.7' });
    const b = setup({ host: '10.0.0.7' });
    const c = setup({ host: '10.0.0.8' });
    for (const x of [a, b, c]) x.advance(17);
    expect(a.m.observe()).toEqual(b.m.observe());
    expect(a.m.id.serial).toBe(b.m.id.serial);
    expect(c.m.observe().powerW).not.toBe(a.m.observe().powerW);
    expect([a.m.random(), a.m.random()]).toEqual([b.m.random(), b.m.random()]);
  });

  it('draws slightly more when hotter at the same clocks, and spins its fans faster', () => {
    const { m, env } = setup({ ambientC: 20 });
    const cool = m.observe();
    env.setAmbient(35);
    const warm = m.observe();
    expect(warm.powerW / cool.powerW).toBeCloseTo(1 + 0.0015 * 15, 3);
    expect(warm.hashrateThs / cool.hashrateThs).toBeGreaterThan(0.95);
    expect(Math.min(...warm.fans)).toBeGreaterThan(Math.max(...cool.fans));
    expect(warm.boards[0]?.chipTempsC[0]).toBeGreaterThan(cool.boards[0]?.chipTempsC[0] ?? 0);
  });

  it('accepts shares as it hashes, and none while asleep', () => {
    const { m, advance } = setup();
    const a0 = m.observe().accepted;
    advance(600);
    const a1 = m.observe().accepted;
    expect(a1 - a0).toBeGreaterThan(100); // ~0.24 shares/s at 200 TH/s
    m.sleep();
    advance(10);
    const a2 = m.observe().accepted;
    advance(600);
    expect(m.observe().accepted).toBe(a2);
  });
});

describe('SimMiner sleep and wake', () => {
  it('stops hashing at once and falls to sleepW within sleepSeconds', () => {
    const { m, advance } = setup();
    const before = m.sample().powerW;
    m.sleep();
    expect(m.observe().state).toBe('sleeping');
    expect(m.observe().hashrateThs).toBe(0);
    advance(1);
    const mid = m.sample().powerW;
    expect(mid).toBeLessThan(before);
    expect(mid).toBeGreaterThan(m.id.sleepW);
    advance(2);
    expect(m.sample().powerW).toBe(m.id.sleepW);
    expect(m.sample().steady).toBe(true);
  });

  it('wakes as a ramp over wakeSeconds: draw and hashrate rise, uptime restarts', () => {
    const { m, advance } = setup({ initial: { state: 'sleeping' } });
    expect(m.observe().state).toBe('sleeping');
    m.wake();
    const seen: Array<{ w: number; ths: number; state: string }> = [];
    for (let s = 0; s <= 60; s += 5) {
      const o = m.sample();
      seen.push({ w: o.powerW, ths: o.hashrateThs, state: o.state });
      advance(5);
    }
    expect(seen[0]?.state).toBe('ramping');
    expect(seen[0]?.w).toBeCloseTo(m.id.sleepW, 0);
    expect(seen[1]?.ths).toBe(0); // still booting at 5 s
    expect(seen[6]?.state).toBe('ramping');
    expect(seen[6]?.w).toBeGreaterThan(1500);
    expect(seen[6]?.w).toBeLessThan(2000);
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]?.w).toBeGreaterThanOrEqual(seen[i - 1]?.w ?? 0);
      expect(seen[i]?.ths).toBeGreaterThanOrEqual(seen[i - 1]?.ths ?? 0);
    }
    expect(seen[12]?.state).toBe('hashing');
    const o = m.observe();
    expect(o.state).toBe('hashing');
    expect(o.rampRemainingS).toBe(0);
    expect(o.uptimeS).toBeGreaterThanOrEqual(60);
    expect(o.uptimeS).toBeLessThan(70);
  });

  it('reports the remaining ramp time while ramping', () => {
    const { m, advance } = setup({ initial: { state: 'sleeping' } });
    m.wake();
    advance(20);
    expect(m.observe().rampRemainingS).toBe(40);
  });

  it('is idempotent: a second sleep or wake does not restart the transition', () => {
    const { m, advance } = setup();
    m.sleep();
    advance(2);
    m.sleep();
    advance(1);
    expect(m.sample().powerW).toBe(m.id.sleepW);
    m.wake();
    advance(30);
    const mid = m.sample().powerW;
    m.wake();
    expect(m.sample().powerW).toBe(mid);
    advance(30);
    expect(m.observe().state).toBe('hashing');
    expect(m.setProfile('normal')).toBeNull();
    expect(m.sample().steady).toBe(true); // no retune for the profile it already runs
  });
});

describe('SimMiner profiles, power targets and power percent', () => {
  it('is more efficient underclocked: J/TH falls as power falls', () => {
    const { m, advance } = setup();
    const normal = { ...m.sample() };
    expect(m.setProfile('eco')).toBeNull();
    advance(5);
    const eco = { ...m.sample() };
    expect(eco.powerW).toBeLessThan(normal.powerW * 0.8);
    expect(jth(eco)).toBeLessThan(jth(normal) * 0.95);
    expect(m.observe().profile).toBe('eco');

    let last = 0;
    for (let w = 1600; w <= 3850; w += 250) {
      expect(m.setPowerTarget(w)).toBeNull();
      advance(5);
      const j = jth(m.sample());
      expect(j).toBeGreaterThan(last);
      last = j;
    }
  });

  it('moves between profiles over retuneSeconds', () => {
    const { m, advance } = setup();
    const normal = m.sample().powerW;
    m.setProfile('turbo');
    advance(2.5);
    const mid = m.sample();
    expect(mid.steady).toBe(false);
    expect(mid.powerW).toBeGreaterThan(normal);
    advance(2.5);
    expect(m.sample().powerW).toBeCloseTo(normal * 1.1, -1);
  });

  it('interpolates a power target between profiles and reports it', () => {
    const a = setup();
    const b = setup();
    expect(a.m.setPowerTarget((2625 + 3500) / 2)).toBeNull();
    a.advance(10);
    b.advance(10);
    const ratio = a.m.sample().hashrateThs / b.m.sample().hashrateThs;
    expect(ratio).toBeCloseTo((163 + 200) / 2 / 200, 3);
    const o = a.m.observe();
    expect(o.powerTargetW).toBe(3062.5);
    expect(o.profile).toBeNull();
  });

  it('rejects unknown profiles and out-of-bounds targets without changing anything', () => {
    const { m } = setup();
    expect(m.setProfile('warp')).toMatch(/unknown profile "warp"/);
    const { min, max } = m.id.powerTargetBoundsW;
    expect(m.setPowerTarget(min - 1)).toMatch(/outside/);
    expect(m.setPowerTarget(max + 1)).toMatch(/outside/);
    expect(m.setPowerTarget(Number.NaN)).toMatch(/number/);
    expect(m.setPowerPercent(101)).toMatch(/between 0 and 100/);
    expect(m.observe().profile).toBe('normal');
    expect(m.sample().steady).toBe(true);
  });

  it('scales power with a Whatsminer-style power percent', () => {
    const a = setup({ model: 'M50S' });
    const base = { ...a.m.sample() };
    expect(a.m.setPowerPercent(80)).toBeNull();
    a.advance(5);
    const s = a.m.sample();
    expect(s.powerW / base.powerW).toBeCloseTo(0.8, 2);
    expect(jth(s)).toBeLessThan(jth(base));
    expect(a.m.observe().powerPercent).toBe(80);
  });
});

describe('SimMiner thermal behaviour', () => {
  it('throttles above its limit: less power and hashrate, the reason recorded', () => {
    const { m, env } = setup();
    const cool = { ...m.sample() };
    env.setAmbient(43);
    const s = m.sample();
    expect(s.state).toBe('hashing');
    expect(s.throttle).toBeLessThan(1);
    expect(s.powerW).toBeLessThan(cool.powerW * 0.95);
    expect(s.hashrateThs).toBeLessThan(cool.hashrateThs * 0.95);
    expect(m.observe().reasons.join()).toMatch(/throttled/);
  });

  it('shuts down above the hard limit and restarts with a ramp once cool', () => {
    const { m, env, advance } = setup();
    env.setAmbient(50);
    const o = m.observe();
    expect(o.state).toBe('fault');
    expect(o.hashrateThs).toBe(0);
    expect(o.reasons.join()).toMatch(/thermal shutdown/);
    advance(3);
    expect(m.sample().powerW).toBe(m.id.sleepW);
    m.wake(); // no effect while too hot
    expect(m.observe().state).toBe('fault');
    env.setAmbient(30);
    expect(m.observe().state).toBe('ramping');
    advance(60);
    expect(m.observe().state).toBe('hashing');
  });

  it('has per-family limits: an S19 XP stops where an S21 only throttles', () => {
    const s21 = setup({ model: 'S21' });
    const xp = setup({ model: 'S19 XP' });
    s21.env.setAmbient(44.5);
    xp.env.setAmbient(48);
    expect(s21.m.observe().state).toBe('hashing');
    expect(xp.m.observe().state).toBe('fault');
  });
});

describe('SimMiner evaluated late (the sampler runs slightly behind the protocol servers)', () => {
  it('gives the draw before a switch for a time before it, and keeps it out of the steady set', () => {
    const { m, clock, advance } = setup();
    const running = m.sample().powerW;
    advance(10);
    const tc = clock.now();
    m.sleep();
    advance(5);
    expect(m.sample().powerW).toBe(m.id.sleepW);
    const before = m.sample(tc - 2000);
    expect(before.powerW).toBe(running);
    expect(before.state).toBe('hashing');
    expect(before.steady).toBe(false);
  });

  it('sees a reboot as offline until it ended, even once the miner is back', () => {
    const { m, clock, advance } = setup();
    const t0 = clock.now();
    m.reboot();
    advance(60);
    expect(m.observe().state).toBe('hashing');
    const s = m.sample(t0 + 44_000);
    expect(s.state).toBe('offline');
    expect(s.powerW).toBe(m.id.sleepW);
  });
});

describe('SimMiner faults', () => {
  it("'stuck-ramp' makes a wake never finish, until cleared", () => {
    const { m, advance } = setup({ initial: { state: 'sleeping' } });
    m.setFault('stuck-ramp');
    m.wake();
    advance(600);
    const o = m.observe();
    expect(o.state).toBe('ramping');
    expect(o.rampRemainingS).toBeGreaterThan(0);
    expect(m.sample().steady).toBe(true);
    m.setFault(null);
    advance(60);
    expect(m.observe().state).toBe('hashing');
  });

  it("'reboot' takes the miner offline for rebootSeconds, then it hashes at its profile", () => {
    const { m, advance } = setup({ initial: { state: 'sleeping' } });
    m.setFault('reboot');
    expect(m.fault).toBe('reboot');
    expect(m.observe().state).toBe('offline');
    advance(44);
    expect(m.observe().state).toBe('offline');
    expect(m.observe().uptimeS).toBe(0);
    advance(2);
    const o = m.observe();
    expect(o.state).toBe('hashing');
    expect(o.profile).toBe('normal');
    expect(o.powerW).toBeGreaterThan(3400);
    expect(o.uptimeS).toBeLessThan(5);
    expect(m.fault).toBeNull();
  });

  it('a reboot control keeps a sleeping miner asleep, and is idempotent while offline', () => {
    const { m, advance } = setup({ initial: { state: 'sleeping' } });
    m.reboot();
    advance(30);
    m.reboot(); // does not extend the reboot
    advance(16);
    expect(m.observe().state).toBe('sleeping');
  });

  it('stores wire faults for the protocol servers and keeps the physics', () => {
    const { m } = setup();
    m.setFault('garbage');
    expect(m.fault).toBe('garbage');
    expect(m.observe().state).toBe('hashing');
  });
});

describe('SimMiner change log', () => {
  function logged(initial?: SimMinerInit['initial']) {
    let wall = 1_700_000_000_000;
    const changes = new ChangeLog({ now: () => wall++ });
    return { ...setup({ initial, changes }), changes };
  }
  const kinds = (changes: ChangeLog) =>
    changes.query().entries.map((e) => `${e.kind}${e.via === 'control' ? ' (control)' : ''}`);

  it('records effective sleeps and wakes, and counts repeats as no-ops', () => {
    const { m, changes, advance } = logged();
    m.wake(); // already hashing
    m.sleep();
    m.sleep();
    advance(10);
    m.sleep();
    m.wake();
    m.wake(); // already ramping
    advance(120);
    m.wake(); // hashing again
    expect(kinds(changes)).toEqual(['sleep', 'wake']);
    const q = changes.query();
    expect(q.total).toBe(2);
    expect(q.byKind).toMatchObject({ sleep: 1, wake: 1, reboot: 0 });
    expect(q.noops).toMatchObject({ sleep: 2, wake: 3, reboot: 0 });
    expect(q.entries.every((e) => e.host === '10.0.0.7')).toBe(true);
    expect(q.first).toEqual({ at: 1_700_000_000_001, host: '10.0.0.7', kind: 'sleep', via: 'protocol' });
    expect(q.last?.kind).toBe('wake');
  });

  it('records profile, power target, power percent and reboot only when they change something', () => {
    const { m, changes, advance } = logged();
    expect(m.setProfile('normal')).toBeNull(); // already on it
    expect(m.setProfile('eco')).toBeNull();
    expect(m.setProfile('eco')).toBeNull();
    expect(m.setProfile('nope')).toMatch(/unknown profile/); // neither change nor no-op
    expect(m.setPowerTarget(3000)).toBeNull();
    expect(m.setPowerTarget(3000)).toBeNull();
    expect(m.setPowerTarget(1)).toMatch(/outside/);
    expect(m.setPowerPercent(80)).toBeNull();
    expect(m.setPowerPercent(80)).toBeNull();
    m.reboot();
    advance(10);
    m.reboot(); // still offline
    expect(kinds(changes)).toEqual(['profile', 'power-target', 'power-percent', 'reboot']);
    expect(changes.query().noops).toMatchObject({
      profile: 2,
      'power-target': 1,
      'power-percent': 1,
      reboot: 1,
      sleep: 0,
    });
  });

  it("'ignore-commands' acknowledges every command over the wire and changes nothing, until cleared", () => {
    const { m, changes, advance } = logged();
    m.setFault('ignore-commands');
    const before = m.observe();
    m.sleep();
    expect(m.setProfile('eco')).toBeNull();
    expect(m.setPowerTarget(2500)).toBeNull();
    expect(m.setPowerPercent(50)).toBeNull();
    m.reboot();
    advance(120);
    const after = m.observe();
    expect(after.state).toBe('hashing');
    expect(after.profile).toBe(before.profile);
    expect(after.powerW).toBeGreaterThan(before.powerW * 0.9);
    // Invalid arguments are still refused.
    expect(m.setProfile('nope')).toMatch(/unknown profile/);
    expect(changes.query().total).toBe(0);
    expect(changes.query().noops).toMatchObject({ sleep: 1, profile: 1, 'power-target': 1, reboot: 1 });
    // The simulator's own control still works, and clearing the fault restores obedience.
    m.sleep('control');
    expect(m.observe().state).toBe('sleeping');
    m.setFault(null);
    m.wake();
    advance(5);
    expect(m.observe().state).not.toBe('sleeping');
    expect(kinds(changes)).toEqual(['sleep (control)', 'wake']);
  });

  it('tells the control API and fault injection (control) from the firmware protocols', () => {
    const { m, changes, advance } = logged({ state: 'sleeping' });
    m.wake('control');
    advance(120);
    m.setFault('garbage'); // a wire fault: not a device change
    m.setFault(null);
    m.setFault('reboot');
    m.setFault('reboot'); // already set: nothing at all
    m.sleep(); // while rebooting: comes up asleep instead
    m.sleep();
    expect(kinds(changes)).toEqual(['wake (control)', 'reboot (control)', 'sleep']);
    expect(changes.query({ via: 'protocol' }).total).toBe(1);
    expect(changes.query({ via: 'control' }).byKind).toMatchObject({ wake: 1, reboot: 1, sleep: 0 });
    expect(changes.query({ via: 'protocol' }).noops).toMatchObject({ sleep: 1 });
    advance(60);
    expect(m.observe().state).toBe('sleeping');
  });

  it('records nothing for reads of telemetry', () => {
    const { m, changes, advance } = logged();
    for (let i = 0; i < 50; i++) {
      m.observe();
      m.sample();
      advance(1);
    }
    expect(changes.size).toEqual({ changes: 0, noops: 0 });
  });
});
