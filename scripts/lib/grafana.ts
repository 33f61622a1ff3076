// Writes the Grafana dashboards to grafana/<uid>.json from the compact panel definitions below:
// `node scripts/lib/grafana.ts` (scripts/grafana). With --check it writes nothing and exits 1 when
// a file differs, is missing, or is a dashboard no definition produces. Run scripts/chart-assets
// afterwards: the chart ships copies.
//
// Expressions use only the metrics in docs/metrics.md and the variables $site, $pool and
// $__rate_interval (test/observability/prometheus.test.ts evaluates every one against a running
// system). The controller's farm gauges come from the leader alone, so they are aggregated by
// their own labels, never by instance; the API's order and queue gauges are the same on every API
// replica, so they take `max` over replicas first.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { format, resolveConfig } from 'prettier';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

type Unit = 'kwatt' | 'currencyUSD' | 's' | 'percentunit' | 'celsius' | 'short' | 'bytes';
type PanelType = 'timeseries' | 'stat' | 'gauge' | 'bargauge' | 'table';
type Json = Record<string, unknown>;

interface Query {
  expr: string;
  legend: string;
}

/** One panel, compactly: `w`×`h` grid units, placed left to right in the order given. */
interface PanelDef {
  type: PanelType;
  title: string;
  description: string;
  unit: Unit;
  w: number;
  h: number;
  queries: Query[];
  /** timeseries: stacked areas. */
  stack?: boolean;
  /** timeseries: bars (counts per interval). */
  bars?: boolean;
  /** timeseries: a step line (states and counts that jump). */
  steps?: boolean;
  /** Threshold steps above the base colour: [value, colour]. */
  thresholds?: Array<[number, string]>;
  /** The colour below the first threshold (default green). */
  base?: string;
  /** timeseries: draw the thresholds as lines. */
  thresholdLines?: boolean;
  min?: number;
  max?: number;
  decimals?: number;
  /** Series drawn dashed (by refId): limits and caps against the loads they bound. */
  dashed?: string[];
  /** Series on a right-hand axis (by refId). */
  rightAxis?: string[];
  /** stat: show the series' name rather than its value (which instance leads). */
  showName?: boolean;
  /** table: a matrix of rows × columns from two labels of one instant query. */
  matrix?: { rows: string; columns: string };
  /** table: one row per label set with a column per query, renamed. */
  columns?: { by: string[]; names: string[]; units: Unit[] };
}

/**
 * An annotation query. Grafana marks the points whose value is positive (older versions: at least
 * 1), so expressions give 1 or 0 (`> bool 0`) and return data when nothing happened.
 */
interface AnnotationDef {
  name: string;
  expr: string;
  title: string;
  text: string;
  color: string;
}

interface DashboardDef {
  uid: string;
  title: string;
  description: string;
  /** The dashboard has a pool variable. */
  pools?: boolean;
  annotations?: AnnotationDef[];
  panels: PanelDef[];
}

const DS = { type: 'prometheus', uid: '${datasource}' };
const S = 'site=~"$site"';
const P = 'pool=~"$pool"';
const RI = '$__rate_interval';
const REF_IDS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** One query. */
const q = (expr: string, legend: string): Query => ({ expr, legend });

// Shared expressions.
const siteLoad = `sum by (site) (switchyard_site_load_kw{${S}})`;
const siteCap = `sum by (site) (switchyard_site_cap_kw{${S}})`;
/** The API's order gauge, one copy per replica: max over replicas, then summed as asked. */
const orders = (matcher: string) => `max by (state, tier) (switchyard_orders${matcher})`;
/** Over-cap seconds of a window, 0 (not absent) when the site was never over its cap. */
const overCap = (w: string) =>
  `(sum by (site) (increase(switchyard_dispatch_over_cap_seconds_total{${S}}[${w}])) or sum by (site) (increase(switchyard_dispatch_seconds_total{${S}}[${w}])) * 0)`;
/** Sleep and wake commands applied per fleet; 0 for a fleet that had only other commands. */
const sleepWake = (w: string) =>
  `sum by (fleet) (increase(switchyard_device_commands_total{action=~"sleep|wake", outcome="applied"}[${w}])) or sum by (fleet) (increase(switchyard_device_commands_total[${w}])) * 0`;
const dispatchSeconds = (w: string) =>
  `sum by (site) (increase(switchyard_dispatch_seconds_total{${S}}[${w}]))`;
const compliance = (w: string) => `1 - ${overCap(w)} / (${dispatchSeconds(w)} > 0)`;
/** Restricts a process metric to the processes that export Switchyard's own metrics. */
const switchyardProcesses = (expr: string) =>
  `${expr} and on (job, instance) count by (job, instance) ({__name__=~"switchyard_.+"})`;
const quantile = (phi: number, metric: string, by: string, matcher = '') =>
  `histogram_quantile(${phi}, sum by (${by}, le) (rate(${metric}_bucket${matcher}[${RI}])))`;

const UTILISATION_THRESHOLDS: Array<[number, string]> = [
  [0.9, 'orange'],
  [0.95, 'red'],
];

// ---------------------------------------------------------------- dashboards

