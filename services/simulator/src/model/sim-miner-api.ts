// The contract between the simulator's physical model (one SimMiner per simulated ASIC) and
// the protocol servers that speak each firmware's API on the miner's own loopback address.
// Protocol servers only read observations and call controls; they never compute physics.
import type { MinerDriverName, PowerProfile } from '@switchyard/domain';

export type SimMinerState = 'hashing' | 'sleeping' | 'ramping' | 'fault' | 'offline';

/** Ways a simulated miner misbehaves on the wire or physically (see docs/simulator.md). */
export type SimFault =
  | 'timeout' // accepts connections, never answers
  | 'refuse' // connections are refused (listener closed) or reset at once
  | 'garbage' // answers random bytes
  | 'truncate' // answers the first part of a valid reply, then closes
  | 'slow-drip' // answers one byte every 500 ms
  | 'oversized' // answers more than 1 MiB
  | 'stuck-ramp' // a wake never finishes ramping
  | 'ignore-commands' // acknowledges control commands over the wire and does nothing
  | 'reboot'; // goes offline for rebootSeconds, then boots hashing

export interface SimBoard {
  index: number;
  hashrateThs: number;
  chips: number;
  chipTempsC: number[]; // a few sensors per board
  boardTempC: number;
}

export interface SimObservation {
  state: SimMinerState;
  /** True draw at the wall now (W). */
  powerW: number;
  /** 5-second hashrate and average since boot (TH/s). */
  hashrateThs: number;
  hashrateAvgThs: number;
  boards: SimBoard[];
  fans: number[];
  /** Seconds since the mining process started (resets on wake and reboot). */
  uptimeS: number;
  /** The active profile name, or null when running on a power target. */
  profile: string | null;
  powerTargetW: number | null;
  /** Fraction of full power set by Whatsminer set_power_pct (0-100), else null. */
  powerPercent: number | null;
  ambientC: number;
  accepted: number;
  rejected: number;
  /** Seconds until hashrate is stable after a wake (Whatsminer "Hash Stable Cost Seconds"). */
  rampRemainingS: number;
  /** Why the miner is faulted or throttling, if it is. */
  reasons: string[];
}

export interface SimMinerIdentity {
  fleet: string;
  /** The fleet's address (e.g. 10.11.0.7) and the loopback address it is served on. */
  farmHost: string;
  simHost: string;
  driver: MinerDriverName;
  make: 'Bitmain' | 'MicroBT';
  model: string;
  firmwareVersion: string;
  mac: string;
  hostname: string;
  serial: string;
  profiles: readonly PowerProfile[];
  nameplateW: number;
  sleepW: number;
  powerTargetBoundsW: { min: number; max: number };
  /**
   * The miner's main API port as the farm file gives it (spec.endpoints.port or the address's
   * ":port"; otherwise the driver's default: 4028, or 80 for braiins). Servers listen on
   * portMap(port) for it; other ports (Antminer web 80, Whatsminer v3 4433) are fixed.
   */
  port?: number;
}

export interface SimMinerView {
  readonly id: SimMinerIdentity;
  /** Physical state at the current simulated time. */
  observe(): SimObservation;
  /** Controls. Each is idempotent: sleeping a sleeping miner changes nothing. */
  sleep(): void;
  wake(): void;
  /** Returns an error message when the profile is unknown. */
  setProfile(name: string): string | null;
  /** Returns an error message when out of bounds. */
  setPowerTarget(watts: number): string | null;
  setPowerPercent(percent: number): string | null;
  reboot(): void;
  /** The active wire fault, if any (protocol servers consult it on every connection). */
  readonly fault: SimFault | null;
  /** Probability (0-1) that a reply uses one of the firmware's broken-JSON variants. */
  readonly quirkRate: number;
  /** Deterministic per-miner random numbers in [0, 1). */
  random(): number;
  /**
   * The current simulated time (ms since the Unix epoch), for timestamps in replies ("When").
   * Optional: test doubles may omit it. Protocol timeouts (sessions, tokens) are real time.
   */
  simNow?(): number;
  /** Credentials the firmware accepts (web UI, LuxOS, Braiins, Whatsminer admin). */
  readonly credentials: { username: string; password: string };
}
