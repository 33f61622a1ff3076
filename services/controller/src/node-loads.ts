// Observed load on every power-tree node of a site, and the watch that calls for a cycle when a
// node is loaded past what any plan allows. Pure.
//
// A node's load is the miners' draw rolled up the tree (as the poller reports it, unread miners
// at nameplate) plus each GPU pool's draw along its feed's ancestry (see gpu-draw.ts).
import { walkPowerTree, type Farm } from '@switchyard/domain';
import type { PollResult } from '@switchyard/miners';
import type { GpuDraw } from './gpu-draw.ts';

export interface NodeLoad {
  node: string;
  /** Observed IT load, descendants included (kW). */
  loadKw: number;
  /** The node's continuous rating (kW). */
  limitKw: number;
}

/** A reader of the site's node loads from one poll and the GPU draw at the same time. */
export function nodeLoadReader(farm: Farm, site: string): (result: PollResult, gpu: GpuDraw) => NodeLoad[] {
  const siteSpec = farm.sites.find((s) => s.metadata.name === site);
  const tree = siteSpec ? walkPowerTree(siteSpec.spec.powerTree) : [];
  const parentOf = new Map(tree.map((e) => [e.node.name, e.parent?.name]));
  return (result, gpu) => {
    const load = new Map(tree.map((e) => [e.node.name, 0]));
    for (const n of result.nodes) if (n.site === site) load.set(n.node, n.powerKw);
    for (const [feed, kw] of gpu.byFeed)
      for (let n: string | undefined = feed; n !== undefined; n = parentOf.get(n))
        load.set(n, (load.get(n) ?? 0) + kw);
    return tree.map((e) => ({
      node: e.node.name,
      loadKw: load.get(e.node.name) ?? 0,
      limitKw: e.node.limitKw,
    }));
  };
}

export interface OverLimitOptions {
  /** A node still over after this long is reported again (default 30 s). */
  repeatMs?: number;
}

/**
 * Every plan holds each node at limit × (1 − margin), counting in-flight commands at their worst
 * case, so an observed load halfway into the margin — above limit × (1 − margin / 2) — is one no
 * plan allowed: miners woken by hand, a device drawing past its rating, a plan's commands
 * landing after it was abandoned. `check` reports such a node once per excursion: again only
 * after it has come back below the threshold by 1 % of the limit (never lower than the plans'
 * cap), or after `repeatMs` still over.
 */
export class OverLimitWatch {
  readonly #repeatMs: number;
  /** Node → when it was last reported. */
  readonly #reported = new Map<string, number>();

  constructor(opts: OverLimitOptions = {}) {
    this.#repeatMs = opts.repeatMs ?? 30_000;
  }

  /** The nodes to act on now, from loads observed at `now` under a safety margin of `marginPct`. */
  check(loads: readonly NodeLoad[], marginPct: number, now: number): NodeLoad[] {
    const margin = Math.min(Math.max(marginPct, 0), 100) / 100;
    const out: NodeLoad[] = [];
    for (const l of loads) {
      const threshold = l.limitKw * (1 - margin / 2);
      const rearm = Math.max(l.limitKw * (1 - margin), threshold - l.limitKw * 0.01);
      const since = this.#reported.get(l.node);
      if (l.loadKw <= rearm) {
        this.#reported.delete(l.node);
        continue;
      }
      if (l.loadKw <= threshold) continue;
      if (since !== undefined && now - since < this.#repeatMs) continue;
      this.#reported.set(l.node, now);
      out.push(l);
    }
    return out;
  }

  /** Forgets every excursion (a new leader starts afresh). */
  reset(): void {
    this.#reported.clear();
  }
}