const farmOverview: DashboardDef = {
  uid: 'switchyard-farm-overview',
  title: 'Switchyard / Farm overview',
  description: 'Where the power goes, what it earns, and against which prices.',
  annotations: [
    {
      name: 'Plan changes',
      expr: `sum by (site) (increase(switchyard_plan_changes_total{${S}}[${RI}])) > bool 0`,
      title: 'Plan changes',
      text: '{{ site }}: the plan changed fleets, pools or orders',
      color: 'rgba(0, 211, 255, 1)',
    },
  ],
  panels: [
    {
      type: 'stat',
      title: 'Facility load',
      description: 'Load at the interconnect meter: IT load times PUE.',
      unit: 'kwatt',
      w: 4,
      h: 4,
      queries: [q(`sum(switchyard_site_load_kw{${S}})`, 'facility load')],
    },
    {
      type: 'stat',
      title: 'Site cap',
      description: 'The cap the last plan kept under: the interconnect or a grid dispatch, less reserve.',
      unit: 'kwatt',
      w: 4,
      h: 4,
      queries: [q(`sum(switchyard_site_cap_kw{${S}})`, 'site cap')],
    },
    {
      type: 'gauge',
      title: 'Load / cap',
      description: 'Facility load over the site cap.',
      unit: 'percentunit',
      w: 4,
      h: 4,
      min: 0,
      max: 1,
      thresholds: UTILISATION_THRESHOLDS,
      queries: [
        q(
          `sum(switchyard_site_load_kw{${S}}) / clamp_min(sum(switchyard_site_cap_kw{${S}}), 1)`,
          'load / cap',
        ),
      ],
    },
    {
      type: 'stat',
      title: 'Revenue',
      description: 'Revenue rate of the last plan, every use (USD/h).',
      unit: 'currencyUSD',
      w: 4,
      h: 4,
      queries: [q(`sum(switchyard_revenue_usd_per_hour{${S}})`, 'revenue $/h')],
    },
    {
      type: 'stat',
      title: 'Cost',
      description: 'Energy and wear cost rate of the last plan (USD/h).',
      unit: 'currencyUSD',
      w: 4,
      h: 4,
      queries: [q(`sum(switchyard_cost_usd_per_hour{${S}})`, 'cost $/h')],
    },
    {
      type: 'stat',
      title: 'Net',
      description: 'Revenue less cost of the last plan (USD/h). Red when the farm loses money.',
      unit: 'currencyUSD',
      w: 4,
      h: 4,
      base: 'red',
      thresholds: [[0, 'green']],
      queries: [
        q(`sum(switchyard_revenue_usd_per_hour{${S}}) - sum(switchyard_cost_usd_per_hour{${S}})`, 'net $/h'),
      ],
    },
    {
      type: 'timeseries',
      title: 'Power by use',
      description:
        'Measured draw by use, stacked: ASIC hashing (sleeping miners included), GPU hashing, inference, idle or unseen GPU nodes, and the facility overhead from the PUE. The top of the stack is the facility load.',
      unit: 'kwatt',
      w: 12,
      h: 9,
      stack: true,
      queries: [q(`sum by (use) (switchyard_power_kw{${S}})`, '{{use}}')],
    },
    {
      type: 'timeseries',
      title: 'Facility load vs site cap',
      description: 'Metered facility load against the cap the plan kept under (dashed).',
      unit: 'kwatt',
      w: 12,
      h: 9,
      dashed: ['B'],
      queries: [q(siteLoad, '{{site}} load'), q(siteCap, '{{site}} cap')],
    },
    {
      type: 'timeseries',
      title: 'Earned per MWh by use',
      description:
        "Each use's revenue rate over the power it draws (USD per MWh of IT draw). Uses drawing nothing are left out.",
      unit: 'currencyUSD',
      w: 12,
      h: 9,
      queries: [
        q(
          `sum by (use) (switchyard_revenue_usd_per_hour{${S}}) * 1000 / (sum by (use) (switchyard_power_kw{${S}, use=~"hashing|gpu_hashing|inference"}) > 0)`,
          '{{use}}',
        ),
      ],
    },
    {
      type: 'timeseries',
      title: 'Energy price vs breakevens and hashprice',
      description:
        "Energy price the last plan used and each fleet's breakeven (USD/MWh, left): a fleet above the energy price earns more than it costs. Hashprice (USD per PH/s per day, right) moves every breakeven.",
      unit: 'currencyUSD',
      w: 12,
      h: 9,
      rightAxis: ['C'],
      dashed: ['B'],
      queries: [
        q(`max by (site) (switchyard_energy_price_usd_per_mwh{${S}})`, 'energy {{site}}'),
        q(`max by (fleet) (switchyard_breakeven_usd_per_mwh{${S}})`, 'breakeven {{fleet}}'),
        q('max(switchyard_hashprice_usd_per_th_day) * 1000', 'hashprice $/PH/day'),
      ],
    },
    {
      type: 'timeseries',
      title: 'Net per hour',
      description:
        'Net rate of the last plan (revenue less cost), with revenue by use and cost by kind (drawn below zero).',
      unit: 'currencyUSD',
      w: 12,
      h: 9,
      queries: [
        q(`sum(switchyard_revenue_usd_per_hour{${S}}) - sum(switchyard_cost_usd_per_hour{${S}})`, 'net'),
        q(`sum by (use) (switchyard_revenue_usd_per_hour{${S}})`, 'revenue {{use}}'),
        q(`-sum by (kind) (switchyard_cost_usd_per_hour{${S}})`, 'cost {{kind}}'),
      ],
    },
    {
      type: 'timeseries',
      title: 'Miners by state',
      description: 'Miners by state at the last poll, stacked.',
      unit: 'short',
      w: 12,
      h: 9,
      stack: true,
      queries: [q(`sum by (state) (switchyard_miners{${S}})`, '{{state}}')],
    },
  ],
};

