// The controller's metrics from a poll and a plan on the example farm: power split by use, loads
// rolled up the power tree with the GPU pools on their feeds, utilisation and headroom, miners and
// GPU nodes by state, dispatch time over the cap, and a lost lease clearing the farm gauges.
import { readFileSync } from 'node:fs';
import { parseFarmYaml, type Farm } from '@switchyard/domain';
import { aggregateByNode, type FleetAggregate, type PollResult } from '@switchyard/miners';
import type { GpuNodeState } from '@switchyard/cluster';
import { createMetricsRegistry, type Registry } from '@switchyard/telemetry';
import { createControllerMetrics } from './metrics.ts';
import { gpuDraw } from './gpu-draw.ts';

const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
const farm: Farm = parsed.farm;
const SITE = 'west-1';

async function values(
  registry: Registry,
  name: string,
): Promise<Array<{ labels: Record<string, string>; value: number }>> {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  const got = await m.get();
  return got.values.map((v) => ({ labels: v.labels as Record<string, string>, value: v.value }));
}
async function one(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const all = await values(registry, name);
  return all.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
}

function fleetAggregate(
  fleet: string,
  feed: string,
  hashing: number,
  sleeping: number,
  powerKw: number,
): FleetAggregate {
  return {
    fleet,
    site: SITE,
    feed,
    miners: hashing + sleeping,
    byState: { hashing, sleeping, ramping: 0, fault: 0, offline: 0 },
    byProfile: {},
    hashrateThs: hashing * 100,
    powerKw,
    powerKwBySource: { measured: powerKw, estimated: 0, nameplate: 0 },
    maxChipTempC: 71,
    meanChipTempC: 64.5,
    degraded: 2,
    degradedReasons: { 'timeout after 3000 ms reading 10.11.0.7': 2 },
  };
}

function gpuNodes(pool: string, modes: Array<GpuNodeState['mode']>, powerKw: number | null): GpuNodeState[] {
  return modes.map((mode, i) => ({
    pool,
    node: `${pool}-${i}`,
    mode,
    powerKw,
    gpuModel: 'H100-SXM-80GB',
    gpus: 8,
    ready: true,
    transitioning: false,
    transitionRemainingS: 0,
  }));
}

