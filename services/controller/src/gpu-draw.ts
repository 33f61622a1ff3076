// The GPU nodes' draw at a site from the cluster's listing, one rule for every reader (the
// dispatch performance record and the metrics): a node's metered draw, else its pool's highest
// (unknown = worst case), and every node the listing does not show at that highest too. Pure.
import type { Farm } from '@switchyard/domain';
import type { GpuNodeState } from '@switchyard/cluster';

export interface GpuDraw {
  totalKw: number;
  /** kW by use: inference (serving), gpu_hashing, gpu_idle (idle, unknown mode, or not listed). */
  byUse: { inference: number; gpu_hashing: number; gpu_idle: number };
  /** kW by the power-tree node each pool feeds. */
  byFeed: Map<string, number>;
  /** Nodes per pool by mode: idle, serving, hashing, unknown (mode not told, or not listed). */
  modes: Map<string, Record<'idle' | 'serving' | 'hashing' | 'unknown', number>>;
}

export function gpuDraw(farm: Farm, site: string, nodes: readonly GpuNodeState[] | null): GpuDraw {
  const out: GpuDraw = {
    totalKw: 0,
    byUse: { inference: 0, gpu_hashing: 0, gpu_idle: 0 },
    byFeed: new Map(),
    modes: new Map(),
  };
  for (const p of farm.pools) {
    if (p.spec.site !== site) continue;
    const listed = nodes?.filter((x) => x.pool === p.metadata.name) ?? [];
    const top = Math.max(...Object.values(p.spec.nodePowerKw));
    const modes = { idle: 0, serving: 0, hashing: 0, unknown: 0 };
    let kw = 0;
    for (const x of listed) {
      modes[x.mode ?? 'unknown'] += 1;
      const draw = x.powerKw ?? top;
      kw += draw;
      out.byUse[x.mode === 'serving' ? 'inference' : x.mode === 'hashing' ? 'gpu_hashing' : 'gpu_idle'] +=
        draw;
    }
    const unseen = Math.max(0, p.spec.nodes - listed.length);
    modes.unknown += unseen;
    out.byUse.gpu_idle += unseen * top;
    kw += unseen * top;
    out.totalKw += kw;
    out.byFeed.set(p.spec.feed, (out.byFeed.get(p.spec.feed) ?? 0) + kw);
    out.modes.set(p.metadata.name, modes);
  }
  return out;
}