const powerSafety: DashboardDef = {
  uid: 'switchyard-power-safety',
  title: 'Switchyard / Power safety',
  description: 'Every power-tree node against its limit, and the site against its cap.',
  panels: [
    {
      type: 'stat',
      title: 'Highest node utilisation',
      description: 'The most loaded power-tree node: observed load over its limit.',
      unit: 'percentunit',
      w: 6,
      h: 4,
      thresholds: UTILISATION_THRESHOLDS,
      queries: [q(`max(switchyard_power_node_utilisation_ratio{${S}})`, 'highest')],
    },
    {
      type: 'stat',
      title: 'Least headroom',
      description: 'The smallest limit-less-load over every node (kW); negative when a node is over.',
      unit: 'kwatt',
      w: 6,
      h: 4,
      base: 'red',
      thresholds: [[0, 'green']],
      queries: [q(`min(switchyard_power_node_headroom_kw{${S}})`, 'least headroom')],
    },
    {
      type: 'stat',
      title: 'Nodes above 95 %',
      description: 'Power-tree nodes observed above 95 % of their limit now.',
      unit: 'short',
      w: 6,
      h: 4,
      thresholds: [[1, 'red']],
      queries: [q(`count(switchyard_power_node_utilisation_ratio{${S}} > 0.95) or vector(0)`, 'nodes')],
    },
    {
      type: 'stat',
      title: 'Polls over a limit, 24 h',
      description: 'Polls in which some node was observed above its limit, over the last 24 hours.',
      unit: 'short',
      w: 6,
      h: 4,
      decimals: 0,
      thresholds: [[1, 'red']],
      queries: [q(`sum(increase(switchyard_power_node_over_limit_total{${S}}[24h]))`, 'over-limit polls')],
    },
    {
      type: 'bargauge',
      title: 'Utilisation by node',
      description: 'Observed load over limit for every node, now. Orange from 90 %, red from 95 %.',
      unit: 'percentunit',
      w: 8,
      h: 14,
      min: 0,
      max: 1,
      thresholds: UTILISATION_THRESHOLDS,
      queries: [q(`max by (site, node) (switchyard_power_node_utilisation_ratio{${S}})`, '{{node}}')],
    },
    {
      type: 'table',
      title: 'Power tree',
      description: 'Each node with its observed load, limit, headroom and utilisation, now.',
      unit: 'kwatt',
      w: 16,
      h: 14,
      thresholds: UTILISATION_THRESHOLDS,
      columns: {
        by: ['site', 'node'],
        names: ['Load', 'Limit', 'Headroom', 'Utilisation'],
        units: ['kwatt', 'kwatt', 'kwatt', 'percentunit'],
      },
      queries: [
        q(`max by (site, node) (switchyard_power_node_load_kw{${S}})`, '{{node}} load'),
        q(`max by (site, node) (switchyard_power_node_limit_kw{${S}})`, '{{node}} limit'),
        q(`max by (site, node) (switchyard_power_node_headroom_kw{${S}})`, '{{node}} headroom'),
        q(`max by (site, node) (switchyard_power_node_utilisation_ratio{${S}})`, '{{node}} utilisation'),
      ],
    },
    {
      type: 'timeseries',
      title: 'Load against limit by node',
      description:
        "Observed IT load of every node, its descendants included (unread devices at nameplate), and each node's limit (dashed).",
      unit: 'kwatt',
      w: 12,
      h: 10,
      dashed: ['B'],
      queries: [
        q(`max by (site, node) (switchyard_power_node_load_kw{${S}})`, '{{node}} load'),
        q(`max by (site, node) (switchyard_power_node_limit_kw{${S}})`, '{{node}} limit'),
      ],
    },
    {
      type: 'timeseries',
      title: 'Utilisation by node',
      description: 'Load over limit for every node; the lines mark 90 % and 95 %.',
      unit: 'percentunit',
      w: 12,
      h: 10,
      min: 0,
      thresholds: UTILISATION_THRESHOLDS,
      thresholdLines: true,
      queries: [q(`max by (site, node) (switchyard_power_node_utilisation_ratio{${S}})`, '{{node}}')],
    },
    {
      type: 'timeseries',
      title: 'Headroom by node',
      description: 'Limit less observed load (kW); below zero the node is over its limit.',
      unit: 'kwatt',
      w: 12,
      h: 10,
      base: 'red',
      thresholds: [[0, 'green']],
      thresholdLines: true,
      queries: [q(`max by (site, node) (switchyard_power_node_headroom_kw{${S}})`, '{{node}}')],
    },
    {
      type: 'timeseries',
      title: 'Over-limit polls by node',
      description: 'Polls in which a node was observed above its limit. Anything above zero is a violation.',
      unit: 'short',
      w: 12,
      h: 10,
      bars: true,
      queries: [
        q(`sum by (site, node) (increase(switchyard_power_node_over_limit_total{${S}}[${RI}]))`, '{{node}}'),
      ],
    },
    {
      type: 'timeseries',
      title: 'Facility load vs site cap',
      description: 'Metered facility load against the cap the last plan kept under (dashed).',
      unit: 'kwatt',
      w: 24,
      h: 8,
      dashed: ['B'],
      queries: [q(siteLoad, '{{site}} load'), q(siteCap, '{{site}} cap')],
    },
  ],
};

const fleetHealth: DashboardDef = {
  uid: 'switchyard-fleet-health',
  title: 'Switchyard / Fleet health',
  description: 'Miners by state, faults, temperatures, hashrate and the commands sent to them.',
  panels: [
    {
      type: 'stat',
      title: 'Hashing',
      description: 'Miners hashing at the last poll.',
      unit: 'short',
      w: 4,
      h: 4,
      queries: [q(`sum(switchyard_miners{${S}, state="hashing"})`, 'hashing')],
    },
    {
      type: 'stat',
      title: 'Sleeping',
      description: 'Miners asleep at the last poll.',
      unit: 'short',
      w: 4,
      h: 4,
      base: 'blue',
      queries: [q(`sum(switchyard_miners{${S}, state="sleeping"})`, 'sleeping')],
    },
    {
      type: 'stat',
      title: 'Fault, offline or unknown',
      description: 'Miners that are faulted, do not answer, or could not be read.',
      unit: 'short',
      w: 4,
      h: 4,
      thresholds: [[1, 'orange']],
      queries: [q(`sum(switchyard_miners{${S}, state=~"fault|offline|unknown"})`, 'fault, offline, unknown')],
    },
    {
      type: 'stat',
      title: 'Degraded',
      description: 'Miners reporting a degraded condition (a hashboard down, a fan, ...).',
      unit: 'short',
      w: 4,
      h: 4,
      thresholds: [[1, 'orange']],
      queries: [q(`sum(switchyard_miners_degraded{${S}})`, 'degraded')],
    },
    {
      type: 'stat',
      title: 'Hashrate (TH/s)',
      description: 'Reported hashrate of every fleet.',
      unit: 'short',
      w: 4,
      h: 4,
      queries: [q(`sum(switchyard_fleet_hashrate_ths{${S}})`, 'TH/s')],
    },
    {
      type: 'stat',
      title: 'Hottest chip',
      description: 'The hottest chip temperature any miner reported at the last poll.',
      unit: 'celsius',
      w: 4,
      h: 4,
      queries: [q(`max(switchyard_miner_chip_temperature_celsius{${S}, stat="max"})`, 'hottest')],
    },
    {
      type: 'timeseries',
      title: 'Miners by state',
      description:
        'Miners by state at each poll, stacked: hashing, sleeping, ramping, fault, offline, unknown.',
      unit: 'short',
      w: 12,
      h: 9,
      stack: true,
      queries: [q(`sum by (state) (switchyard_miners{${S}})`, '{{state}}')],
    },
    {
      type: 'table',
      title: 'Miners by fleet and state',
      description: 'One row per fleet, one column per state, at the last poll.',
      unit: 'short',
      w: 12,
      h: 9,
      matrix: { rows: 'fleet', columns: 'state' },
      queries: [q(`sum by (fleet, state) (switchyard_miners{${S}})`, '{{fleet}} {{state}}')],
    },
    {
      type: 'timeseries',
      title: 'Degraded miners by reason',
      description: 'Degraded miners by reason class (free-text reasons folded into at most 20 classes).',
      unit: 'short',
      w: 12,
      h: 9,
      stack: true,
      queries: [q(`sum by (reason) (switchyard_miners_degraded{${S}})`, '{{reason}}')],
    },
    {
      type: 'bargauge',
      title: 'Degraded miners by fleet',
      description: 'Degraded miners per fleet, now.',
      unit: 'short',
      w: 12,
      h: 9,
      min: 0,
      thresholds: [[1, 'orange']],
      queries: [q(`sum by (fleet) (switchyard_miners_degraded{${S}})`, '{{fleet}}')],
    },
    {
      type: 'timeseries',
      title: 'Chip temperature, hottest miner',
      description: 'Per fleet, the hottest chip of any miner at each poll.',
      unit: 'celsius',
      w: 12,
      h: 9,
      queries: [
        q(`max by (fleet) (switchyard_miner_chip_temperature_celsius{${S}, stat="max"})`, '{{fleet}}'),
      ],
    },
    {
      type: 'timeseries',
      title: 'Chip temperature, mean',
      description: 'Per fleet, the mean chip temperature at each poll.',
      unit: 'celsius',
      w: 12,
      h: 9,
      queries: [
        q(`max by (fleet) (switchyard_miner_chip_temperature_celsius{${S}, stat="mean"})`, '{{fleet}}'),
      ],
    },
    {
      type: 'timeseries',
      title: 'Hashrate by fleet (TH/s)',
      description: 'Reported hashrate per fleet, stacked.',
      unit: 'short',
      w: 12,
      h: 9,
      stack: true,
      queries: [q(`sum by (fleet) (switchyard_fleet_hashrate_ths{${S}})`, '{{fleet}}')],
    },
    {
      type: 'timeseries',
      title: 'Device commands by outcome (per second)',
      description:
        'Miner commands of device batches by action and outcome: applied, already (a no-op on a miner already there), failed. Every site the workers serve.',
      unit: 'short',
      w: 12,
      h: 9,
      queries: [
        q(
          `sum by (action, outcome) (rate(switchyard_device_commands_total[${RI}]))`,
          '{{action}} {{outcome}}',
        ),
      ],
    },
    {
      type: 'timeseries',
      title: 'Sleep/wake cycles',
      description:
        'Sleep and wake commands applied per fleet (no-ops left out), stacked: the wear the policy budgets per day.',
      unit: 'short',
      w: 12,
      h: 9,
      bars: true,
      stack: true,
      queries: [q(sleepWake(RI), '{{fleet}}')],
    },
    {
      type: 'bargauge',
      title: 'Sleep/wake commands per fleet, 24 h',
      description: 'Sleep and wake commands applied per fleet over the last 24 hours.',
      unit: 'short',
      w: 12,
      h: 9,
      min: 0,
      decimals: 0,
      queries: [q(sleepWake('24h'), '{{fleet}}')],
    },
    {
      type: 'table',
      title: 'Device commands by fleet, 24 h',
      description: 'Miner commands per fleet by outcome over the last 24 hours.',
      unit: 'short',
      w: 24,
      h: 9,
      decimals: 0,
      matrix: { rows: 'fleet', columns: 'outcome' },
      queries: [
        q(
          `sum by (fleet, outcome) (increase(switchyard_device_commands_total[24h]))`,
          '{{fleet}} {{outcome}}',
        ),
      ],
    },
  ],
};

