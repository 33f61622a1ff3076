// Which miners a sequencer step moves. The sequencer names counts ("sleep 12 of fleet fa from
// normal"); the controller picks the miners from the latest telemetry, deterministically (sorted
// by host), and splits them into device.batch payloads of at most MAX_BATCH_TARGETS. Pure.
import { stepJobId, type FleetStep, type MinerDriverName } from '@switchyard/domain';
import { MAX_BATCH_TARGETS, type JobInput } from '@switchyard/queue';

/** What the last poll said about one miner. `unknown`: no reading yet. */
export interface MinerView {
  state: 'hashing' | 'sleeping' | 'ramping' | 'fault' | 'offline' | 'unknown';
  profile: string | null;
  powerW: number | null;
  /** The port the farm lists for the miner (the one the firmware answers on). */
  port: number;
}

/** One fleet's miners by farm address (host). */
export type FleetMiners = Readonly<Record<string, MinerView>>;

export interface MinerTarget {
  host: string;
  port: number;
}

export interface MinerSelection {
  targets: MinerTarget[];
  /** How many the step asked for that no suitable miner was left for. */
  missing: number;
}

const hostOrder = new Intl.Collator('en', { numeric: true }).compare;
const awake = (m: MinerView) => m.state === 'hashing' || m.state === 'ramping';

/**
 * Picks `step.count` miners for a fleet step, sorted by host. A sleep, profile or power-target
 * change takes miners awake at `fromProfile` first, then awake miners whose profile is not
 * reported (firmwares without profiles); a wake takes sleeping miners. Offline, faulted and
 * unknown miners are never picked, nor any host in `exclude` (already taken by an earlier step
 * of the same sequence).
 */
export function selectMiners(
  miners: FleetMiners,
  step: Pick<FleetStep, 'kind' | 'count' | 'fromProfile' | 'toProfile'>,
  exclude: ReadonlySet<string> = new Set(),
): MinerSelection {
  const hosts = Object.keys(miners)
    .filter((h) => !exclude.has(h))
    .sort(hostOrder);
  const view = (h: string) => miners[h] as MinerView;
  let picked: string[];
  if (step.kind === 'wake') {
    picked = hosts.filter((h) => view(h).state === 'sleeping');
  } else {
    const exact = hosts.filter((h) => awake(view(h)) && view(h).profile === step.fromProfile);
    const unreported = hosts.filter((h) => awake(view(h)) && view(h).profile === null);
    picked = [...exact, ...unreported];
  }
  const count = Math.max(0, Math.floor(step.count));
  const chosen = picked.slice(0, count);
  return {
    targets: chosen.map((host) => ({ host, port: view(host).port })),
    missing: count - chosen.length,
  };
}

export interface BatchContext {
  planId: string;
  epoch: number;
  driver: MinerDriverName;
  credentialsRef?: string | undefined;
}

/**
 * The device.batch payloads of one fleet step: the step's job-safe id, the action with its
 * profile or watts, and the targets in chunks of at most MAX_BATCH_TARGETS (`part` numbers the
 * chunks when there are several).
 */
export function deviceBatches(
  step: Pick<FleetStep, 'id' | 'kind' | 'fleet' | 'feed' | 'toProfile' | 'powerTargetW'>,
  targets: readonly MinerTarget[],
  ctx: BatchContext,
  maxTargets: number = MAX_BATCH_TARGETS,
): Array<JobInput<'device.batch'>> {
  if (targets.length === 0) return [];
  const size = Math.max(1, Math.min(maxTargets, MAX_BATCH_TARGETS));
  const action = step.kind;
  const extra =
    action === 'set-profile'
      ? { profile: step.toProfile }
      : action === 'set-power-target'
        ? { watts: step.powerTargetW ?? undefined }
        : {};
  if (action === 'set-power-target' && step.powerTargetW === null)
    throw new Error(`step ${step.id}: set-power-target without powerTargetW`);
  const chunks: MinerTarget[][] = [];
  for (let i = 0; i < targets.length; i += size) chunks.push(targets.slice(i, i + size));
  return chunks.map((chunk, part) => ({
    planId: ctx.planId,
    stepId: stepJobId(step.id),
    epoch: ctx.epoch,
    fleet: step.fleet,
    feed: step.feed,
    ...(chunks.length > 1 && { part }),
    driver: ctx.driver,
    action,
    ...extra,
    targets: chunk.map((t) => ({ host: t.host, port: t.port })),
    ...(ctx.credentialsRef !== undefined && { credentialsRef: ctx.credentialsRef }),
  }));
}
