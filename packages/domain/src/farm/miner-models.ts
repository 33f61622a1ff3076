// Known ASIC models: nameplate figures and default power profiles. A fleet that names one of
// these may omit its profiles. Figures are manufacturer nameplates; underclocked profiles are
// more efficient (J/TH falls), overclocked ones less, as real firmware tuners show.
import type { MinerDriverName, PowerProfile } from './resource-schema.ts';

export interface MinerModel {
  make: 'Bitmain' | 'MicroBT';
  model: string;
  /** Firmware families that run on this hardware. */
  drivers: readonly MinerDriverName[];
  nameplateW: number;
  nameplateThs: number;
  sleepW: number;
  profiles: readonly PowerProfile[];
}

/** Profiles around a nameplate: eco at 75 % power (8 % better J/TH), stock, and turbo at 110 % power. */
function profilesFor(powerW: number, hashrateThs: number, turbo: boolean): PowerProfile[] {
  const jth = powerW / hashrateThs;
  const round = (x: number) => Math.round(x * 10) / 10;
  const out: PowerProfile[] = [
    { name: 'eco', powerW: Math.round(powerW * 0.75), hashrateThs: round((powerW * 0.75) / (jth * 0.92)) },
    { name: 'normal', powerW, hashrateThs },
  ];
  if (turbo) {
    out.push({
      name: 'turbo',
      powerW: Math.round(powerW * 1.1),
      hashrateThs: round((powerW * 1.1) / (jth * 1.05)),
    });
  }
  return out;
}

const bitmain = ['antminer', 'luxos', 'braiins'] as const;
const microbt = ['whatsminer'] as const;

const table: Array<Omit<MinerModel, 'profiles'> & { turbo: boolean }> = [
  {
    make: 'Bitmain',
    model: 'S19 Pro',
    drivers: bitmain,
    nameplateW: 3250,
    nameplateThs: 110,
    sleepW: 30,
    turbo: false,
  },
  {
    make: 'Bitmain',
    model: 'S19j Pro',
    drivers: bitmain,
    nameplateW: 3068,
    nameplateThs: 104,
    sleepW: 30,
    turbo: false,
  },
  {
    make: 'Bitmain',
    model: 'S19 XP',
    drivers: bitmain,
    nameplateW: 3010,
    nameplateThs: 140,
    sleepW: 30,
    turbo: true,
  },
  {
    make: 'Bitmain',
    model: 'S19k Pro',
    drivers: bitmain,
    nameplateW: 2760,
    nameplateThs: 120,
    sleepW: 25,
    turbo: true,
  },
  {
    make: 'Bitmain',
    model: 'S21',
    drivers: bitmain,
    nameplateW: 3500,
    nameplateThs: 200,
    sleepW: 30,
    turbo: true,
  },
  {
    make: 'Bitmain',
    model: 'S21 Pro',
    drivers: bitmain,
    nameplateW: 3530,
    nameplateThs: 234,
    sleepW: 30,
    turbo: true,
  },
  {
    make: 'MicroBT',
    model: 'M30S++',
    drivers: microbt,
    nameplateW: 3472,
    nameplateThs: 112,
    sleepW: 25,
    turbo: false,
  },
  {
    make: 'MicroBT',
    model: 'M50S',
    drivers: microbt,
    nameplateW: 3276,
    nameplateThs: 126,
    sleepW: 25,
    turbo: true,
  },
  {
    make: 'MicroBT',
    model: 'M60S',
    drivers: microbt,
    nameplateW: 3441,
    nameplateThs: 186,
    sleepW: 25,
    turbo: true,
  },
];

export const MINER_MODELS: ReadonlyMap<string, MinerModel> = new Map(
  table.map(({ turbo, ...m }) => [
    normalizeModelName(m.model),
    { ...m, profiles: profilesFor(m.nameplateW, m.nameplateThs, turbo) },
  ]),
);

/** "s19-pro", "S19 Pro" and "Antminer S19 Pro" all name the same model. */
export function normalizeModelName(name: string): string {
  return name
    .toLowerCase()
    .replace(/^(antminer|whatsminer|bitmain|microbt)\s+/, '')
    .replace(/[\s_-]+/g, '');
}

export function findMinerModel(name: string): MinerModel | undefined {
  return MINER_MODELS.get(normalizeModelName(name));
}

export const DEFAULT_PORTS: Readonly<Record<MinerDriverName, number>> = {
  antminer: 4028,
  luxos: 4028,
  braiins: 80,
  whatsminer: 4028,
};