const gpusBrokers: DashboardDef = {
  uid: 'switchyard-gpus-brokers',
  title: 'Switchyard / GPUs and brokers',
  description: "GPU nodes by mode, brokers' orders, preemptions, and what inference earns.",
  pools: true,
  panels: [
    {
      type: 'stat',
      title: 'Serving',
      description: 'GPU nodes serving inference.',
      unit: 'short',
      w: 4,
      h: 4,
      queries: [q(`sum(switchyard_gpu_nodes{${S}, ${P}, mode="serving"})`, 'serving')],
    },
    {
      type: 'stat',
      title: 'Hashing',
      description: 'GPU nodes hashing as filler.',
      unit: 'short',
      w: 4,
      h: 4,
      queries: [q(`sum(switchyard_gpu_nodes{${S}, ${P}, mode="hashing"})`, 'hashing')],
    },
    {
      type: 'stat',
      title: 'Idle',
      description: 'GPU nodes idle.',
      unit: 'short',
      w: 4,
      h: 4,
      base: 'blue',
      queries: [q(`sum(switchyard_gpu_nodes{${S}, ${P}, mode="idle"})`, 'idle')],
    },
    {
      type: 'stat',
      title: 'Unknown',
      description: 'GPU nodes not seen in the last listing: counted at their highest draw.',
      unit: 'short',
      w: 4,
      h: 4,
      thresholds: [[1, 'orange']],
      queries: [q(`sum(switchyard_gpu_nodes{${S}, ${P}, mode="unknown"})`, 'unknown')],
    },
    {
      type: 'stat',
      title: 'Orders running',
      description: 'Orders running now, every broker and tier.',
      unit: 'short',
      w: 4,
      h: 4,
      queries: [q(`sum(${orders('{state="running"}')})`, 'running')],
    },
    {
      type: 'stat',
      title: 'Orders pending',
      description: 'Orders waiting for admission.',
      unit: 'short',
      w: 4,
      h: 4,
      queries: [q(`sum(${orders('{state="pending"}')})`, 'pending')],
    },
    {
      type: 'timeseries',
      title: 'GPU nodes by pool and mode',
      description: 'GPU nodes per pool by mode, stacked: serving, hashing, idle, unknown.',
      unit: 'short',
      w: 12,
      h: 9,
      stack: true,
      queries: [q(`sum by (pool, mode) (switchyard_gpu_nodes{${S}, ${P}})`, '{{pool}} {{mode}}')],
    },
    {
      type: 'table',
      title: 'GPU nodes now',
      description: 'One row per pool, one column per mode.',
      unit: 'short',
      w: 12,
      h: 9,
      matrix: { rows: 'pool', columns: 'mode' },
      queries: [q(`sum by (pool, mode) (switchyard_gpu_nodes{${S}, ${P}})`, '{{pool}} {{mode}}')],
    },
    {
      type: 'timeseries',
      title: 'Open orders by state',
      description: 'Orders pending, admitted, running or being preempted (every broker).',
      unit: 'short',
      w: 12,
      h: 9,
      stack: true,
      queries: [
        q(`sum by (state) (${orders('{state=~"pending|admitted|running|preempting"}')})`, '{{state}}'),
      ],
    },
    {
      type: 'timeseries',
      title: 'Admitted and running vs pending',
      description: 'Orders the plans took (admitted or running) against those still waiting.',
      unit: 'short',
      w: 12,
      h: 9,
      queries: [
        q(`sum(${orders('{state=~"admitted|running"}')})`, 'admitted + running'),
        q(`sum(${orders('{state="pending"}')})`, 'pending'),
      ],
    },
    {
      type: 'table',
      title: 'Orders by state and tier',
      description: 'Every order in the database, by state and tier.',
      unit: 'short',
      w: 12,
      h: 9,
      matrix: { rows: 'state', columns: 'tier' },
      queries: [q(orders(''), '{{state}} {{tier}}')],
    },
    {
      type: 'timeseries',
      title: 'Preemptions',
      description: 'Preemption notices sent (orders entering preempting) and orders preempted, per interval.',
      unit: 'short',
      w: 12,
      h: 9,
      bars: true,
      queries: [
        q(`max(increase(switchyard_order_transitions_total{to="preempting"}[${RI}]))`, 'notices'),
        q(`max(increase(switchyard_order_transitions_total{to="preempted"}[${RI}]))`, 'preempted'),
      ],
    },
    {
      type: 'timeseries',
      title: 'Order transitions',
      description: 'Order state changes by the state entered, per interval.',
      unit: 'short',
      w: 12,
      h: 9,
      bars: true,
      queries: [q(`max by (to) (increase(switchyard_order_transitions_total[${RI}]))`, '{{to}}')],
    },
    {
      type: 'timeseries',
      title: 'GPU power by use',
      description: 'GPU draw by use, stacked (idle includes nodes not seen, at their highest draw).',
      unit: 'kwatt',
      w: 12,
      h: 9,
      stack: true,
      queries: [
        q(`sum by (use) (switchyard_power_kw{${S}, use=~"inference|gpu_hashing|gpu_idle"})`, '{{use}}'),
      ],
    },
    {
      type: 'timeseries',
      title: 'GPU revenue',
      description: 'Revenue rate of the last plan from inference and from GPU hashing (USD/h).',
      unit: 'currencyUSD',
      w: 12,
      h: 9,
      queries: [
        q(`sum by (use) (switchyard_revenue_usd_per_hour{${S}, use=~"inference|gpu_hashing"})`, '{{use}}'),
      ],
    },
    {
      type: 'timeseries',
      title: 'GPU reference price',
      description: 'GPU reference price in use per GPU model (USD per GPU-hour).',
      unit: 'currencyUSD',
      w: 12,
      h: 9,
      queries: [q('max by (gpu_model) (switchyard_gpu_price_usd_per_gpu_hour)', '{{gpu_model}}')],
    },
  ],
};

