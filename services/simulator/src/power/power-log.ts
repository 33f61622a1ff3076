// The ground-truth power log: every sample of every site's power tree, kept in memory (bounded)
// for the HTTP API and optionally written as JSON lines (one header line, then one line per
// site per sample, and event lines for faults, controls, ambient and speed changes).
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { PowerSample, PowerTree, SiteTree } from './power-tree.ts';
import { round3 } from './power-tree.ts';

export interface Violation {
  t: number;
  site: string;
  node: string;
  kw: number;
  limitKw: number;
  /** 'limit': over limitKw; 'margin': over limitKw less the safety margin. */
  kind: 'limit' | 'margin';
}

export interface ViolationSummary {
  site: string;
  node: string;
  kind: 'limit' | 'margin';
  count: number;
  firstT: number;
  lastT: number;
  maxKw: number;
  limitKw: number;
}

class Ring<T> {
  readonly #items: Array<T | undefined>;
  #start = 0;
  #size = 0;
  constructor(capacity: number) {
    this.#items = new Array<T | undefined>(Math.max(1, capacity));
  }
  push(x: T): void {
    const cap = this.#items.length;
    if (this.#size < cap) {
      this.#items[(this.#start + this.#size) % cap] = x;
      this.#size++;
    } else {
      this.#items[this.#start] = x;
      this.#start = (this.#start + 1) % cap;
    }
  }
  toArray(): T[] {
    const out: T[] = [];
    const cap = this.#items.length;
    for (let i = 0; i < this.#size; i++) out.push(this.#items[(this.#start + i) % cap] as T);
    return out;
  }
  last(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[(this.#start + this.#size - 1) % this.#items.length];
  }
}

export interface PowerLogOptions {
  /** Samples kept in memory per site (default 3600: an hour at 1 Hz). */
  historyLimit?: number;
  /** Violations kept in memory (default 100,000; later ones are counted in the summary only). */
  violationLimit?: number;
  /** JSON-lines file to write. */
  file?: string | undefined;
}

export class PowerLog {
  readonly tree: PowerTree;
  readonly #history: Ring<PowerSample>[];
  readonly #violations: Violation[] = [];
  readonly #violationLimit: number;
  #dropped = 0;
  readonly #summary = new Map<string, ViolationSummary>();
  readonly #stream: WriteStream | undefined;
  #streamError: Error | undefined;
  #samples = 0;
  #closed = false;

  constructor(tree: PowerTree, opts: PowerLogOptions = {}) {
    this.tree = tree;
    this.#history = tree.sites.map(() => new Ring<PowerSample>(opts.historyLimit ?? 3600));
    this.#violationLimit = opts.violationLimit ?? 100_000;
    if (opts.file) {
      this.#stream = createWriteStream(opts.file, { flags: 'w' });
      this.#stream.on('error', (e) => {
        this.#streamError = e;
      });
    }
  }

  get file(): string | undefined {
    return this.#stream?.path.toString();
  }

  /** Writes the header line (the tree, limits and what the numbers mean). */
  writeHeader(meta: Record<string, unknown>): void {
    this.#write({
      type: 'header',
      version: 1,
      units: { t: 'sim ms since the Unix epoch', kw: 'kW at the wall (IT load, before PUE)' },
      ...meta,
      sites: this.tree.sites.map((s) => ({
        site: s.site,
        interconnectKw: s.interconnectKw,
        safetyMarginPct: s.safetyMarginPct,
        pue: s.pue,
        nodes: s.nodes.map((n) => ({
          name: n.name,
          type: n.type,
          parent: n.parent,
          limitKw: n.limitKw,
          marginLimitKw: n.marginLimitKw,
        })),
      })),
    });
  }

  /** An event line (fault injected, control, ambient or speed change). */
  writeEvent(t: number, event: string, detail: Record<string, unknown>): void {
    this.#write({ type: 'event', t: Math.round(t), event, ...detail });
  }

  record(samples: readonly PowerSample[]): void {
    for (const s of samples) {
      this.#samples++;
      (this.#history[s.site] as Ring<PowerSample>).push(s);
      const st = this.tree.sites[s.site] as SiteTree;
      for (const i of s.over) this.#violation(st, s, i, 'limit');
      for (const i of s.overMargin) this.#violation(st, s, i, 'margin');
      if (this.#stream) this.#write(sampleLine(st, s));
    }
  }

  get sampleCount(): number {
    return this.#samples;
  }

  latest(site: number): PowerSample | undefined {
    return this.#history[site]?.last();
  }

  /** A node's samples after `since` (oldest first, at most `limit`), or the latest `limit`. */
  history(
    site: number,
    node: number,
    since: number | undefined,
    limit: number,
  ): Array<{ t: number; kw: number }> {
    const all = this.#history[site]?.toArray() ?? [];
    const picked = since === undefined ? all.slice(-limit) : all.filter((s) => s.t > since).slice(0, limit);
    return picked.map((s) => ({ t: s.t, kw: round3(s.kw[node] as number) }));
  }

  violations(filter: {
    kind?: 'limit' | 'margin';
    since?: number;
    node?: string;
    limit: number;
  }): Violation[] {
    const out: Violation[] = [];
    for (const v of this.#violations) {
      if (filter.kind && v.kind !== filter.kind) continue;
      if (filter.since !== undefined && v.t <= filter.since) continue;
      if (filter.node !== undefined && v.node !== filter.node) continue;
      out.push(v);
      if (out.length >= filter.limit) break;
    }
    return out;
  }

  violationSummary(): { summary: ViolationSummary[]; kept: number; dropped: number } {
    return { summary: [...this.#summary.values()], kept: this.#violations.length, dropped: this.#dropped };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const s = this.#stream;
    if (!s || s.destroyed) return;
    s.end();
    await once(s, 'close').catch(() => undefined);
    if (this.#streamError) throw this.#streamError;
  }

  #violation(st: SiteTree, s: PowerSample, i: number, kind: 'limit' | 'margin'): void {
    const n = st.nodes[i];
    if (!n) return;
    const kw = round3(s.kw[i] as number);
    const limitKw = kind === 'limit' ? n.limitKw : n.marginLimitKw;
    if (this.#violations.length < this.#violationLimit)
      this.#violations.push({ t: s.t, site: st.site, node: n.name, kw, limitKw, kind });
    else this.#dropped++;
    const key = `${st.site}/${n.name}/${kind}`;
    const sum = this.#summary.get(key);
    if (sum) {
      sum.count++;
      sum.lastT = s.t;
      sum.maxKw = Math.max(sum.maxKw, kw);
    } else {
      this.#summary.set(key, {
        site: st.site,
        node: n.name,
        kind,
        count: 1,
        firstT: s.t,
        lastT: s.t,
        maxKw: kw,
        limitKw,
      });
    }
  }

  #write(obj: unknown): void {
    if (!this.#stream || this.#closed || this.#streamError) return;
    this.#stream.write(`${JSON.stringify(obj)}\n`);
  }
}

export function sampleLine(st: SiteTree, s: PowerSample): Record<string, unknown> {
  const kw: Record<string, number> = {};
  st.nodes.forEach((n, i) => {
    kw[n.name] = round3(s.kw[i] as number);
  });
  return {
    type: 'sample',
    t: s.t,
    site: st.site,
    kw,
    over: s.over.map((i) => st.nodes[i]?.name),
    overMargin: s.overMargin.map((i) => st.nodes[i]?.name),
  };
}
