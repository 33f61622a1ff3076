// The controller's memory of the device commands it has sent and not yet seen in telemetry.
// Between cycles the observed state comes from the last poll, which lags the commands: a miner
// told to wake a second ago still reads asleep. Until telemetry shows a command took effect (or
// the entry expires) the miner counts as in flight at max(old, new) draw, and no later step picks
// it again. Pure: the caller passes the clock and the telemetry.
import { ASLEEP, type FleetTransition, type InFlightCommands } from '@switchyard/domain';
import type { FleetMiners, MinerView } from './miner-selection.ts';

interface Entry {
  from: string;
  to: string;
  /** When the command was handed to the queues (epoch ms). */
  at: number;
  /**
   * When the command's job is known to be over (finished, or fenced off), so that a poll started
   * after it shows the truth: an entry such a poll does not confirm is dropped.
   */
  doneAt?: number;
  /**
   * The job was fenced off (preempted, timed out, or its leader replaced) rather than finished.
   * A fenced shed no longer holds its miner: the miner counts at its observed state, whose draw
   * is the higher of the two anyway, and a later plan may send the command again, which the miner
   * takes as a no-op if the first one landed after all. A fenced wake or raise stays in flight
   * (at its higher, new draw) until a poll begun after `doneAt` shows the truth.
   */
  fenced?: boolean;
  /** The command lowers the miner's draw (a sleep, or a lower profile in a shed phase). */
  shed: boolean;
}

/** A shed whose job was fenced off: not outstanding for selection or for the sequencer. */
const released = (e: Entry): boolean => e.fenced === true && e.shed;

export interface ActionLogOptions {
  /** An entry telemetry has not confirmed is dropped after this long (default 60 s). */
  ttlMs?: number;
  /**
   * A profile change is held this long at least even when the miner already reports the new
   * profile, since its draw moves over seconds (default 15 s).
   */
  profileHoldMs?: number;
}

/** True when a miner's telemetry shows the commanded slot (its draw is the sequencer's business). */
function reflects(m: MinerView | undefined, e: Entry, now: number, profileHoldMs: number): boolean {
  if (!m) return false;
  if (e.to === ASLEEP) return m.state === 'sleeping';
  if (e.from === ASLEEP) return m.state === 'hashing' || m.state === 'ramping';
  return m.state === 'hashing' && m.profile === e.to && now - e.at >= profileHoldMs;
}

export class ActionLog {
  readonly #fleets = new Map<string, Map<string, Entry>>();
  readonly #ttlMs: number;
  readonly #profileHoldMs: number;

  constructor(opts: ActionLogOptions = {}) {
    this.#ttlMs = opts.ttlMs ?? 60_000;
    this.#profileHoldMs = opts.profileHoldMs ?? 15_000;
  }

  /**
   * Notes commands about to be sent to `hosts` of `fleet`. A newer command replaces an older.
   * `shed` says the command lowers the draw (a sleep always does).
   */
  record(
    fleet: string,
    hosts: Iterable<string>,
    from: string,
    to: string,
    at: number,
    shed = to === ASLEEP,
  ): void {
    let m = this.#fleets.get(fleet);
    if (!m) this.#fleets.set(fleet, (m = new Map()));
    for (const h of hosts) m.set(h, { from, to, at, shed });
  }

  /**
   * Marks the commands sent at or before `sentBy` as over at `doneAt`: their jobs finished, or
   * (`fenced`) were fenced off and can no longer actuate after `doneAt`.
   */
  finish(sentBy: number, doneAt: number, fenced = false): void {
    for (const m of this.#fleets.values())
      for (const e of m.values())
        if (e.at <= sentBy && e.doneAt === undefined) {
          e.doneAt = doneAt;
          if (fenced) e.fenced = true;
        }
  }

  /**
   * Drops entries the telemetry now reflects, expired ones, and those whose job was over before
   * the poll began (`polledAt`): that poll saw whatever the command did.
   */
  settle(fleet: string, miners: FleetMiners, now: number, polledAt = -Infinity): void {
    const m = this.#fleets.get(fleet);
    if (!m) return;
    for (const [host, e] of m) {
      if (
        now - e.at > this.#ttlMs ||
        (e.doneAt !== undefined && e.doneAt < polledAt) ||
        reflects(miners[host], e, now, this.#profileHoldMs)
      )
        m.delete(host);
    }
    if (m.size === 0) this.#fleets.delete(fleet);
  }

  /** Hosts of a fleet with a command outstanding (a fenced sleep is not). */
  pending(fleet: string): Set<string> {
    const hosts = new Set<string>();
    for (const [host, e] of this.#fleets.get(fleet) ?? []) if (!released(e)) hosts.add(host);
    return hosts;
  }

  /** Outstanding commands counted per fleet and transition, for the sequencer's `inFlight`. */
  inFlight(): InFlightCommands {
    const fleets: Record<string, FleetTransition[]> = {};
    for (const [fleet, m] of [...this.#fleets].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const byKey = new Map<string, FleetTransition>();
      for (const e of m.values()) {
        if (released(e)) continue;
        const k = `${e.from}>${e.to}`;
        const t = byKey.get(k);
        if (t) {
          t.count += 1;
          t.since = Math.min(t.since, e.at);
        } else byKey.set(k, { from: e.from, to: e.to, count: 1, since: e.at });
      }
      fleets[fleet] = [...byKey.keys()].sort().map((k) => byKey.get(k) as FleetTransition);
    }
    return { fleets };
  }

  /** Miners with a command outstanding, over all fleets. */
  size(): number {
    let n = 0;
    for (const m of this.#fleets.values()) n += m.size;
    return n;
  }
}