const grid: DashboardDef = {
  uid: 'switchyard-grid',
  title: 'Switchyard / Grid',
  description: 'Grid dispatches in force and how well the site keeps under them.',
  annotations: [
    {
      name: 'Dispatch in force',
      expr: `max by (site) (switchyard_dispatch_active{${S}}) > bool 0`,
      title: 'Grid dispatch',
      text: '{{ site }}: a grid dispatch is in force',
      color: 'rgba(255, 120, 10, 1)',
    },
  ],
  panels: [
    {
      type: 'stat',
      title: 'Dispatches in force',
      description: 'Grid dispatches binding the site now.',
      unit: 'short',
      w: 6,
      h: 4,
      thresholds: [[1, 'orange']],
      queries: [q(`sum(switchyard_dispatch_active{${S}})`, 'in force')],
    },
    {
      type: 'stat',
      title: 'Dispatch cap',
      description: 'Facility cap of the tightest dispatch in force; no value when none is.',
      unit: 'kwatt',
      w: 6,
      h: 4,
      base: 'blue',
      queries: [q(`min(switchyard_dispatch_cap_kw{${S}})`, 'cap')],
    },
    {
      type: 'stat',
      title: 'Facility load',
      description: 'Load at the interconnect meter.',
      unit: 'kwatt',
      w: 6,
      h: 4,
      queries: [q(`sum(switchyard_site_load_kw{${S}})`, 'load')],
    },
    {
      type: 'stat',
      title: 'Compliance, 24 h',
      description:
        'Share of the time under a dispatch in the last 24 hours that the metered load was at or below the cap; no value without a dispatch in that time.',
      unit: 'percentunit',
      w: 6,
      h: 4,
      base: 'red',
      thresholds: [
        [0.95, 'orange'],
        [0.99, 'green'],
      ],
      queries: [q(compliance('24h'), '{{site}}')],
    },
    {
      type: 'timeseries',
      title: 'Facility load vs dispatch cap',
      description:
        'Metered facility load, the cap of the tightest dispatch in force (dashed) and the site cap.',
      unit: 'kwatt',
      w: 24,
      h: 9,
      dashed: ['B'],
      queries: [
        q(siteLoad, '{{site}} load'),
        q(`min by (site) (switchyard_dispatch_cap_kw{${S}})`, '{{site}} dispatch cap'),
        q(siteCap, '{{site}} site cap'),
      ],
    },
    {
      type: 'timeseries',
      title: 'Dispatches in force',
      description: 'Grid dispatches binding the site.',
      unit: 'short',
      w: 12,
      h: 8,
      steps: true,
      queries: [q(`max by (site) (switchyard_dispatch_active{${S}})`, '{{site}}')],
    },
    {
      type: 'timeseries',
      title: 'Time over cap',
      description:
        'Seconds under a dispatch per interval, and of those the seconds with the load above the cap.',
      unit: 's',
      w: 12,
      h: 8,
      bars: true,
      queries: [q(overCap(RI), '{{site}} over cap'), q(dispatchSeconds(RI), '{{site}} under dispatch')],
    },
    {
      type: 'timeseries',
      title: 'Compliance, last hour',
      description:
        '1 − seconds over the cap ÷ seconds under a dispatch, over the hour before each point; no value without a dispatch in that hour.',
      unit: 'percentunit',
      w: 24,
      h: 8,
      min: 0,
      max: 1,
      base: 'red',
      thresholds: [
        [0.95, 'orange'],
        [0.99, 'green'],
      ],
      thresholdLines: true,
      queries: [q(compliance('1h'), '{{site}}')],
    },
  ],
};

