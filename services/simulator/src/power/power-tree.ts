// The ground truth of the farm's power: each power-tree node carries the sum of the true draw
// of every miner and GPU node fed through it (at the wall, IT load, before PUE), compared with
// the node's limit and with the limit less the site policy's safety margin.
import { walkPowerTree, type Farm } from '@switchyard/domain';

export interface TreeNodeInfo {
  name: string;
  type: string | null;
  parent: string | null;
  depth: number;
  limitKw: number;
  /** limitKw × (1 − safetyMarginPct/100). */
  marginLimitKw: number;
}

export interface SiteTree {
  site: string;
  interconnectKw: number;
  safetyMarginPct: number;
  pue: number;
  /** Depth-first, the root first. */
  nodes: TreeNodeInfo[];
  index: Map<string, number>;
}

export interface PowerSample {
  t: number;
  site: number;
  /** kW per node, in SiteTree.nodes order. */
  kw: Float64Array;
  /** Indices of nodes over limitKw, and over the margin limit. */
  over: number[];
  overMargin: number[];
}

export const DEFAULT_SAFETY_MARGIN_PCT = 5;

export class PowerTree {
  readonly sites: SiteTree[] = [];
  readonly fleetNames: string[];
  readonly poolNames: string[];
  /** Per fleet / pool: [site index, node indices of its feed and every ancestor]. */
  readonly #fleetPath: Array<[number, number[]]>;
  readonly #poolPath: Array<[number, number[]]>;

  constructor(farm: Farm) {
    for (const s of farm.sites) {
      const policy = farm.policies.find((p) => p.spec.site === s.metadata.name);
      const margin = policy?.spec.safetyMarginPct ?? DEFAULT_SAFETY_MARGIN_PCT;
      const nodes: TreeNodeInfo[] = walkPowerTree(s.spec.powerTree).map((e) => ({
        name: e.node.name,
        type: e.node.type ?? null,
        parent: e.parent?.name ?? null,
        depth: e.depth,
        limitKw: e.node.limitKw,
        marginLimitKw: round3(e.node.limitKw * (1 - margin / 100)),
      }));
      this.sites.push({
        site: s.metadata.name,
        interconnectKw: s.spec.interconnectKw,
        safetyMarginPct: margin,
        pue: s.spec.pue,
        nodes,
        index: new Map(nodes.map((n, i) => [n.name, i])),
      });
    }
    const pathOf = (site: string, feed: string): [number, number[]] => {
      const si = this.sites.findIndex((s) => s.site === site);
      const st = this.sites[si];
      if (!st) throw new Error(`unknown site "${site}"`);
      const out: number[] = [];
      let cur: string | null = feed;
      while (cur !== null) {
        const i = st.index.get(cur);
        if (i === undefined) throw new Error(`"${cur}" is not a node of site ${site}`);
        out.push(i);
        cur = (st.nodes[i] as TreeNodeInfo).parent;
      }
      return [si, out];
    };
    this.fleetNames = farm.fleets.map((f) => f.metadata.name);
    this.poolNames = farm.pools.map((p) => p.metadata.name);
    this.#fleetPath = farm.fleets.map((f) => pathOf(f.spec.site, f.spec.feed));
    this.#poolPath = farm.pools.map((p) => pathOf(p.spec.site, p.spec.feed));
  }

  /** One sample per site from the fleets' draw (W, in fleetNames order) and pools' draw (kW). */
  compute(t: number, fleetW: ArrayLike<number>, poolKw: ArrayLike<number>): PowerSample[] {
    const kw = this.sites.map((s) => new Float64Array(s.nodes.length));
    const add = (paths: Array<[number, number[]]>, values: ArrayLike<number>, scale: number) => {
      for (let i = 0; i < paths.length; i++) {
        const [si, path] = paths[i] as [number, number[]];
        const v = (values[i] as number) * scale;
        const arr = kw[si] as Float64Array;
        for (const n of path) arr[n] = (arr[n] as number) + v;
      }
    };
    add(this.#fleetPath, fleetW, 0.001);
    add(this.#poolPath, poolKw, 1);
    return this.sites.map((s, si) => {
      const arr = kw[si] as Float64Array;
      const over: number[] = [];
      const overMargin: number[] = [];
      s.nodes.forEach((n, i) => {
        const v = arr[i] as number;
        if (v > n.limitKw) over.push(i);
        if (v > n.marginLimitKw) overMargin.push(i);
      });
      return { t, site: si, kw: arr, over, overMargin };
    });
  }

  siteIndex(site: string): number {
    return this.sites.findIndex((s) => s.site === site);
  }
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
