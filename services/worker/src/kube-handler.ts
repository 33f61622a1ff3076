// The kube.action handler: actions on the GPU cluster through a ClusterDriver (the simulator's
// API in standalone mode, Kubernetes later). set-gpu-mode reads the node first and leaves it
// alone when it is already in the mode (product safety rule 6: idempotent per device), checks
// the leader's epoch right before actuating, then sets the mode.
import { ClusterError, type ClusterDriver } from '@switchyard/cluster';
import type { PoolMode } from '@switchyard/domain';
import { UnrecoverableError, setGpuModeParams, type JobHandler, type JobPayload } from '@switchyard/queue';

export interface KubeActionHandlerOptions {
  /** Without one every kube.action fails for good: nothing could carry it out. */
  driver?: ClusterDriver | undefined;
}

export interface KubeActionResult {
  /** 'applied': the mode was set; 'already': the node was in that mode, nothing was sent. */
  status: 'applied' | 'already';
  action: JobPayload<'kube.action'>['action'];
  planId: string;
  stepId: string;
  pool: string;
  node: string;
  /** The mode the node was in before (null when it could not be told). */
  from: PoolMode | null;
  mode: PoolMode;
  /** The node's draw when the job finished (kW), when known. */
  powerKw: number | null;
}

/** Permanent cluster errors fail the job for good; the rest are retried with the catalog's backoff. */
function toJobError(e: unknown, what: string): unknown {
  if (e instanceof ClusterError && e.permanent)
    return new UnrecoverableError(`${what}: ${e.code}: ${e.message}`);
  return e;
}

export function createKubeActionHandler(opts: KubeActionHandlerOptions): JobHandler<'kube.action'> {
  return async (p, ctx) => {
    const driver = opts.driver;
    if (!driver)
      throw new UnrecoverableError(
        `kube.action ${p.action}: no cluster driver configured (start the worker with --sim-url or SIM_URL for the simulator)`,
      );
    switch (p.action) {
      case 'set-gpu-mode': {
        const { pool, mode } = setGpuModeParams(p);
        const name = p.resource.name;
        const what = `kube.action set-gpu-mode ${pool}/${name} → ${mode}`;
        const result = (status: KubeActionResult['status'], from: PoolMode | null, powerKw: number | null) =>
          ({
            status,
            action: p.action,
            planId: p.planId,
            stepId: p.stepId,
            pool,
            node: name,
            from,
            mode,
            powerKw,
          }) satisfies KubeActionResult;
        try {
          const nodes = await driver.listNodes(pool, { signal: ctx.signal });
          const node = nodes.find((n) => n.node === name);
          if (!node) throw new UnrecoverableError(`${what}: no GPU node "${name}" in GpuPool "${pool}"`);
          if (node.mode === mode) return result('already', node.mode, node.powerKw);
          if (!node.ready)
            throw new ClusterError('not-ready', `${what}: node ${name} is not ready; not actuated`);
          await ctx.fence(); // right before actuating: a replaced leader's command is dropped
          const r = await driver.setNodeMode(pool, name, mode, { signal: ctx.signal });
          return result(r.changed ? 'applied' : 'already', node.mode, r.node.powerKw);
        } catch (e) {
          throw toJobError(e, what);
        }
      }
    }
  };
}