const controlPlane: DashboardDef = {
  uid: 'switchyard-control-plane',
  title: 'Switchyard / Control plane',
  description: 'Leadership, cycles, plans, queues, jobs, signals, the API and the processes.',
  panels: [
    {
      type: 'stat',
      title: 'Leader',
      description: 'The controller instance holding the leader lease.',
      unit: 'short',
      w: 6,
      h: 4,
      showName: true,
      queries: [q(`max by (site, instance) (switchyard_controller_leader{${S}}) == 1`, '{{instance}}')],
    },
    {
      type: 'stat',
      title: 'Leaders won, 24 h',
      description: 'Times a controller won the lease in the last 24 hours, over every controller.',
      unit: 'short',
      w: 4,
      h: 4,
      decimals: 0,
      thresholds: [[4, 'orange']],
      queries: [
        q(
          `sum(increase(switchyard_controller_leader_changes_total{${S}, change="won"}[24h]))`,
          'leaders won',
        ),
      ],
    },
    {
      type: 'stat',
      title: 'Solver fallbacks, 24 h',
      description: 'Plans for which MILP was asked but the greedy plan was used.',
      unit: 'short',
      w: 4,
      h: 4,
      decimals: 0,
      thresholds: [[3, 'orange']],
      queries: [q(`sum(increase(switchyard_plan_fallbacks_total{${S}}[24h]))`, 'fallbacks')],
    },
    {
      type: 'stat',
      title: 'Stale signals',
      description: 'Signals whose value in use is stale or a worst-case stand-in.',
      unit: 'short',
      w: 4,
      h: 4,
      thresholds: [[1, 'orange']],
      queries: [q('sum(max by (signal, subject) (switchyard_signal_stale))', 'stale')],
    },
    {
      type: 'stat',
      title: 'Jobs failed, 1 h',
      description: 'Job attempts that failed for good in the last hour.',
      unit: 'short',
      w: 6,
      h: 4,
      decimals: 0,
      thresholds: [[1, 'orange']],
      queries: [
        q(
          'sum(increase(switchyard_worker_jobs_total{outcome="failed"}[1h])) or sum(increase(switchyard_worker_jobs_total[1h])) * 0',
          'failed',
        ),
      ],
    },
    {
      type: 'timeseries',
      title: 'Leadership by instance',
      description: '1 while a controller holds the leader lease. One line at 1 at any time.',
      unit: 'short',
      w: 8,
      h: 8,
      steps: true,
      min: 0,
      max: 1,
      queries: [q(`max by (site, instance) (switchyard_controller_leader{${S}})`, '{{instance}}')],
    },
    {
      type: 'timeseries',
      title: 'Leader changes',
      description: 'Leases won and lost per interval, by controller.',
      unit: 'short',
      w: 8,
      h: 8,
      bars: true,
      queries: [
        q(
          `sum by (instance, change) (increase(switchyard_controller_leader_changes_total{${S}}[${RI}]))`,
          '{{instance}} {{change}}',
        ),
      ],
    },
    {
      type: 'timeseries',
      title: 'Fencing epoch',
      description:
        "The leader's fencing epoch. It rises with every new leader and every re-plan after a cut-short cycle.",
      unit: 'short',
      w: 8,
      h: 8,
      steps: true,
      queries: [q(`max by (site) (switchyard_controller_epoch{${S}})`, '{{site}}')],
    },
    {
      type: 'timeseries',
      title: 'Cycles by outcome',
      description:
        'Control cycles per interval by outcome: dispatched, not-leader, lost-lease, preempted, failed.',
      unit: 'short',
      w: 8,
      h: 8,
      bars: true,
      stack: true,
      queries: [q(`sum by (outcome) (increase(switchyard_controller_cycles_total[${RI}]))`, '{{outcome}}')],
    },
    {
      type: 'timeseries',
      title: 'Cycles by trigger',
      description: 'Control cycles per interval by what started them.',
      unit: 'short',
      w: 8,
      h: 8,
      bars: true,
      stack: true,
      queries: [q(`sum by (trigger) (increase(switchyard_controller_cycles_total[${RI}]))`, '{{trigger}}')],
    },
    {
      type: 'timeseries',
      title: 'Trigger → dispatch latency',
      description: 'Time from a trigger to its sequence being handed to the queues, p50 and p95 by trigger.',
      unit: 's',
      w: 8,
      h: 8,
      queries: [
        q(quantile(0.5, 'switchyard_controller_trigger_to_dispatch_seconds', 'trigger'), 'p50 {{trigger}}'),
        q(quantile(0.95, 'switchyard_controller_trigger_to_dispatch_seconds', 'trigger'), 'p95 {{trigger}}'),
      ],
    },
    {
      type: 'timeseries',
      title: 'Plan duration by solver',
      description: 'Time to make a plan, p50 and p95, by the solver that produced it (milp, greedy).',
      unit: 's',
      w: 8,
      h: 8,
      queries: [
        q(quantile(0.5, 'switchyard_plan_duration_seconds', 'solver', `{${S}}`), 'p50 {{solver}}'),
        q(quantile(0.95, 'switchyard_plan_duration_seconds', 'solver', `{${S}}`), 'p95 {{solver}}'),
      ],
    },
    {
      type: 'timeseries',
      title: 'Plans by solver and fallbacks',
      description: 'Plans per interval by solver, and plans that fell back from MILP to greedy.',
      unit: 'short',
      w: 8,
      h: 8,
      bars: true,
      queries: [
        q(`sum by (solver) (increase(switchyard_plans_total{${S}}[${RI}]))`, '{{solver}}'),
        q(`sum(increase(switchyard_plan_fallbacks_total{${S}}[${RI}]))`, 'fallbacks'),
      ],
    },
    {
      type: 'timeseries',
      title: 'Sequence phases',
      description: 'Shed, confirm and add phases per interval by status.',
      unit: 'short',
      w: 8,
      h: 8,
      bars: true,
      queries: [
        q(
          `sum by (kind, status) (increase(switchyard_controller_phases_total[${RI}]))`,
          '{{kind}} {{status}}',
        ),
      ],
    },
    {
      type: 'timeseries',
      title: 'Queue depth by queue and state',
      description:
        'BullMQ jobs waiting, prioritized, delayed, active or waiting for children, by queue (max over API replicas).',
      unit: 'short',
      w: 12,
      h: 9,
      queries: [
        q(
          'max by (queue, state) (switchyard_queue_jobs{state=~"waiting|prioritized|delayed|active|waiting-children"})',
          '{{queue}} {{state}}',
        ),
      ],
    },
    {
      type: 'table',
      title: 'Queues now',
      description: 'Jobs per queue and state now; failed and completed are what retention keeps.',
      unit: 'short',
      w: 12,
      h: 9,
      matrix: { rows: 'queue', columns: 'state' },
      queries: [q('max by (queue, state) (switchyard_queue_jobs)', '{{queue}} {{state}}')],
    },
    {
      type: 'timeseries',
      title: 'Action latency by job',
      description: 'Time from a job being enqueued to its last attempt finishing, p50 and p95 by job.',
      unit: 's',
      w: 12,
      h: 9,
      queries: [
        q(quantile(0.5, 'switchyard_action_latency_seconds', 'job_name'), 'p50 {{job_name}}'),
        q(quantile(0.95, 'switchyard_action_latency_seconds', 'job_name'), 'p95 {{job_name}}'),
      ],
    },
    {
      type: 'timeseries',
      title: 'Job attempts by outcome (per second)',
      description:
        'Job attempts by queue and outcome: completed, dropped (fenced), retried, failed for good.',
      unit: 'short',
      w: 12,
      h: 9,
      queries: [
        q(`sum by (queue, outcome) (rate(switchyard_worker_jobs_total[${RI}]))`, '{{queue}} {{outcome}}'),
      ],
    },
    {
      type: 'timeseries',
      title: 'Signal ages',
      description:
        'Age of the value in use for each signal, by source (seconds since it stopped being current).',
      unit: 's',
      w: 12,
      h: 9,
      queries: [
        q(
          'max by (signal, subject, source) (switchyard_signal_age_seconds)',
          '{{signal}} {{subject}} ({{source}})',
        ),
      ],
    },
    {
      type: 'timeseries',
      title: 'Stale signals',
      description: '1 while the value in use for a signal is stale or a worst-case stand-in.',
      unit: 'short',
      w: 12,
      h: 9,
      steps: true,
      min: 0,
      max: 1,
      queries: [q('max by (signal, subject) (switchyard_signal_stale)', '{{signal}} {{subject}}')],
    },
    {
      type: 'timeseries',
      title: 'API requests by route (per second)',
      description: 'API requests per second by route pattern.',
      unit: 'short',
      w: 8,
      h: 9,
      queries: [
        q(`sum by (route) (rate(switchyard_http_request_duration_seconds_count[${RI}]))`, '{{route}}'),
      ],
    },
    {
      type: 'timeseries',
      title: 'API p95 by route',
      description: 'API request duration, p95 by route pattern.',
      unit: 's',
      w: 8,
      h: 9,
      queries: [q(quantile(0.95, 'switchyard_http_request_duration_seconds', 'route'), '{{route}}')],
    },
    {
      type: 'timeseries',
      title: 'API responses by status (per second)',
      description: 'API responses per second by status code.',
      unit: 'short',
      w: 8,
      h: 9,
      queries: [
        q(`sum by (status) (rate(switchyard_http_request_duration_seconds_count[${RI}]))`, '{{status}}'),
      ],
    },
    {
      type: 'timeseries',
      title: 'Process CPU',
      description: 'CPU used by each Switchyard process (1 = one core).',
      unit: 'percentunit',
      w: 8,
      h: 9,
      queries: [
        q(
          switchyardProcesses(`sum by (job, instance) (rate(process_cpu_seconds_total[${RI}]))`),
          '{{job}} {{instance}}',
        ),
      ],
    },
    {
      type: 'timeseries',
      title: 'Process memory',
      description: 'Resident memory and V8 heap used by each Switchyard process.',
      unit: 'bytes',
      w: 8,
      h: 9,
      queries: [
        q(
          switchyardProcesses('max by (job, instance) (process_resident_memory_bytes)'),
          'rss {{job}} {{instance}}',
        ),
        q(
          switchyardProcesses('max by (job, instance) (nodejs_heap_size_used_bytes)'),
          'heap {{job}} {{instance}}',
        ),
      ],
    },
    {
      type: 'timeseries',
      title: 'Event-loop lag',
      description:
        'Event-loop lag of each Switchyard process; the API sheds load past API_SHED_EVENT_LOOP_DELAY_MS.',
      unit: 's',
      w: 8,
      h: 9,
      queries: [
        q(
          switchyardProcesses('max by (job, instance) (nodejs_eventloop_lag_seconds)'),
          '{{job}} {{instance}}',
        ),
      ],
    },
  ],
};

