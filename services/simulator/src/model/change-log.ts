// The ground-truth log of device changes: every command that actually changed a simulated miner
// (sleep, wake, profile, power target or percent, reboot) or GPU node (mode), with the wall-clock
// time it reached the device, and a separate count of commands that changed nothing (a sleep to
// a sleeping miner). Tests and benchmarks read it to time "dispatch → first device command" and
// to prove that retried commands never flipped a device twice, from the devices' side rather
// than from the controller's own records.
//
// Times are wall-clock milliseconds (Date.now()), not simulated time: the simulated clock may run
// faster than real time, while the controller and the test measure real time. Both rings are
// fixed-size (oldest first out), so memory stays bounded however many commands arrive; recording
// costs a few array writes and nothing is recorded for reads of telemetry.

export const CHANGE_KINDS = [
  'sleep',
  'wake',
  'profile',
  'power-target',
  'power-percent',
  'reboot',
  'gpu-mode',
] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export const CHANGE_VIAS = ['protocol', 'control'] as const;
/**
 * How a command reached the device: `protocol` through its firmware API (or, for GPU nodes, the
 * mode endpoint the cluster driver uses); `control` through the simulator's own control API
 * (POST /sim/miners/control) or fault injection.
 */
export type ChangeVia = (typeof CHANGE_VIAS)[number];

export interface ChangeEntry {
  /** Wall-clock ms since the Unix epoch (Date.now()). */
  at: number;
  /** The miner's farm address, or the GPU node's name. */
  host: string;
  kind: ChangeKind;
  via: ChangeVia;
}

export interface ChangeQuery {
  /** Only changes at or after this wall-clock time (ms since the epoch). */
  sinceMs?: number | undefined;
  /** Only this device: a miner's farm or loopback address, or a GPU node's name. */
  host?: string | undefined;
  /** Only changes that came this way. */
  via?: ChangeVia | undefined;
  /** Entries listed at most (the earliest ones; default 20,000). Counts are never limited. */
  limit?: number | undefined;
}

/** What one log (one miner host, or the GPU nodes) answers; merged by mergeChangeSlices. */
export interface ChangeSlice {
  total: number;
  first: ChangeEntry | null;
  last: ChangeEntry | null;
  byKind: Record<ChangeKind, number>;
  noops: Record<ChangeKind, number>;
  /** The earliest matching changes, oldest first, at most the query's limit. */
  entries: ChangeEntry[];
  /** True when more changes matched than entries lists. */
  truncated: boolean;
  /** Changes evicted from memory that the query could have matched (0: the counts are complete). */
  dropped: number;
}

export interface ChangeReport {
  total: number;
  first: ChangeEntry | null;
  last: ChangeEntry | null;
  byKind: Record<ChangeKind, number>;
  noops: Record<ChangeKind, number>;
  /** Per device (farm address or GPU node), its changes oldest first; only devices with changes. */
  perMiner: Record<string, Array<{ at: number; kind: ChangeKind; via: ChangeVia }>>;
  /** True when perMiner lists fewer changes than total (the query's limit). */
  truncated: boolean;
  dropped: number;
}

export const DEFAULT_CHANGE_CAPACITY = 200_000;
export const DEFAULT_CHANGE_QUERY_LIMIT = 20_000;
export const MAX_CHANGE_QUERY_LIMIT = 200_000;

const KIND_INDEX = Object.fromEntries(CHANGE_KINDS.map((k, i) => [k, i])) as Record<ChangeKind, number>;
const VIA_BIT = 0x80;

export function zeroByKind(): Record<ChangeKind, number> {
  const out = {} as Record<ChangeKind, number>;
  for (const k of CHANGE_KINDS) out[k] = 0;
  return out;
}

/** A fixed-capacity ring of (time, device, kind, via), overwriting the oldest. */
class ChangeRing {
  readonly capacity: number;
  readonly #at: Float64Array;
  /** Kind index, with VIA_BIT set for `control`. */
  readonly #code: Uint8Array;
  readonly #host: string[];
  #next = 0;
  #size = 0;
  #evicted = 0;
  #evictedThrough = -Infinity;

  constructor(capacity: number) {
    this.capacity = Math.max(1, Math.floor(capacity));
    this.#at = new Float64Array(this.capacity);
    this.#code = new Uint8Array(this.capacity);
    this.#host = new Array<string>(this.capacity).fill('');
  }

