import { describe, expect, it } from '@jest/globals';
import {
  DEFAULT_PORTS,
  findMinerModel,
  MINER_MODELS,
  normalizeModelName,
  type MinerModel,
} from './miner-models.ts';
import { crossCheckFarm, MAX_JTH, MIN_JTH } from './farm-validation.ts';
import { MINER_DRIVERS, type MinerFleet, type Site } from './resource-schema.ts';

const models = [...MINER_MODELS.values()];
const jth = (p: { powerW: number; hashrateThs: number }) => p.powerW / p.hashrateThs;
const byName = (m: MinerModel, name: string) => m.profiles.find((p) => p.name === name);

describe('known miner models', () => {
  it('has a distinct key for every model', () => {
    expect(models.length).toBeGreaterThanOrEqual(6);
    expect(new Set(models.map((m) => m.model)).size).toBe(models.length);
    for (const [key, m] of MINER_MODELS) expect(key).toBe(normalizeModelName(m.model));
  });

  it.each(models.map((m) => [m.model, m] as const))(
    '%s: default profiles rise in power and never lose hashrate',
    (_, m) => {
      expect(m.profiles.length).toBeGreaterThanOrEqual(2);
      m.profiles.forEach((p, i) => {
        const prev = m.profiles[i - 1];
        if (!prev) return;
        expect(p.powerW).toBeGreaterThan(prev.powerW);
        expect(p.hashrateThs).toBeGreaterThanOrEqual(prev.hashrateThs);
      });
    },
  );

  it.each(models.map((m) => [m.model, m] as const))('%s: every profile is within 5-200 J/TH', (_, m) => {
    expect([MIN_JTH, MAX_JTH]).toEqual([5, 200]);
    for (const p of m.profiles) {
      expect(jth(p)).toBeGreaterThanOrEqual(5);
      expect(jth(p)).toBeLessThanOrEqual(200);
    }
  });

  it.each(models.map((m) => [m.model, m] as const))(
    '%s: eco is more efficient than normal, and normal is the nameplate',
    (_, m) => {
      const eco = byName(m, 'eco');
      const normal = byName(m, 'normal');
      expect(eco).toBeDefined();
      expect(normal).toEqual({ name: 'normal', powerW: m.nameplateW, hashrateThs: m.nameplateThs });
      if (!eco || !normal) return;
      expect(jth(eco)).toBeLessThan(jth(normal));
      expect(eco.powerW).toBeLessThan(normal.powerW);
      const turbo = byName(m, 'turbo');
      if (turbo) expect(jth(turbo)).toBeGreaterThan(jth(normal));
    },
  );

  it.each(models.map((m) => [m.model, m] as const))(
    '%s: sensible nameplate, sleep draw and drivers',
    (_, m) => {
      expect(Math.max(...m.profiles.map((p) => p.powerW))).toBeGreaterThanOrEqual(m.nameplateW);
      expect(m.sleepW).toBeGreaterThan(0);
      expect(m.sleepW).toBeLessThan(Math.min(...m.profiles.map((p) => p.powerW)));
      expect(m.drivers.length).toBeGreaterThan(0);
      for (const d of m.drivers) expect(MINER_DRIVERS).toContain(d);
      // Bitmain hardware runs Bitmain-compatible firmwares; MicroBT runs only its own.
      expect(m.drivers.includes('whatsminer')).toBe(m.make === 'MicroBT');
    },
  );

  it("passes the farm's own profile rules when a fleet spells the defaults out", () => {
    const site: Site = {
      apiVersion: 'switchyard.io/v1alpha1',
      kind: 'Site',
      metadata: { name: 'west' },
      spec: {
        interconnectKw: 5000,
        marketNode: 'HB_WEST',
        pue: 1.1,
        powerTree: { name: 'pdu-1', limitKw: 5000 },
        coolingZones: [{ name: 'zone-a', capacityKw: 5000 }],
      },
    };
    const fleets: MinerFleet[] = models.map((m, i) => ({
      apiVersion: 'switchyard.io/v1alpha1',
      kind: 'MinerFleet',
      metadata: { name: `fleet-${i}` },
      spec: {
        site: 'west',
        feed: 'pdu-1',
        coolingZone: 'zone-a',
        model: m.model,
        driver: m.drivers[0] ?? 'antminer',
        endpoints: { cidr: `10.0.${i}.0/24`, count: 10 },
        profiles: m.profiles.map((p) => ({ ...p })),
        sleepW: m.sleepW,
      },
    }));
    expect(crossCheckFarm({ sites: [site], fleets, pools: [], policies: [] })).toEqual([]);
  });

  it('has a default port for every driver', () => {
    expect(Object.keys(DEFAULT_PORTS).sort()).toEqual([...MINER_DRIVERS].sort());
    expect(DEFAULT_PORTS.braiins).toBe(80);
  });
});

describe('normalizeModelName / findMinerModel', () => {
  it.each([
    'S19 Pro',
    's19-pro',
    'Antminer S19 Pro',
    'antminer s19 pro',
    'S19_Pro',
    'S19Pro',
    'Bitmain S19 Pro',
    'S19  Pro',
  ])('%j names the S19 Pro', (name) => {
    expect(normalizeModelName(name)).toBe(normalizeModelName('S19 Pro'));
    expect(findMinerModel(name)).toMatchObject({
      make: 'Bitmain',
      model: 'S19 Pro',
      nameplateW: 3250,
      nameplateThs: 110,
    });
  });

  it.each([
    ['WhatsMiner M50S', 'M50S'],
    ['microbt m60s', 'M60S'],
    ['m30s++', 'M30S++'],
    ['S19j Pro', 'S19j Pro'],
    ['s19-xp', 'S19 XP'],
    ['Antminer S21 Pro', 'S21 Pro'],
    ['S21', 'S21'],
  ])('%j is the %s', (name, model) => {
    expect(findMinerModel(name)?.model).toBe(model);
  });

  it('keeps similar models apart', () => {
    const distinct = ['S19 Pro', 'S19j Pro', 'S19k Pro', 'S19 XP', 'S21', 'S21 Pro'].map(
      (n) => findMinerModel(n)?.model,
    );
    expect(new Set(distinct).size).toBe(6);
  });

  it.each(['S99', 'S19', 'Pro', '', 'Antminer', 'M50'])('does not know %j', (name) => {
    expect(findMinerModel(name)).toBeUndefined();
  });
});