const DASHBOARDS: DashboardDef[] = [farmOverview, powerSafety, fleetHealth, gpusBrokers, grid, controlPlane];

// ---------------------------------------------------------------- rendering

function thresholdSteps(p: PanelDef): Json {
  return {
    mode: 'absolute',
    steps: [
      { color: p.base ?? 'green', value: null },
      ...(p.thresholds ?? []).map(([value, color]) => ({ color, value })),
    ],
  };
}

function overrides(p: PanelDef): Json[] {
  const out: Json[] = [];
  for (const refId of p.dashed ?? [])
    out.push({
      matcher: { id: 'byFrameRefID', options: refId },
      properties: [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } }],
    });
  for (const refId of p.rightAxis ?? [])
    out.push({
      matcher: { id: 'byFrameRefID', options: refId },
      properties: [{ id: 'custom.axisPlacement', value: 'right' }],
    });
  if (p.columns)
    p.columns.names.forEach((name, i) => {
      const unit = p.columns?.units[i];
      const props: Json[] = [{ id: 'unit', value: unit }];
      if (unit === 'percentunit')
        props.push(
          { id: 'thresholds', value: thresholdSteps(p) },
          { id: 'custom.cellOptions', value: { type: 'color-text' } },
        );
      out.push({ matcher: { id: 'byName', options: name }, properties: props });
    });
  return out;
}

function fieldDefaults(p: PanelDef): Json {
  const d: Json = {
    unit: p.unit,
    color: { mode: p.type === 'timeseries' ? 'palette-classic' : 'thresholds' },
  };
  if (p.min !== undefined) d.min = p.min;
  if (p.max !== undefined) d.max = p.max;
  if (p.decimals !== undefined) d.decimals = p.decimals;
  d.thresholds = thresholdSteps(p);
  if (p.type === 'timeseries')
    d.custom = {
      drawStyle: p.bars ? 'bars' : 'line',
      lineInterpolation: p.steps ? 'stepAfter' : 'linear',
      lineWidth: 1,
      fillOpacity: p.stack || p.bars ? 40 : 0,
      showPoints: 'never',
      spanNulls: false,
      axisPlacement: 'auto',
      stacking: { mode: p.stack ? 'normal' : 'none', group: 'A' },
      thresholdsStyle: { mode: p.thresholdLines ? 'dashed' : 'off' },
    };
  if (p.type === 'table') d.custom = { align: 'auto', cellOptions: { type: 'auto' } };
  return d;
}

