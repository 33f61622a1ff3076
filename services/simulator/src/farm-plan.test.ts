import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseFarmYaml, type Farm } from '@switchyard/domain';
import { LISTENERS_PER_MINER, minerIdentity, partitionFleets, planFarm, toSimHost } from './farm-plan.ts';
import { labFarm } from './testing/lab-farm.ts';

const example = (): Farm => {
  const r = parseFarmYaml(
    readFileSync(path.join(import.meta.dirname, '../../../examples/farm.yaml'), 'utf8'),
  );
  if (!r.ok) throw new Error('example farm invalid');
  return r.farm;
};

describe('toSimHost', () => {
  it('maps a.b.c.d to 127.b.c.d', () => {
    expect(toSimHost('10.11.0.7')).toBe('127.11.0.7');
    expect(toSimHost('192.168.1.250')).toBe('127.168.1.250');
  });
  it('refuses what is not an IPv4 address', () => {
    expect(() => toSimHost('miner-1.local')).toThrow(/not an IPv4 address/);
  });
});

describe('planFarm', () => {
  it('gives every miner of the example farm its own loopback address', () => {
    const fleets = planFarm(example());
    const miners = fleets.flatMap((f) => f.miners);
    expect(miners).toHaveLength(10_000);
    expect(new Set(miners.map((m) => m.simHost)).size).toBe(10_000);
    expect(miners.every((m) => m.simHost.startsWith('127.'))).toBe(true);
    expect(fleets.find((f) => f.name === 'rack-b1')?.miners[0]?.port).toBe(80);
  });

  it('names both addresses when two map to the same loopback address', () => {
    const farm = labFarm();
    const fb = farm.fleets[1];
    if (!fb) throw new Error('lab farm has two fleets');
    fb.spec.endpoints = { addresses: ['11.201.0.1', 'miner-x.local'] };
    expect(() => planFarm(farm)).toThrow(
      /11\.201\.0\.1 and 10\.201\.0\.1 \(MinerFleet\/fa\) both map to 127\.201\.0\.1[\s\S]*"miner-x.local" is a hostname/,
    );
  });
});

describe('minerIdentity', () => {
  it('derives MAC, hostname, serial and power-target bounds from the fleet and address', () => {
    const farm = labFarm();
    const [fa] = planFarm(farm);
    const m = fa?.miners[6];
    if (!fa || !m) throw new Error('lab farm');
    const id = minerIdentity(fa.fleet, m, 'seed');
    expect(id).toMatchObject({
      fleet: 'fa',
      farmHost: '10.201.0.7',
      simHost: '127.201.0.7',
      driver: 'braiins',
      make: 'Bitmain',
      model: 'S21',
      mac: '02:53:0A:C9:00:07',
      hostname: 'fa-0007',
      nameplateW: 3850,
      sleepW: 30,
      port: 80,
    });
    expect(id.serial).toMatch(/^SY[A-Z0-9]{14}$/);
    expect(id.powerTargetBoundsW).toEqual({ min: 1575, max: 3850 });
    expect(minerIdentity(fa.fleet, m, 'seed')).toEqual(id);
  });
});

describe('partitionFleets', () => {
  it('keeps fleets whole and balances listening sockets across workers', () => {
    const fleets = planFarm(example());
    const groups = partitionFleets(fleets, 2);
    expect(groups).toHaveLength(2);
    expect(
      groups
        .flat()
        .map((f) => f.name)
        .sort(),
    ).toEqual(fleets.map((f) => f.name).sort());
    const load = groups.map((g) =>
      g.reduce((n, f) => n + f.miners.length * LISTENERS_PER_MINER[f.fleet.spec.driver], 0),
    );
    expect(load[0] ?? 0).toBeLessThan(10_000);
    expect(load[1] ?? 0).toBeLessThan(10_000);
    expect(Math.abs((load[0] ?? 0) - (load[1] ?? 0))).toBeLessThan(1300);
    expect(partitionFleets(fleets, 64)).toHaveLength(fleets.length);
  });
});
