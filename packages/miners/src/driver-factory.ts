// One place that turns a driver name and options into a MinerDriver.
import type { MinerDriverName, PowerProfile } from '@switchyard/domain';
import type { DriverOptions, MinerDriver } from './driver.ts';
import { createAntminerDriver } from './antminer/antminer-driver.ts';
import { createLuxosDriver } from './luxos/luxos-driver.ts';
import { createBraiinsDriver } from './braiins/braiins-driver.ts';
import { createWhatsminerDriver } from './whatsminer/whatsminer-driver.ts';

export interface MinerDriverConfig extends DriverOptions {
  /** Model name, when known (sets the power reference for estimates). */
  model?: string | undefined;
  profiles?: readonly PowerProfile[] | undefined;
  sleepW?: number | undefined;
}

export function createMinerDriver(driver: MinerDriverName, config: MinerDriverConfig): MinerDriver {
  switch (driver) {
    case 'antminer':
      return createAntminerDriver(config);
    case 'luxos':
      return createLuxosDriver(config);
    case 'braiins':
      return createBraiinsDriver(config);
    case 'whatsminer':
      return createWhatsminerDriver(config);
  }
}

/** Credentials each firmware ships with; fleets override them with a Secret. */
export const FACTORY_CREDENTIALS: Readonly<Record<MinerDriverName, { username: string; password: string }>> =
  {
    antminer: { username: 'root', password: 'root' },
    luxos: { username: 'root', password: 'root' },
    braiins: { username: 'root', password: 'root' },
    whatsminer: { username: 'admin', password: 'admin' },
  };