  push(at: number, host: string, code: number): void {
    const i = this.#next;
    if (this.#size === this.capacity) {
      this.#evicted++;
      const old = this.#at[i] as number;
      if (old > this.#evictedThrough) this.#evictedThrough = old;
    } else {
      this.#size++;
    }
    this.#at[i] = at;
    this.#code[i] = code;
    this.#host[i] = host;
    this.#next = i + 1 === this.capacity ? 0 : i + 1;
  }

  get size(): number {
    return this.#size;
  }

  /** Evicted entries that a query from sinceMs could have matched (all evicted ones, or 0). */
  droppedSince(sinceMs: number): number {
    return this.#evicted > 0 && this.#evictedThrough >= sinceMs ? this.#evicted : 0;
  }

  /** Calls fn for each entry, oldest first. */
  forEach(fn: (at: number, host: string, code: number) => void): void {
    const start = this.#size === this.capacity ? this.#next : 0;
    for (let n = 0; n < this.#size; n++) {
      let i = start + n;
      if (i >= this.capacity) i -= this.capacity;
      fn(this.#at[i] as number, this.#host[i] as string, this.#code[i] as number);
    }
  }
}

export interface ChangeLogOptions {
  /** Changes kept in memory (default 200,000); no-ops are kept in a second ring of the same size. */
  capacity?: number;
  /** Wall clock (default Date.now). */
  now?: () => number;
}

export class ChangeLog {
  readonly capacity: number;
  readonly #changes: ChangeRing;
  readonly #noops: ChangeRing;
  readonly #now: () => number;

  constructor(opts: ChangeLogOptions = {}) {
    this.capacity = Math.max(1, Math.floor(opts.capacity ?? DEFAULT_CHANGE_CAPACITY));
    this.#changes = new ChangeRing(this.capacity);
    this.#noops = new ChangeRing(this.capacity);
    this.#now = opts.now ?? Date.now;
  }

  /** A command changed the device. */
  record(host: string, kind: ChangeKind, via: ChangeVia): void {
    this.#changes.push(this.#now(), host, code(kind, via));
  }

  /** A command reached the device and changed nothing (e.g. sleep to a sleeping miner). */
  noop(host: string, kind: ChangeKind, via: ChangeVia): void {
    this.#noops.push(this.#now(), host, code(kind, via));
  }

  /** Changes and no-ops held in memory. */
  get size(): { changes: number; noops: number } {
    return { changes: this.#changes.size, noops: this.#noops.size };
  }

  /** The matching changes and no-op counts. `q.host` must be the name changes were recorded under. */
  query(q: ChangeQuery = {}): ChangeSlice {
    const since = q.sinceMs ?? -Infinity;
    const host = q.host;
    const via = q.via === undefined ? -1 : q.via === 'control' ? VIA_BIT : 0;
    const limit = changeQueryLimit(q.limit);
    const byKind = zeroByKind();
    const noops = zeroByKind();
    const entries: ChangeEntry[] = [];
    let total = 0;
    let first: ChangeEntry | null = null;
    let last: ChangeEntry | null = null;
    this.#changes.forEach((at, h, c) => {
      if (at < since || (host !== undefined && h !== host) || (via >= 0 && (c & VIA_BIT) !== via)) return;
      total++;
      const e = toEntry(at, h, c);
      byKind[e.kind]++;
      if (entries.length < limit) entries.push(e);
      if (first === null || at < first.at) first = e;
      if (last === null || at >= last.at) last = e;
    });
    this.#noops.forEach((at, h, c) => {
      if (at < since || (host !== undefined && h !== host) || (via >= 0 && (c & VIA_BIT) !== via)) return;
      noops[kindOf(c)]++;
    });
    entries.sort(byTime);
    return {
      total,
      first,
      last,
      byKind,
      noops,
      entries,
      truncated: total > entries.length,
      dropped: this.#changes.droppedSince(since),
    };
  }
}

/** Clamps a query's limit to [0, MAX_CHANGE_QUERY_LIMIT] (default DEFAULT_CHANGE_QUERY_LIMIT). */
export function changeQueryLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_CHANGE_QUERY_LIMIT;
  return Math.max(0, Math.min(MAX_CHANGE_QUERY_LIMIT, Math.floor(limit)));
}

/** Several logs' answers as one (counts summed, entries merged by time and cut to limit). */
export function mergeChangeSlices(slices: readonly ChangeSlice[], limit?: number): ChangeSlice {
  const max = changeQueryLimit(limit);
  const byKind = zeroByKind();
  const noops = zeroByKind();
  let total = 0;
  let dropped = 0;
  let truncated = false;
  let first: ChangeEntry | null = null;
  let last: ChangeEntry | null = null;
  const entries: ChangeEntry[] = [];
  for (const s of slices) {
    total += s.total;
    dropped += s.dropped;
    truncated ||= s.truncated;
    for (const k of CHANGE_KINDS) {
      byKind[k] += s.byKind[k] ?? 0;
      noops[k] += s.noops[k] ?? 0;
    }
    if (s.first && (first === null || s.first.at < first.at)) first = s.first;
    if (s.last && (last === null || s.last.at >= last.at)) last = s.last;
    for (const e of s.entries) entries.push(e);
  }
  entries.sort(byTime);
  if (entries.length > max) {
    entries.length = max;
    truncated = true;
  }
  return {
    total,
    first,
    last,
    byKind,
    noops,
    entries,
    truncated: truncated || total > entries.length,
    dropped,
  };
}

/** The HTTP and FarmSimulator.changes() shape: entries grouped per device. */
export function toChangeReport(s: ChangeSlice): ChangeReport {
  const perMiner: ChangeReport['perMiner'] = {};
  for (const e of s.entries) (perMiner[e.host] ??= []).push({ at: e.at, kind: e.kind, via: e.via });
  return {
    total: s.total,
    first: s.first,
    last: s.last,
    byKind: s.byKind,
    noops: s.noops,
    perMiner,
    truncated: s.truncated,
    dropped: s.dropped,
  };
}

function code(kind: ChangeKind, via: ChangeVia): number {
  return KIND_INDEX[kind] | (via === 'control' ? VIA_BIT : 0);
}

function kindOf(c: number): ChangeKind {
  return CHANGE_KINDS[c & ~VIA_BIT] as ChangeKind;
}

function toEntry(at: number, host: string, c: number): ChangeEntry {
  return { at, host, kind: kindOf(c), via: c & VIA_BIT ? 'control' : 'protocol' };
}

function byTime(a: ChangeEntry, b: ChangeEntry): number {
  return a.at - b.at;
}
