// Which GPU nodes a sequencer pool step moves. The sequencer names counts ("move 3 nodes of pool
// h100-a from idle to hashing"); the nodes are picked from the cluster's latest listing,
// deterministically (sorted by node name). Pure.
import type { PoolStep } from '@switchyard/domain';
import type { GpuNodeState } from './driver.ts';

export interface PoolNodeSelection {
  nodes: GpuNodeState[];
  /** How many the step asked for that no suitable node was left for. */
  missing: number;
}

const nodeOrder = new Intl.Collator('en', { numeric: true }).compare;

/**
 * A node whose mode can be told and that is controlled now: ready, with a known mode, and not
 * still following an earlier mode change (those count at their highest draw until settled).
 */
export function isSettledNode(
  n: GpuNodeState,
): n is GpuNodeState & { mode: NonNullable<GpuNodeState['mode']> } {
  return n.ready && n.mode !== null && !n.transitioning;
}

/**
 * Picks `step.count` nodes of `step.pool` that are settled in `step.fromMode`, sorted by node
 * name. Nodes in an unknown state (not ready, no known mode, still transitioning) are never
 * picked, nor any node in `exclude` (already taken by an earlier step of the same sequence).
 */
export function selectPoolNodes(
  nodes: readonly GpuNodeState[],
  step: Pick<PoolStep, 'pool' | 'fromMode' | 'count'>,
  exclude: ReadonlySet<string> = new Set(),
): PoolNodeSelection {
  const candidates = nodes
    .filter(
      (n) => n.pool === step.pool && !exclude.has(n.node) && isSettledNode(n) && n.mode === step.fromMode,
    )
    .sort((a, b) => nodeOrder(a.node, b.node));
  const count = Number.isFinite(step.count) ? Math.max(0, Math.floor(step.count)) : 0;
  const chosen = candidates.slice(0, count);
  return { nodes: chosen, missing: count - chosen.length };
}
