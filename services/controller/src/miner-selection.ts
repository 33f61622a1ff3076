// Which miners a sequencer step moves. The sequencer names counts ("sleep 12 of fleet fa from
// normal"); the controller picks the miners from the latest telemetry, deterministically (sorted
// by host), and splits them into device.batch payloads of at most MAX_BATCH_TARGETS. Pure.
import { stepJobId, type FleetStep, type MinerDriverName } from '@switchyard/domain';
import { MAX_BATCH_TARGETS, POWER_PERCENT_BOUNDS, type JobInput } from '@switchyard/queue';

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
 * reported (firmwares without profiles) — and a sleep then any other awake miner; a wake takes
 * sleeping miners. Offline, faulted and
 * unknown miners are never picked, nor any host in `exclude` (already taken by an earlier step
 * of the same sequence).
 */
export function selectMiners(
  miners: FleetMiners,
  step: Pick<FleetStep, 'kind' | 'count' | 'fromProfile' | 'toProfile'>,
  exclude: ReadonlySet<string> = new Set(),
  /** The fleet's profile names; with them a sleep also takes miners reporting any other name. */
  known?: ReadonlySet<string>,
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
    // Putting a miner to sleep lowers its draw whatever it runs: a sleep also takes awake miners
    // reporting a profile the fleet does not name (a firmware's own tuner profile, counted at
    // nameplate by the sequencer).
    if (step.kind === 'sleep' && known)
      picked.push(
        ...hosts.filter(
          (h) => awake(view(h)) && view(h).profile !== null && !known.has(view(h).profile as string),
        ),
      );
  }
  const count = Math.max(0, Math.floor(step.count));
  const chosen = picked.slice(0, count);
  return {
    targets: chosen.map((host) => ({ host, port: view(host).port })),
    missing: count - chosen.length,
  };
}

/** A fleet profile's name and nominal draw per miner (the fleet's `fleetProfiles`). */
export interface ProfileWatts {
  name: string;
  powerW: number;
}

export interface BatchContext {
  planId: string;
  epoch: number;
  driver: MinerDriverName;
  credentialsRef?: string | undefined;
  /**
   * The fleet's profiles (`fleetProfiles(fleet)`): a Whatsminer step's power percentage is its
   * target draw as a share of the top profile's. Only Whatsminer profile and power-target steps
   * need them.
   */
  profiles?: readonly ProfileWatts[] | undefined;
}

type BatchStep = Pick<FleetStep, 'id' | 'kind' | 'fleet' | 'feed' | 'toProfile' | 'powerTargetW'>;

/**
 * The name the firmware knows a fleet profile by. Antminer firmware has two modes, "normal" and
 * "low-power": the fleet's top profile is "normal", every lower one "low-power". Other firmware
 * takes the fleet's own names.
 */
export function firmwareProfileName(
  driver: MinerDriverName,
  profiles: readonly ProfileWatts[],
  name: string,
): string {
  if (driver !== 'antminer' || profiles.length === 0) return name;
  const top = [...profiles].sort((a, b) => b.powerW - a.powerW)[0] as ProfileWatts;
  return name === top.name ? 'normal' : 'low-power';
}

/**
 * The fleet profile a firmware's reported profile stands for (the inverse of
 * firmwareProfileName): Antminer's "normal" is the top profile, "low-power" the lowest.
 */
export function planProfileName(
  driver: MinerDriverName,
  profiles: readonly ProfileWatts[],
  reported: string | null,
): string | null {
  if (driver !== 'antminer' || reported === null || profiles.length === 0) return reported;
  const byDraw = [...profiles].sort((a, b) => a.powerW - b.powerW);
  if (reported === 'normal') return (byDraw[byDraw.length - 1] as ProfileWatts).name;
  if (reported === 'low-power') return (byDraw[0] as ProfileWatts).name;
  return reported;
}

/**
 * Whatsminer's power percentage for a target draw: round(100 × watts / the top profile's watts),
 * clamped to set_power_pct's bounds. The top profile is 100 %, so a miner never draws more than
 * the step planned for it.
 */
export function powerPercentFor(watts: number, profiles: readonly ProfileWatts[]): number {
  const topW = Math.max(0, ...profiles.map((p) => p.powerW));
  if (!(topW > 0)) throw new Error('no profile with a positive draw to take 100 % from');
  const { min, max } = POWER_PERCENT_BOUNDS;
  return Math.min(max, Math.max(min, Math.round((100 * watts) / topW)));
}

/** The draw a Whatsminer step aims at: the target profile's, or the step's power target. */
function whatsminerTargetW(step: BatchStep, profiles: readonly ProfileWatts[]): number {
  if (step.kind === 'set-power-target') {
    if (step.powerTargetW === null) throw new Error(`step ${step.id}: set-power-target without powerTargetW`);
    return step.powerTargetW;
  }
  const to = profiles.find((p) => p.name === step.toProfile);
  if (!to)
    throw new Error(
      `step ${step.id}: fleet ${step.fleet} has no profile "${step.toProfile}" to take its watts from`,
    );
  return to.powerW;
}

/** The action and its parameter for one step on the batch's firmware. */
function actionOf(
  step: BatchStep,
  ctx: BatchContext,
): Pick<JobInput<'device.batch'>, 'action' | 'profile' | 'watts' | 'percent'> {
  switch (step.kind) {
    case 'sleep':
    case 'wake':
      return { action: step.kind };
    case 'set-profile':
    case 'set-power-target': {
      // Whatsminer has neither named profiles nor a power target without a reboot: both become
      // a power percentage of the fleet's top profile.
      if (ctx.driver === 'whatsminer') {
        const { profiles } = ctx;
        if (!profiles)
          throw new Error(
            `step ${step.id}: a Whatsminer ${step.kind} needs the fleet's profiles (BatchContext.profiles)`,
          );
        return {
          action: 'set-power-percent',
          percent: powerPercentFor(whatsminerTargetW(step, profiles), profiles),
        };
      }
      if (step.kind === 'set-profile')
        return {
          action: 'set-profile',
          profile: firmwareProfileName(ctx.driver, ctx.profiles ?? [], step.toProfile),
        };
      if (step.powerTargetW === null)
        throw new Error(`step ${step.id}: set-power-target without powerTargetW`);
      return { action: 'set-power-target', watts: step.powerTargetW };
    }
  }
}

/**
 * The device.batch payloads of one fleet step: the step's job-safe id, the action with its
 * profile, watts or percent, and the targets in chunks of at most MAX_BATCH_TARGETS (`part`
 * numbers the chunks when there are several). On Whatsminer a profile or power-target step is
 * sent as set-power-percent (powerPercentFor).
 */
export function deviceBatches(
  step: BatchStep,
  targets: readonly MinerTarget[],
  ctx: BatchContext,
  maxTargets: number = MAX_BATCH_TARGETS,
): Array<JobInput<'device.batch'>> {
  if (targets.length === 0) return [];
  const size = Math.max(1, Math.min(maxTargets, MAX_BATCH_TARGETS));
  const command = actionOf(step, ctx);
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
    ...command,
    targets: chunk.map((t) => ({ host: t.host, port: t.port })),
    ...(ctx.credentialsRef !== undefined && { credentialsRef: ctx.credentialsRef }),
  }));
}
