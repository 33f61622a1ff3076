// The MinerDriver interface, as the poller, the CLI and the workers use it. Every call has a
// timeout and a bounded reply size (DriverOptions); failures are MinerErrors with a code.
import type { MinerDriverName } from '@switchyard/domain';
import type { MinerTelemetry } from './telemetry.ts';

export interface MinerIdentity {
  driver: MinerDriverName;
  make: string | null;
  model: string | null;
  firmware: string | null;
  hostname: string | null;
  mac: string | null;
}

export interface MinerCapabilities {
  sleep: boolean;
  wake: boolean;
  /** Power target in watts, with the firmware's bounds; null when not supported. */
  powerTarget: { minW: number; maxW: number } | null;
  /** Named profiles the firmware accepts; null when not supported. */
  profiles: string[] | null;
  /** A coarse power percentage (Whatsminer set_power_pct); null when not supported. */
  powerPercent: { min: number; max: number } | null;
}

export interface MinerCredentials {
  username: string;
  password: string;
}

export interface DriverOptions {
  host: string;
  /** The main API port (4028 for RPC firmwares, 80 for Braiins REST). */
  port?: number | undefined;
  /** Extra ports some firmwares use: Antminer's web UI (80), Whatsminer API v3 (4433). */
  webPort?: number | undefined;
  v3Port?: number | undefined;
  /** Per-call timeout, from connect to last byte (default 3000 ms). */
  timeoutMs?: number | undefined;
  /** Largest reply accepted (default 1 MiB); a bigger one fails with 'reply-too-large'. */
  maxReplyBytes?: number | undefined;
  credentials?: MinerCredentials | undefined;
  /** Nameplate draw, used to estimate power when the firmware reports none. */
  nameplateW?: number | undefined;
}

export interface ReadOptions {
  /**
   * 'full' (default) reads everything the firmware reports. 'basic' is for fleet polling: state,
   * hashrate, power and temperatures are always current; pools and fans may be left empty and
   * slowly changing settings (a stock Antminer's miner-mode) may come from a cache of at most a
   * minute that the driver's own commands keep current.
   */
  detail?: 'full' | 'basic';
}

/** What a state-checked control call did: sent the command, or found the miner already there. */
export type ControlOutcome = 'applied' | 'already';

export interface MinerDriver {
  readonly name: MinerDriverName;
  readonly host: string;
  readonly port: number;
  identify(): Promise<MinerIdentity>;
  read(options?: ReadOptions): Promise<MinerTelemetry>;
  /**
   * Sleep and wake read the miner's state first and send nothing when it is already there
   * (product safety rule 6): 'already' says so, 'applied' that the command was sent.
   */
  sleep(): Promise<ControlOutcome>;
  wake(): Promise<ControlOutcome>;
  setPowerTarget?(watts: number): Promise<void>;
  setProfile?(name: string): Promise<void>;
  setPowerPercent?(percent: number): Promise<void>;
  capabilities(): Promise<MinerCapabilities>;
  /** Releases sessions, tokens and sockets. Idempotent. */
  close(): Promise<void>;
}

export const MINER_ERROR_CODES = [
  'timeout', // no complete reply in time (includes slow-drip replies)
  'refused', // connection refused or reset
  'unreachable', // host unreachable, DNS failure
  'reply-too-large', // over maxReplyBytes
  'malformed', // not parseable even leniently, or truncated
  'protocol', // parseable but not this firmware's protocol
  'auth', // credentials rejected, session or token problems
  'rejected', // the firmware answered with an error status
  'unsupported', // the firmware or model does not have this control
  'invalid-argument', // a value outside the firmware's bounds
] as const;
export type MinerErrorCode = (typeof MINER_ERROR_CODES)[number];

export class MinerError extends Error {
  readonly code: MinerErrorCode;
  readonly host: string;
  constructor(code: MinerErrorCode, host: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MinerError';
    this.code = code;
    this.host = host;
  }
  /** Errors after which retrying the same call cannot succeed. */
  get permanent(): boolean {
    return this.code === 'unsupported' || this.code === 'invalid-argument' || this.code === 'auth';
  }
}

export const DEFAULT_TIMEOUT_MS = 3000;
export const DEFAULT_MAX_REPLY_BYTES = 1024 * 1024;