describe('controller metrics', () => {
  let registry: Registry;
  let leader = true;
  let metrics: ReturnType<typeof createControllerMetrics>;
  beforeEach(() => {
    registry = createMetricsRegistry({ defaultMetrics: false });
    leader = true;
    metrics = createControllerMetrics(registry, {
      farm,
      site: SITE,
      lease: { isLeader: () => leader, epoch: () => 7 },
    });
  });

  it('splits power by use and rolls node loads up the tree, GPU pools on their feeds', async () => {
    const fleets = [
      fleetAggregate('rack-a1', 'pdu-1a1', 600, 40, 1950),
      fleetAggregate('rack-a2', 'pdu-1a2', 640, 0, 2080),
    ];
    const poll: PollResult = {
      startedAt: new Date(),
      durationMs: 5,
      fleets,
      nodes: aggregateByNode(farm, fleets),
      degraded: [],
    };
    // h100-a (32 nodes on pdu-1b5): 10 serving at a metered 10 kW, 20 hashing unmetered and 2 never
    // listed (both worst case: the pool's highest, 10.2 kW). h200-b not listed at all.
    const nodes = [
      ...gpuNodes('h100-a', Array(10).fill('serving'), 10),
      ...gpuNodes('h100-a', Array(20).fill('hashing'), null),
    ];
    metrics.observePoll(poll, gpuDraw(farm, SITE, nodes));
    const h200Top = 24 * 10.6;
    const gpuKw = 100 + 204 + 2 * 10.2 + h200Top;
    const itKw = 1950 + 2080 + gpuKw;
    expect(await one(registry, 'switchyard_power_kw', { use: 'hashing' })).toBeCloseTo(4030, 6);
    expect(await one(registry, 'switchyard_power_kw', { use: 'inference' })).toBeCloseTo(100, 6);
    expect(await one(registry, 'switchyard_power_kw', { use: 'gpu_hashing' })).toBeCloseTo(204, 6);
    expect(await one(registry, 'switchyard_power_kw', { use: 'gpu_idle' })).toBeCloseTo(
      2 * 10.2 + h200Top,
      6,
    );
    expect(await one(registry, 'switchyard_power_kw', { use: 'overhead' })).toBeCloseTo(itKw * 0.08, 6);
    expect(await one(registry, 'switchyard_site_load_kw', { site: SITE })).toBeCloseTo(itKw * 1.08, 6);
    // pdu-1b5 carries h100-a; swg-1b and tx-1 carry it too; tx-2 carries h200-b; the site all.
    expect(await one(registry, 'switchyard_power_node_load_kw', { node: 'pdu-1b5' })).toBeCloseTo(324.4, 6);
    expect(await one(registry, 'switchyard_power_node_load_kw', { node: 'swg-1b' })).toBeCloseTo(324.4, 6);
    expect(await one(registry, 'switchyard_power_node_load_kw', { node: 'swg-1a' })).toBeCloseTo(4030, 6);
    expect(await one(registry, 'switchyard_power_node_load_kw', { node: 'tx-1' })).toBeCloseTo(4354.4, 6);
    expect(await one(registry, 'switchyard_power_node_load_kw', { node: 'tx-2' })).toBeCloseTo(h200Top, 6);
    expect(await one(registry, 'switchyard_power_node_load_kw', { node: 'site' })).toBeCloseTo(itKw, 6);
    expect(await one(registry, 'switchyard_power_node_limit_kw', { node: 'pdu-1b5' })).toBe(600);
    expect(await one(registry, 'switchyard_power_node_utilisation_ratio', { node: 'pdu-1a1' })).toBeCloseTo(
      0.78,
      6,
    );
    expect(await one(registry, 'switchyard_power_node_headroom_kw', { node: 'pdu-1a2' })).toBeCloseTo(420, 6);
    expect(await one(registry, 'switchyard_power_node_over_limit_total', { node: 'pdu-1a1' })).toBe(0);
    // Every node of the tree is reported, loaded or not.
    expect((await values(registry, 'switchyard_power_node_limit_kw')).length).toBe(27);
    expect(await one(registry, 'switchyard_miners', { fleet: 'rack-a1', state: 'sleeping' })).toBe(40);
    expect(
      await one(registry, 'switchyard_miner_chip_temperature_celsius', { fleet: 'rack-a1', stat: 'max' }),
    ).toBe(71);
    // Free-text reasons become a class without addresses or numbers.
    expect(
      await one(registry, 'switchyard_miners_degraded', {
        fleet: 'rack-a1',
        reason: 'timeout after n ms reading addr',
      }),
    ).toBe(2);
    expect(await one(registry, 'switchyard_gpu_nodes', { pool: 'h100-a', mode: 'serving' })).toBe(10);
    expect(await one(registry, 'switchyard_gpu_nodes', { pool: 'h100-a', mode: 'unknown' })).toBe(2);
    expect(await one(registry, 'switchyard_gpu_nodes', { pool: 'h200-b', mode: 'unknown' })).toBe(24);
  });

  it('counts polls over a limit, and dispatch seconds over the cap', async () => {
    const fleets = [fleetAggregate('rack-a1', 'pdu-1a1', 640, 0, 2600)];
    const poll: PollResult = {
      startedAt: new Date(),
      durationMs: 5,
      fleets,
      nodes: aggregateByNode(farm, fleets),
      degraded: [],
    };
    metrics.observePoll(poll, gpuDraw(farm, SITE, []));
    metrics.observePoll(poll, gpuDraw(farm, SITE, []));
    expect(await one(registry, 'switchyard_power_node_over_limit_total', { node: 'pdu-1a1' })).toBe(2);
    expect(await one(registry, 'switchyard_power_node_headroom_kw', { node: 'pdu-1a1' })).toBeCloseTo(
      -100,
      6,
    );
    const d = { id: 'd1', site: SITE, capKw: 3000, startsAt: 0, endsAt: 10_000_000 };
    metrics.observeDispatches([d], 3100, 1_000_000);
    metrics.observeDispatches([d], 3100, 1_004_000); // 4 s over
    metrics.observeDispatches([d], 2900, 1_006_000); // 2 s in force, under
    expect(await one(registry, 'switchyard_dispatch_cap_kw', { site: SITE })).toBe(3000);
    expect(await one(registry, 'switchyard_dispatch_seconds_total', { site: SITE })).toBe(6);
    expect(await one(registry, 'switchyard_dispatch_over_cap_seconds_total', { site: SITE })).toBe(4);
    metrics.observeDispatches([], 2900, 1_007_000);
    expect(await one(registry, 'switchyard_dispatch_cap_kw', { site: SITE })).toBeUndefined();
    expect(await one(registry, 'switchyard_dispatch_active', { site: SITE })).toBe(0);
  });

  it('a lost lease clears the farm gauges and counts the change; leadership is read at scrape', async () => {
    const fleets = [fleetAggregate('rack-a1', 'pdu-1a1', 640, 0, 2080)];
    metrics.observePoll(
      { startedAt: new Date(), durationMs: 5, fleets, nodes: aggregateByNode(farm, fleets), degraded: [] },
      gpuDraw(farm, SITE, []),
    );
    expect(await one(registry, 'switchyard_controller_leader', { site: SITE })).toBe(1);
    expect(await one(registry, 'switchyard_controller_epoch', { site: SITE })).toBe(7);
    leader = false;
    metrics.leadership('lost');
    expect(await one(registry, 'switchyard_controller_leader', { site: SITE })).toBe(0);
    expect(await one(registry, 'switchyard_controller_leader_changes_total', { change: 'lost' })).toBe(1);
    expect(await one(registry, 'switchyard_controller_leader_changes_total', { change: 'won' })).toBe(0);
    expect(await values(registry, 'switchyard_power_kw')).toEqual([]);
    expect(await values(registry, 'switchyard_power_node_load_kw')).toEqual([]);
  });

  it('the same registry takes a controller started again (a changed farm) without a clash', () => {
    expect(() =>
      createControllerMetrics(registry, {
        farm,
        site: SITE,
        lease: { isLeader: () => true, epoch: () => 1 },
      }),
    ).not.toThrow();
  });
});
