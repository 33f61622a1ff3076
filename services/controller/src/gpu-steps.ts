// GPU pools at the edges of the control cycle: the cluster's node listing turned into the
// sequencer's and the planner's pool state, and a sequencer pool step turned into one
// kube.action set-gpu-mode job per node it moves. Pure.
import { isSettledNode, selectPoolNodes, type GpuNodeState } from '@switchyard/cluster';
import { stepJobId, type PoolObservation, type PoolState, type PoolStep } from '@switchyard/domain';
import { ID_PART_PATTERN, type CatalogJob } from '@switchyard/queue';

export interface PoolStepContext {
  planId: string;
  epoch: number;
  /** Nodes already moved by earlier steps of the same sequence; the nodes picked here are added. */
  taken: Set<string>;
}

export interface PoolStepJobs {
  jobs: CatalogJob[];
  /** How many nodes the step asked for that no suitable node was left for. */
  missing: number;
}

const MAX_ID = 128;

/** The job-safe step id of the i-th node of a step: stepJobId(step.id) + "." + i, at most 128. */
export function poolNodeStepId(stepId: string, index: number): string {
  const suffix = `.${index}`;
  return `${stepJobId(stepId).slice(0, MAX_ID - suffix.length)}${suffix}`;
}

/**
 * One kube.action set-gpu-mode per node a pool step moves: `step.count` nodes of the pool settled
 * in `fromMode` (selectPoolNodes: sorted by name, never a node in an unknown state or already in
 * `ctx.taken`). Nodes whose names cannot be part of a job id are never picked. The step's
 * preemptions and order starts are not turned into jobs here (kube.action has no such actions
 * yet); a caller must not dispatch a step with preemptions before the brokers have had notice.
 */
export function poolStepJobs(
  step: PoolStep,
  nodes: readonly GpuNodeState[],
  ctx: PoolStepContext,
): PoolStepJobs {
  const usable = nodes.filter((n) => ID_PART_PATTERN.test(n.node));
  const sel = selectPoolNodes(usable, step, ctx.taken);
  const jobs: CatalogJob[] = sel.nodes.map((n, i) => {
    ctx.taken.add(n.node);
    return {
      name: 'kube.action',
      payload: {
        planId: ctx.planId,
        stepId: poolNodeStepId(step.id, i),
        epoch: ctx.epoch,
        action: 'set-gpu-mode',
        resource: { kind: 'Node', name: n.node },
        params: { pool: step.pool, mode: step.toMode },
      },
    };
  });
  return { jobs, missing: sel.missing };
}

/**
 * The sequencer's state of one pool. Settled nodes count in their mode. A ready node still
 * following a change whose previous mode the driver reports (`fromMode`) is in flight from it to
 * its new mode (the sequencer counts it at the higher draw and treats it as heading there, so no
 * plan moves another node to make up for it). Nodes not ready, of unknown mode, or following a
 * change from an unknown mode are unavailable (the highest draw, not moved). Nodes the listing
 * lacks are unknown, which the sequencer also counts at the highest draw.
 */
export function poolStateFromNodes(
  nodes: readonly GpuNodeState[],
  pool: string,
  now: number = Date.now(),
): PoolState {
  const st: PoolState = { idle: 0, serving: 0, hashing: 0, unavailable: 0, inFlight: [] };
  for (const n of nodes) {
    if (n.pool !== pool) continue;
    if (isSettledNode(n)) st[n.mode] += 1;
    else if (n.ready && n.mode && n.fromMode && n.fromMode !== n.mode) {
      // Still following a change the driver knows both ends of: in flight (at the higher of the
      // two draws), heading for its new mode, so no plan moves another node to make up for it.
      const from = n.fromMode;
      const to = n.mode;
      const t = st.inFlight.find((x) => x.from === from && x.to === to);
      if (t) t.count += 1;
      else st.inFlight.push({ from, to, count: 1, since: now });
    } else st.unavailable += 1;
  }
  return st;
}

/**
 * The planner's observation of one pool. Ready nodes count in their mode, a node still following
 * a mode change in the mode it goes to (as a ramping miner counts as awake); nodes not ready or
 * of unknown mode are unavailable.
 */
export function poolObservationFromNodes(nodes: readonly GpuNodeState[], pool: string): PoolObservation {
  const obs: PoolObservation = { idle: 0, serving: 0, hashing: 0, unavailable: 0 };
  for (const n of nodes) {
    if (n.pool !== pool) continue;
    if (n.ready && n.mode !== null) obs[n.mode] += 1;
    else obs.unavailable += 1;
  }
  return obs;
}