function options(p: PanelDef): Json {
  const reduce = { calcs: ['lastNotNull'], fields: '', values: false };
  switch (p.type) {
    case 'timeseries':
      return {
        legend: { displayMode: 'list', placement: 'bottom', showLegend: true, calcs: [] },
        tooltip: { mode: 'multi', sort: 'desc' },
      };
    case 'stat':
      return {
        reduceOptions: reduce,
        colorMode: 'value',
        graphMode: p.showName ? 'none' : 'area',
        justifyMode: 'auto',
        orientation: 'auto',
        textMode: p.showName ? 'name' : 'auto',
      };
    case 'gauge':
      return { reduceOptions: reduce, showThresholdLabels: false, showThresholdMarkers: true };
    case 'bargauge':
      return {
        reduceOptions: reduce,
        displayMode: 'gradient',
        orientation: 'horizontal',
        showUnfilled: true,
        valueMode: 'color',
      };
    case 'table':
      return { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], fields: '' } };
  }
}

function transformations(p: PanelDef): Json[] {
  if (p.matrix)
    return [
      {
        id: 'groupingToMatrix',
        options: { rowField: p.matrix.rows, columnField: p.matrix.columns, valueField: 'Value' },
      },
    ];
  if (p.columns) {
    const rename: Record<string, string> = {};
    const index: Record<string, number> = {};
    p.columns.by.forEach((label, i) => (index[label] = i));
    p.columns.names.forEach((name, i) => {
      rename[`Value #${REF_IDS[i]}`] = name;
      index[`Value #${REF_IDS[i]}`] = p.columns!.by.length + i;
    });
    return [
      { id: 'merge', options: {} },
      {
        id: 'organize',
        options: { excludeByName: { Time: true }, indexByName: index, renameByName: rename },
      },
    ];
  }
  return [];
}

/** Instant queries for panels that show "now"; ranges for the rest. */
const isInstant = (p: PanelDef) => p.type === 'table' || p.type === 'bargauge';

function panel(p: PanelDef, id: number, gridPos: Json): Json {
  const instant = isInstant(p);
  const out: Json = {
    id,
    type: p.type,
    title: p.title,
    description: p.description,
    datasource: DS,
    gridPos,
    fieldConfig: { defaults: fieldDefaults(p), overrides: overrides(p) },
    options: options(p),
    targets: p.queries.map((t, i) => ({
      datasource: DS,
      refId: REF_IDS[i],
      expr: t.expr,
      legendFormat: t.legend,
      editorMode: 'code',
      range: !instant,
      instant,
      ...(p.type === 'table' ? { format: 'table' } : {}),
    })),
  };
  const tx = transformations(p);
  if (tx.length) out.transformations = tx;
  return out;
}

/** Lays the panels out left to right, wrapping at 24 columns. */
function layout(panels: PanelDef[]): Json[] {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  return panels.map((p, i) => {
    if (x + p.w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const gridPos = { h: p.h, w: p.w, x, y };
    x += p.w;
    rowHeight = Math.max(rowHeight, p.h);
    return panel(p, i + 1, gridPos);
  });
}

function templating(d: DashboardDef): Json {
  const query = (name: string, label: string, expr: string): Json => ({
    name,
    label,
    type: 'query',
    datasource: DS,
    query: expr,
    definition: expr,
    refresh: 2,
    includeAll: true,
    multi: true,
    allValue: '.*',
    current: { selected: true, text: ['All'], value: ['$__all'] },
    options: [],
    regex: '',
    sort: 1,
    hide: 0,
  });
  const list: Json[] = [
    {
      name: 'datasource',
      label: 'Data source',
      type: 'datasource',
      query: 'prometheus',
      current: {},
      options: [],
      refresh: 1,
      regex: '',
      hide: 0,
    },
    query('site', 'Site', 'label_values(switchyard_site_load_kw, site)'),
  ];
  if (d.pools)
    list.push(query('pool', 'GPU pool', 'label_values(switchyard_gpu_nodes{site=~"$site"}, pool)'));
  return { list };
}

function dashboard(d: DashboardDef): Json {
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ['switchyard'],
    schemaVersion: 39,
    version: 1,
    editable: true,
    graphTooltip: 1,
    timezone: 'browser',
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    timepicker: {},
    fiscalYearStartMonth: 0,
    liveNow: false,
    links: [
      {
        type: 'dashboards',
        title: 'Switchyard',
        tags: ['switchyard'],
        asDropdown: true,
        includeVars: true,
        keepTime: true,
        icon: 'external link',
        targetBlank: false,
        tooltip: '',
        url: '',
      },
    ],
    annotations: {
      list: (d.annotations ?? []).map((a) => ({
        name: a.name,
        datasource: DS,
        enable: true,
        hide: false,
        iconColor: a.color,
        expr: a.expr,
        step: '60s',
        titleFormat: a.title,
        textFormat: a.text,
        tagKeys: 'site',
        useValueForTime: false,
      })),
    },
    templating: templating(d),
    panels: layout(d.panels),
  };
}

// ---------------------------------------------------------------- files

async function render(): Promise<Map<string, string>> {
  const config = (await resolveConfig(path.join(ROOT, 'grafana', 'x.json'))) ?? {};
  const files = new Map<string, string>();
  for (const d of DASHBOARDS)
    files.set(`${d.uid}.json`, await format(JSON.stringify(dashboard(d)), { ...config, parser: 'json' }));
  return files;
}

const { values } = parseArgs({
  options: {
    check: { type: 'boolean', default: false },
    dir: { type: 'string', default: path.join(ROOT, 'grafana') },
  },
});
const dir = path.resolve(values.dir);
const shown = (file: string) => path.relative(process.cwd(), path.join(dir, file)) || file;

const files = await render();
const existing = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
const extra = existing.filter((f) => !files.has(f));
const stale: string[] = [];
for (const [file, text] of files) {
  const current = await readFile(path.join(dir, file), 'utf8').catch(() => undefined);
  if (current !== text) stale.push(file);
}

if (values.check) {
  for (const f of stale) console.error(`${shown(f)} is missing or out of date`);
  for (const f of extra) console.error(`${shown(f)} is not generated by any dashboard`);
  if (stale.length + extra.length > 0) {
    console.error('run scripts/grafana');
    process.exitCode = 1;
  } else console.log(`${files.size} dashboards in ${shown('')} are up to date`);
} else {
  await mkdir(dir, { recursive: true });
  for (const f of stale) await writeFile(path.join(dir, f), files.get(f)!);
  for (const f of extra) await rm(path.join(dir, f));
  for (const f of stale) console.log(`wrote ${shown(f)}`);
  for (const f of extra) console.log(`removed ${shown(f)}`);
  if (stale.length + extra.length === 0)
    console.log(`${files.size} dashboards in ${shown('')} are up to date`);
}
