import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import {
  formatIssue,
  parseFarmYaml,
  validateFarmResources,
  type Farm,
  type FarmIssue,
  type FarmParseResult,
} from './farm-loader.ts';
import { endpointCount, expandEndpoints } from './endpoints.ts';
import { findMinerModel } from './miner-models.ts';
import { MINER_DRIVERS } from './resource-schema.ts';

// ---------------------------------------------------------------- helpers

type Json = Record<string, unknown>;

function issuesOf(result: FarmParseResult): FarmIssue[] {
  if (result.ok) throw new Error('expected the farm to be rejected, but it loaded');
  return result.issues;
}

function farmOf(result: FarmParseResult): Farm {
  if (!result.ok)
    throw new Error(`expected the farm to load:\n${result.issues.map((i) => formatIssue(i)).join('\n')}`);
  return result.farm;
}

const messages = (result: FarmParseResult): string[] => issuesOf(result).map((i) => formatIssue(i));

/** "spec.powerTree.children[0].limitKw" -> ["spec", "powerTree", "children", 0, "limitKw"] */
function splitPath(path: string): Array<string | number> {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) =>
    m[2] !== undefined ? Number(m[2]) : (m[1] as string),
  );
}

/** Sets a field inside `target`, creating objects (and array slots) on the way. */
function setIn(target: Json, path: string, value: unknown): void {
  const keys = splitPath(path);
  let node = target as Record<string | number, unknown>;
  keys.slice(0, -1).forEach((k, i) => {
    if (node[k] === undefined) node[k] = typeof keys[i + 1] === 'number' ? [] : {};
    node = node[k] as Record<string | number, unknown>;
  });
  node[keys.at(-1) as string | number] = value;
}

/** A farm under construction: whole documents addressed by "Kind/name", fields by issue-style paths. */
class FarmBuilder {
  readonly docs: Json[];

  constructor(docs: Json[]) {
    this.docs = structuredClone(docs);
  }

  doc(id: string): Json {
    const d = this.docs.find(
      (x) => `${String(x.kind)}/${String((x.metadata as Json | undefined)?.name)}` === id,
    );
    if (!d) throw new Error(`no document ${id} in the test farm`);
    return d;
  }

  set(id: string, path: string, value: unknown): this {
    setIn(this.doc(id), path, value);
    return this;
  }

  /** Removes a field. */
  drop(id: string, path: string): this {
    const keys = splitPath(path);
    let node = this.doc(id) as Record<string | number, unknown>;
    for (const k of keys.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
    delete node[keys.at(-1) as string | number];
    return this;
  }

  /** Appends a copy of document `id` with some fields changed. */
  copy(id: string, changes: Record<string, unknown>): this {
    const clone = structuredClone(this.doc(id));
    for (const [path, value] of Object.entries(changes)) setIn(clone, path, value);
    this.docs.push(clone);
    return this;
  }

  add(doc: unknown): this {
    this.docs.push(doc as Json);
    return this;
  }

  yaml(): string {
    return this.docs.map((d) => stringify(d)).join('---\n');
  }

  objects(): unknown[] {
    return structuredClone(this.docs);
  }
}

const API = 'switchyard.io/v1alpha1';

/** A small farm that passes every rule: one site, one policy, a known-model fleet, a custom fleet, a GPU pool. */
const MINIMAL: Json[] = [
  {
    apiVersion: API,
    kind: 'Site',
    metadata: { name: 'west' },
    spec: {
      interconnectKw: 5000,
      marketNode: 'HB_WEST',
      pue: 1.1,
      powerTree: {
        name: 'main',
        limitKw: 5000,
        children: [
          { name: 'pdu-1', type: 'pdu', limitKw: 2500 },
          { name: 'pdu-2', type: 'pdu', limitKw: 2500 },
        ],
      },
      coolingZones: [{ name: 'zone-a', capacityKw: 5000 }],
    },
  },
  { apiVersion: API, kind: 'AllocationPolicy', metadata: { name: 'west-policy' }, spec: { site: 'west' } },
  {
    apiVersion: API,
    kind: 'MinerFleet',
    metadata: { name: 's19' },
    spec: {
      site: 'west',
      feed: 'pdu-1',
      coolingZone: 'zone-a',
      model: 'S19 Pro',
      driver: 'antminer',
      endpoints: { cidr: '10.0.0.0/24', count: 100 },
    },
  },
  {
    apiVersion: API,
    kind: 'MinerFleet',
    metadata: { name: 'custom' },
    spec: {
      site: 'west',
      feed: 'pdu-2',
      coolingZone: 'zone-a',
      model: 'Custom X1',
      driver: 'braiins',
      endpoints: { addresses: ['10.0.1.1', '10.0.1.2:8080', 'miner-3.lan'] },
      profiles: [
        { name: 'low', powerW: 2000, hashrateThs: 100 },
        { name: 'high', powerW: 3000, hashrateThs: 140 },
      ],
      nameplateW: 3100,
      sleepW: 20,
    },
  },
  {
    apiVersion: API,
    kind: 'GpuPool',
    metadata: { name: 'h100' },
    spec: {
      site: 'west',
      feed: 'pdu-2',
      coolingZone: 'zone-a',
      nodeSelector: { 'switchyard.io/pool': 'h100' },
      nodes: 4,
      gpuModel: 'H100-SXM-80GB',
      gpusPerNode: 8,
      vramGiB: 80,
      nodePowerKw: { idle: 1.6, serving: 10.2, hashing: 8.4 },
      hashing: { enabled: true, image: 'ghcr.io/switchyard/gpu-hasher:1.4.0' },
    },
  },
];

const farm = () => new FarmBuilder(MINIMAL);

/** The minimal farm's YAML with one line's text replaced (for mutations objects cannot express). */
function editYaml(find: string, replace: string): string {
  const text = farm().yaml();
  if (!text.includes(find)) throw new Error(`"${find}" is not in the minimal farm's YAML`);
  return text.replace(find, replace);
}

/** 1-based number of the line of `text` that contains `needle` (exactly one must). */
function lineContaining(text: string, needle: string): number {
  const lines = text.split('\n');
  const hits = lines.flatMap((l, i) => (l.includes(needle) ? [i + 1] : []));
  if (hits.length !== 1) throw new Error(`"${needle}" is on ${hits.length} lines`);
  return hits[0] as number;
}

const SITE = 'Site/west';
const POLICY = 'AllocationPolicy/west-policy';
const S19 = 'MinerFleet/s19';
const CUSTOM = 'MinerFleet/custom';
const POOL = 'GpuPool/h100';

// ---------------------------------------------------------------- the example farm

describe('the example farm (examples/farm.yaml)', () => {
  const text = readFileSync(join(__dirname, '../../../../examples/farm.yaml'), 'utf8');
  const result = parseFarmYaml(text);

  it('loads without issues', () => {
    expect(result.ok ? [] : result.issues.map((i) => formatIssue(i))).toEqual([]);
  });

  it('has 1 site, 1 policy, 17 fleets and 2 GPU pools', () => {
    const f = farmOf(result);
    expect(f.sites.map((s) => s.metadata.name)).toEqual(['west-1']);
    expect(f.policies.map((p) => p.spec.site)).toEqual(['west-1']);
    expect(f.fleets).toHaveLength(17);
    expect(f.pools.map((p) => p.metadata.name)).toEqual(['h100-a', 'h200-b']);
  });

  it('has exactly 10,000 miners', () => {
    const f = farmOf(result);
    expect(f.fleets.reduce((n, fleet) => n + endpointCount(fleet.spec), 0)).toBe(10_000);
    expect(f.fleets.reduce((n, fleet) => n + expandEndpoints(fleet.spec).length, 0)).toBe(10_000);
  });

  it('uses all four drivers and at least 3 known models', () => {
    const f = farmOf(result);
    expect(new Set(f.fleets.map((x) => x.spec.driver))).toEqual(new Set(MINER_DRIVERS));
    const models = new Set(f.fleets.map((x) => findMinerModel(x.spec.model)?.model));
    expect(models.has(undefined)).toBe(false);
    expect(models.size).toBeGreaterThanOrEqual(3);
  });

  it('gives every miner its own endpoint', () => {
    const all = farmOf(result).fleets.flatMap((x) =>
      expandEndpoints(x.spec).map((e) => `${e.host}:${e.port}`),
    );
    expect(all).toHaveLength(10_000);
    expect(new Set(all).size).toBe(10_000);
    expect(new Set(all.map((a) => a.split(':')[0])).size).toBe(10_000);
  });

  it('fills in the policy defaults and keeps explicit values', () => {
    const [policy] = farmOf(result).policies;
    expect(policy?.spec).toMatchObject({
      intervalSeconds: 300,
      safetyMarginPct: 5,
      rampKwPerMin: 4000,
      reserveKw: 0,
    });
  });
});

// ---------------------------------------------------------------- the minimal farm

describe('the minimal test farm', () => {
  it('is valid as YAML and as objects', () => {
    const f = farmOf(parseFarmYaml(farm().yaml()));
    expect([f.sites.length, f.policies.length, f.fleets.length, f.pools.length]).toEqual([1, 1, 2, 1]);
    expect(validateFarmResources(farm().objects()).ok).toBe(true);
  });

  it('applies the policy defaults', () => {
    const [policy] = farmOf(parseFarmYaml(farm().yaml())).policies;
    expect(policy?.spec).toEqual({
      site: 'west',
      intervalSeconds: 300,
      safetyMarginPct: 5,
      rampKwPerMin: 2000,
      minDwellSeconds: 900,
      hysteresisUsdPerMwh: 5,
      maxCyclesPerDay: 4,
      wearCostUsdPerCycle: 0.5,
      poolFeePct: 2,
      reserveKw: 0,
    });
  });

  it('tolerates empty documents between separators and a leading separator', () => {
    const f = farmOf(parseFarmYaml(`---\n${farm().yaml()}---\n---\n`));
    expect(f.fleets).toHaveLength(2);
  });
});

// ---------------------------------------------------------------- malformed farms

interface BadCase {
  name: string;
  source: FarmBuilder | string;
  expected: string[];
}

const DRIVERS_LIST = 'one of "antminer"|"luxos"|"braiins"|"whatsminer"';

const badCases: BadCase[] = [
  // document shape
  {
    name: 'wrong apiVersion',
    source: farm().set(SITE, 'apiVersion', 'switchyard.io/v1'),
    expected: ['Site/west apiVersion: must be "switchyard.io/v1alpha1" (got "switchyard.io/v1")'],
  },
  {
    name: 'missing apiVersion',
    source: farm().drop(POLICY, 'apiVersion'),
    expected: ['AllocationPolicy/west-policy apiVersion: must be "switchyard.io/v1alpha1" (got undefined)'],
  },
  {
    name: 'unknown kind',
    source: farm().set(POOL, 'kind', 'GPUPool'),
    expected: [
      'GPUPool/h100 kind: must be one of Site, MinerFleet, GpuPool, AllocationPolicy (got "GPUPool")',
    ],
  },
  {
    name: 'missing metadata.name (the document is named by its position)',
    source: farm().drop(S19, 'metadata.name'),
    expected: ['document 3 metadata.name: is required (string)'],
  },
  {
    name: 'name that is not a DNS-1123 label',
    source: farm().set(S19, 'metadata.name', 'Rack_A1'),
    expected: [
      'MinerFleet/Rack_A1 metadata.name: must be a DNS-1123 label: lowercase letters, digits and "-", at most 63 characters',
    ],
  },
  {
    name: 'name longer than 63 characters',
    source: farm().set(S19, 'metadata.name', 'r'.repeat(64)),
    expected: [
      `MinerFleet/${'r'.repeat(64)} metadata.name: must be a DNS-1123 label: lowercase letters, digits and "-", at most 63 characters`,
    ],
  },
  {
    name: 'unknown field in spec',
    source: farm().set(S19, 'spec.colour', 'red'),
    expected: ['MinerFleet/s19 spec: unknown field(s) "colour"'],
  },
  {
    name: 'misspelt field in a power-tree node (unknown field and missing field)',
    source: farm()
      .drop(SITE, 'spec.powerTree.children[1].limitKw')
      .set(SITE, 'spec.powerTree.children[1].limitKW', 2500),
    expected: [
      'Site/west spec.powerTree.children[1].limitKw: is required (number)',
      'Site/west spec.powerTree.children[1]: unknown field(s) "limitKW"',
    ],
  },
  {
    name: 'missing required field',
    source: farm().drop(SITE, 'spec.marketNode'),
    expected: ['Site/west spec.marketNode: is required (string)'],
  },
  {
    name: 'missing endpoints',
    source: farm().drop(S19, 'spec.endpoints'),
    expected: ['MinerFleet/s19 spec.endpoints: is required (object)'],
  },
  // numbers
  {
    name: 'negative limitKw',
    source: farm().set(SITE, 'spec.powerTree.children[0].limitKw', -5),
    expected: ['Site/west spec.powerTree.children[0].limitKw: Too small: expected number to be >0'],
  },
  {
    name: 'string where a number is expected',
    source: farm().set(SITE, 'spec.powerTree.children[0].limitKw', '2500kW'),
    expected: [
      'Site/west spec.powerTree.children[0].limitKw: Invalid input: expected number, received string',
    ],
  },
  {
    name: 'fractional GPU count',
    source: farm().set(POOL, 'spec.gpusPerNode', 7.5),
    expected: ['GpuPool/h100 spec.gpusPerNode: Invalid input: expected int, received number'],
  },
  {
    name: 'driver outside the enum',
    source: farm().set(S19, 'spec.driver', 'cgminer'),
    expected: [`MinerFleet/s19 spec.driver: Invalid option: expected ${DRIVERS_LIST}`],
  },
  // the power tree and cooling
  {
    name: 'child limit above its parent',
    source: farm().set(SITE, 'spec.powerTree.children[0].limitKw', 6000),
    expected: [
      "Site/west spec.powerTree.children[0].limitKw: 6000 kW exceeds its parent main's limit of 5000 kW",
    ],
  },
  {
    name: 'power-tree root above the interconnect',
    source: farm().set(SITE, 'spec.powerTree.limitKw', 6000),
    expected: ["Site/west spec.powerTree.limitKw: 6000 kW exceeds the site's interconnect of 5000 kW"],
  },
  {
    name: 'duplicate power-tree node name',
    source: farm().set(SITE, 'spec.powerTree.children[2]', { name: 'pdu-1', limitKw: 100 }),
    expected: ['Site/west spec.powerTree.children[2].name: duplicate power-tree node "pdu-1"'],
  },
  {
    name: 'duplicate power-tree node name deeper in the tree',
    source: farm().set(SITE, 'spec.powerTree.children[1].children', [{ name: 'main', limitKw: 100 }]),
    expected: ['Site/west spec.powerTree.children[1].children[0].name: duplicate power-tree node "main"'],
  },
  {
    name: 'duplicate cooling zone',
    source: farm().set(SITE, 'spec.coolingZones[1]', { name: 'zone-a', capacityKw: 100 }),
    expected: ['Site/west spec.coolingZones[1].name: duplicate cooling zone "zone-a"'],
  },
  {
    name: 'fixed pricing without a price',
    source: farm().set(SITE, 'spec.energyContract', { pricing: 'fixed' }),
    expected: ['Site/west spec.energyContract.fixedUsdPerMwh: is required when pricing is "fixed"'],
  },
  // references
  {
    name: 'duplicate fleet name',
    source: farm().copy(S19, { 'spec.endpoints.cidr': '10.0.2.0/24' }),
    expected: ['MinerFleet/s19 metadata.name: duplicate MinerFleet name "s19"'],
  },
  {
    name: 'fleet referencing an unknown site',
    source: farm().set(S19, 'spec.site', 'east'),
    expected: ['MinerFleet/s19 spec.site: Site "east" is not defined'],
  },
  {
    name: 'fleet fed from a node outside the power tree',
    source: farm().set(S19, 'spec.feed', 'pdu-9'),
    expected: [`MinerFleet/s19 spec.feed: "pdu-9" is not a node of Site west's power tree`],
  },
  {
    name: 'unknown cooling zone',
    source: farm().set(POOL, 'spec.coolingZone', 'zone-z'),
    expected: ['GpuPool/h100 spec.coolingZone: "zone-z" is not a cooling zone of Site west'],
  },
  {
    name: 'an invalid site is reported once, not again by every fleet that uses it',
    source: farm().set(SITE, 'spec.pue', 0.9),
    expected: ['Site/west spec.pue: Too small: expected number to be >=1'],
  },
  // endpoints
  {
    name: 'CIDR without a prefix',
    source: farm().set(S19, 'spec.endpoints.cidr', '10.0.0.0'),
    expected: [
      'MinerFleet/s19 spec.endpoints.cidr: "10.0.0.0" is not a CIDR block (expected a.b.c.d/prefix)',
    ],
  },
  {
    name: 'CIDR with an octet above 255',
    source: farm().set(S19, 'spec.endpoints.cidr', '10.0.300.0/24'),
    expected: ['MinerFleet/s19 spec.endpoints.cidr: "10.0.300.0" is not an IPv4 address'],
  },
  {
    name: 'CIDR prefix above 32',
    source: farm().set(S19, 'spec.endpoints.cidr', '10.0.0.0/33'),
    expected: ['MinerFleet/s19 spec.endpoints.cidr: prefix /33 is out of range 0-32'],
  },
  {
    name: 'CIDR with host bits set',
    source: farm().set(S19, 'spec.endpoints.cidr', '10.0.0.5/24'),
    expected: [
      'MinerFleet/s19 spec.endpoints.cidr: "10.0.0.5/24" has host bits set (the block starts at 10.0.0.0/24)',
    ],
  },
  {
    name: 'count larger than the CIDR block',
    source: farm().set(S19, 'spec.endpoints.count', 300),
    expected: [
      'MinerFleet/s19 spec.endpoints.count: 300 miners do not fit in 10.0.0.0/24 (254 host addresses)',
    ],
  },
  {
    name: 'count without a cidr',
    source: farm().set(CUSTOM, 'spec.endpoints.count', 5),
    expected: ['MinerFleet/custom spec.endpoints.count: is only meaningful with a cidr'],
  },
  {
    name: 'neither addresses nor cidr',
    source: farm().set(CUSTOM, 'spec.endpoints', {}),
    expected: ['MinerFleet/custom spec.endpoints: needs addresses or a cidr'],
  },
  {
    name: 'endpoint overlapping another fleet',
    source: farm().set(CUSTOM, 'spec.endpoints.addresses[3]', '10.0.0.7:4028'),
    expected: ['MinerFleet/custom spec.endpoints: 10.0.0.7:4028 is already used by MinerFleet/s19'],
  },
  {
    name: 'endpoint listed twice in one fleet',
    source: farm().set(CUSTOM, 'spec.endpoints.addresses[3]', '10.0.1.1:80'),
    expected: ['MinerFleet/custom spec.endpoints: 10.0.1.1:80 is already used by this fleet'],
  },
  {
    name: 'invalid address',
    source: farm().set(CUSTOM, 'spec.endpoints.addresses[1]', '10.0.1.300'),
    expected: [
      'MinerFleet/custom spec.endpoints.addresses[1]: "10.0.1.300" is neither an IPv4 address nor a hostname',
    ],
  },
  {
    name: 'port 0',
    source: farm().set(CUSTOM, 'spec.endpoints.addresses[1]', '10.0.1.2:0'),
    expected: ['MinerFleet/custom spec.endpoints.addresses[1]: port 0 is out of range 1-65535'],
  },
  {
    name: 'port above 65535',
    source: farm().set(CUSTOM, 'spec.endpoints.addresses[2]', 'miner-3.lan:70000'),
    expected: ['MinerFleet/custom spec.endpoints.addresses[2]: port 70000 is out of range 1-65535'],
  },
  {
    name: 'URL instead of an address',
    source: farm().set(CUSTOM, 'spec.endpoints.addresses[0]', 'http://10.0.1.1'),
    expected: ['MinerFleet/custom spec.endpoints.addresses[0]: "http://10.0.1.1" is not host or host:port'],
  },
  // models, drivers and profiles
  {
    name: 'unknown model without profiles',
    source: farm().drop(CUSTOM, 'spec.profiles').drop(CUSTOM, 'spec.nameplateW').drop(CUSTOM, 'spec.sleepW'),
    expected: [
      'MinerFleet/custom spec.model: unknown model "Custom X1": give spec.profiles, or use a known model',
    ],
  },
  {
    name: 'driver that does not run on the model',
    source: farm().set(S19, 'spec.driver', 'whatsminer'),
    expected: [
      'MinerFleet/s19 spec.driver: "whatsminer" does not run on Bitmain S19 Pro (use antminer, luxos, braiins)',
    ],
  },
  {
    name: 'Bitmain firmware on a MicroBT model',
    source: farm().set(S19, 'spec.model', 'M50S'),
    expected: ['MinerFleet/s19 spec.driver: "antminer" does not run on MicroBT M50S (use whatsminer)'],
  },
  {
    name: 'profiles out of power order',
    source: farm().set(CUSTOM, 'spec.profiles', [
      { name: 'high', powerW: 3000, hashrateThs: 140 },
      { name: 'low', powerW: 2000, hashrateThs: 100 },
    ]),
    expected: [
      'MinerFleet/custom spec.profiles[1].powerW: profiles must be ordered by rising power: 2000 W follows "high" at 3000 W',
    ],
  },
  {
    name: 'more power for less hashrate',
    source: farm().set(CUSTOM, 'spec.profiles[1].hashrateThs', 90),
    expected: [
      'MinerFleet/custom spec.profiles[1].hashrateThs: more power must not give less hashrate: 90 TH/s after "low" at 100 TH/s',
    ],
  },
  {
    name: 'implausible efficiency (2 J/TH and 500 J/TH)',
    source: farm().set(CUSTOM, 'spec.profiles', [
      { name: 'low', powerW: 200, hashrateThs: 100 },
      { name: 'high', powerW: 3000, hashrateThs: 6 },
    ]),
    expected: [
      'MinerFleet/custom spec.profiles[0]: efficiency 2.0 J/TH (200 W / 100 TH/s) is outside the plausible 5-200 J/TH',
      'MinerFleet/custom spec.profiles[1]: efficiency 500.0 J/TH (3000 W / 6 TH/s) is outside the plausible 5-200 J/TH',
      'MinerFleet/custom spec.profiles[1].hashrateThs: more power must not give less hashrate: 6 TH/s after "low" at 100 TH/s',
    ],
  },
  {
    name: 'duplicate profile names',
    source: farm().set(CUSTOM, 'spec.profiles[1].name', 'low'),
    expected: ['MinerFleet/custom spec.profiles[1].name: duplicate profile "low"'],
  },
  {
    name: 'profile name with a space',
    source: farm().set(CUSTOM, 'spec.profiles[0].name', 'low power'),
    expected: ['MinerFleet/custom spec.profiles[0].name: must be 1-63 letters, digits, ".", "_" or "-"'],
  },
  {
    name: 'nameplateW below the top profile',
    source: farm().set(CUSTOM, 'spec.nameplateW', 2900),
    expected: ["MinerFleet/custom spec.nameplateW: 2900 W is below the highest profile's 3000 W"],
  },
  {
    name: "nameplateW below a known model's top profile",
    source: farm().set(S19, 'spec.nameplateW', 3000),
    expected: ["MinerFleet/s19 spec.nameplateW: 3000 W is below the highest profile's 3250 W"],
  },
  {
    name: 'sleepW not below the lowest profile',
    source: farm()
      .set(CUSTOM, 'spec.sleepW', 500)
      .set(CUSTOM, 'spec.profiles[0].powerW', 400)
      .set(CUSTOM, 'spec.profiles[0].hashrateThs', 20),
    expected: ["MinerFleet/custom spec.sleepW: 500 W is not below the lowest profile's 400 W"],
  },
  // GPU pools
  {
    name: 'GPU node idle above serving',
    source: farm().set(POOL, 'spec.nodePowerKw', { idle: 9, serving: 8.5, hashing: 9.5 }),
    expected: ['GpuPool/h100 spec.nodePowerKw.idle: 9 kW idle is above 8.5 kW serving'],
  },
  {
    name: 'implausible node power for its GPU count',
    source: farm().set(POOL, 'spec.nodePowerKw.serving', 40),
    expected: [
      'GpuPool/h100 spec.nodePowerKw.serving: 40 kW is implausible for a node of 8 GPUs (at most 15 kW)',
    ],
  },
  {
    name: 'empty node selector',
    source: farm().set(POOL, 'spec.nodeSelector', {}),
    expected: ['GpuPool/h100 spec.nodeSelector: must select nodes with at least one label'],
  },
  {
    name: 'hashing enabled without an image',
    source: farm().drop(POOL, 'spec.hashing.image'),
    expected: ['GpuPool/h100 spec.hashing.image: is required when hashing is enabled'],
  },
  // policies
  {
    name: 'two policies for one site',
    source: farm().copy(POLICY, { 'metadata.name': 'west-night' }),
    expected: [
      'AllocationPolicy/west-night spec.site: Site west already has AllocationPolicy/west-policy; one policy per site',
    ],
  },
  {
    name: 'policy for an unknown site',
    source: farm().set(POLICY, 'spec.site', 'east'),
    expected: ['AllocationPolicy/west-policy spec.site: Site "east" is not defined'],
  },
  {
    name: 'policy value out of range',
    source: farm().set(POLICY, 'spec.safetyMarginPct', 60),
    expected: ['AllocationPolicy/west-policy spec.safetyMarginPct: Too big: expected number to be <=50'],
  },
  // YAML itself
  {
    name: 'YAML syntax error',
    source: editYaml('  marketNode: HB_WEST\n', '  marketNode: [HB_WEST\n'),
    // The parser notices the unclosed "[" on the next line (8) and reports what follows from it too.
    expected: [
      'document 1: YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 8, column 3',
      'document 1: YAML: Nested mappings are not allowed in compact mappings at line 8, column 8',
      'document 1: YAML: Implicit keys need to be on a single line at line 8, column 8',
    ],
  },
  {
    name: 'duplicate YAML keys',
    source: editYaml('  pue: 1.1\n', '  pue: 1.1\n  pue: 1.2\n'),
    expected: ['document 1: YAML: Map keys must be unique at line 9, column 3'],
  },
  {
    name: 'alias to an undefined anchor',
    source: editYaml('  marketNode: HB_WEST\n', '  marketNode: *node\n'),
    expected: ['document 1: YAML: Unresolved alias (the anchor must be set before the alias): node'],
  },
  {
    name: 'alias bomb',
    source: [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
      '',
    ].join('\n'),
    expected: ['document 1: YAML: Excessive alias count indicates a resource exhaustion attack'],
  },
  { name: 'empty file', source: '', expected: ['file: contains no resources'] },
  {
    name: 'only comments and separators',
    source: '# nothing yet\n---\n---\n',
    expected: ['file: contains no resources'],
  },
  {
    name: 'a document that is a list instead of a mapping',
    source: `${farm().yaml()}---\n- apiVersion: ${API}\n  kind: Site\n`,
    expected: ['document 6: must be a mapping with apiVersion, kind, metadata and spec'],
  },
  {
    name: 'a document that is a plain string',
    source: `${farm().yaml()}---\nhello\n`,
    expected: ['document 6: must be a mapping with apiVersion, kind, metadata and spec'],
  },
];

describe('malformed farm files', () => {
  it('has distinct cases with distinct inputs', () => {
    expect(badCases.length).toBeGreaterThanOrEqual(20);
    expect(new Set(badCases.map((c) => c.name)).size).toBe(badCases.length);
    const texts = badCases.map((c) => (typeof c.source === 'string' ? c.source : c.source.yaml()));
    expect(new Set(texts).size).toBe(texts.length);
  });

  it.each(badCases)('$name', ({ source, expected }) => {
    const text = typeof source === 'string' ? source : source.yaml();
    expect(messages(parseFarmYaml(text))).toEqual(expected);
  });

  it.each(badCases)('$name: every issue carries a line number inside the file', ({ source }) => {
    const text = typeof source === 'string' ? source : source.yaml();
    const lines = text.split('\n').length;
    for (const issue of issuesOf(parseFarmYaml(text))) {
      if (issue.document === 'file') continue; // about the whole file
      expect(issue.line).toBeGreaterThanOrEqual(1);
      expect(issue.line).toBeLessThanOrEqual(lines);
    }
  });
});

describe('validateFarmResources', () => {
  const objectCases = badCases.filter(
    (c): c is BadCase & { source: FarmBuilder } => typeof c.source !== 'string',
  );

  it.each(objectCases)('$name: same issues as parsing the YAML of the same objects', ({ source }) => {
    const strip = (r: FarmParseResult) =>
      issuesOf(r).map(({ document, path, message }) => ({ document, path, message }));
    expect(strip(validateFarmResources(source.objects()))).toEqual(strip(parseFarmYaml(source.yaml())));
  });

  it('names an object that is not a mapping by its position', () => {
    expect(messages(validateFarmResources([...farm().objects(), ['not', 'a', 'resource']]))).toEqual([
      'document 6: must be a mapping with apiVersion, kind, metadata and spec',
    ]);
    expect(messages(validateFarmResources([null]))).toEqual([
      'document 1: must be a mapping with apiVersion, kind, metadata and spec',
    ]);
  });

  it('returns the same farm as parsing the YAML', () => {
    expect(validateFarmResources(farm().objects())).toEqual(parseFarmYaml(farm().yaml()));
  });
});

// ---------------------------------------------------------------- all errors at once

describe('reporting', () => {
  it('reports every problem of a file at once, one per broken document', () => {
    const source = farm()
      .set(SITE, 'spec.powerTree.children[1].limitKw', 9000) // cross-document rule on the site
      .set(POLICY, 'spec.rampKwPerMinute', 100) // schema: unknown field
      .set(S19, 'spec.driver', 'whatsminer') // model/driver rule
      .set(CUSTOM, 'spec.endpoints.addresses[0]', '10.0.1.1:99999') // schema-free address rule
      .drop(POOL, 'spec.hashing.image'); // pool rule
    expect(messages(parseFarmYaml(source.yaml()))).toEqual([
      'AllocationPolicy/west-policy spec: unknown field(s) "rampKwPerMinute"',
      "Site/west spec.powerTree.children[1].limitKw: 9000 kW exceeds its parent main's limit of 5000 kW",
      'MinerFleet/s19 spec.driver: "whatsminer" does not run on Bitmain S19 Pro (use antminer, luxos, braiins)',
      'MinerFleet/custom spec.endpoints.addresses[0]: port 99999 is out of range 1-65535',
      'GpuPool/h100 spec.hashing.image: is required when hashing is enabled',
    ]);
  });

  it('keeps checking the other documents after a YAML syntax error in one of them', () => {
    const text = editYaml('  gpusPerNode: 8\n', '  gpusPerNode: [8\n').replace(
      '  feed: pdu-1\n',
      '  feed: pdu-7\n',
    );
    expect(messages(parseFarmYaml(text))).toEqual([
      `document 5: YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line ${lineContaining(text, 'gpusPerNode: [8') + 1}, column 3`,
      `document 5: YAML: Nested mappings are not allowed in compact mappings at line ${lineContaining(text, 'gpusPerNode: [8') + 1}, column 12`,
      `document 5: YAML: Implicit keys need to be on a single line at line ${lineContaining(text, 'gpusPerNode: [8') + 1}, column 12`,
      `MinerFleet/s19 spec.feed: "pdu-7" is not a node of Site west's power tree`,
    ]);
  });

  it('appends the source and line when given a file name', () => {
    const text = farm().set(S19, 'spec.feed', 'pdu-9').yaml();
    const [issue] = issuesOf(parseFarmYaml(text));
    expect(issue && formatIssue(issue, 'farm.yaml')).toBe(
      `MinerFleet/s19 spec.feed: "pdu-9" is not a node of Site west's power tree (farm.yaml:${lineContaining(text, 'feed: pdu-9')})`,
    );
    expect(formatIssue({ document: 'file', path: '', message: 'contains no resources' }, 'farm.yaml')).toBe(
      'file: contains no resources',
    );
  });
});

// ---------------------------------------------------------------- line numbers

describe('line numbers', () => {
  const text = [
    'apiVersion: switchyard.io/v1alpha1', // 1
    'kind: Site', // 2
    'metadata:', // 3
    '  name: west', // 4
    'spec:', // 5
    '  interconnectKw: 5000', // 6
    '  marketNode: HB_WEST', // 7
    '  pue: 1.1', // 8
    '  powerTree:', // 9
    '    name: main', // 10
    '    limitKw: 5000', // 11
    '    children:', // 12
    '      - { name: pdu-1, limitKw: 2500 }', // 13
    '      - name: pdu-2', // 14
    '        limitKw: -2500', // 15
    '  coolingZones:', // 16
    '    - name: zone-a', // 17
    '      capacityKw: 5000', // 18
    '---', // 19
    'apiVersion: switchyard.io/v1alpha1', // 20
    'kind: MinerFleet', // 21
    'metadata: { name: s19 }', // 22
    'spec:', // 23
    '  site: west', // 24
    '  feed: pdu-1', // 25
    '  coolingZone: zone-b', // 26
    '  model: S19 Pro', // 27
    '  driver: antminer', // 28
    '  endpoints:', // 29
    '    cidr: 10.0.0.0/24', // 30
    '    count: 100', // 31
    '    portt: 4029', // 32
    '',
  ].join('\n');

  it('points schema issues, unknown fields and cross-document issues at their lines', () => {
    expect(issuesOf(parseFarmYaml(text))).toEqual([
      {
        document: 'Site/west',
        path: 'spec.powerTree.children[1].limitKw',
        message: 'Too small: expected number to be >0',
        line: 15,
      },
      { document: 'MinerFleet/s19', path: 'spec.endpoints', message: 'unknown field(s) "portt"', line: 32 },
    ]);
    const fixed = text.replace('limitKw: -2500', 'limitKw: 2500').replace('    portt: 4029\n', '');
    expect(issuesOf(parseFarmYaml(fixed))).toEqual([
      {
        document: 'MinerFleet/s19',
        path: 'spec.coolingZone',
        message: '"zone-b" is not a cooling zone of Site west',
        line: 26,
      },
    ]);
  });

  it('points a value inside a flow mapping at its line', () => {
    const bad = text
      .replace('{ name: pdu-1, limitKw: 2500 }', '{ name: pdu-1, limitKw: 9000 }')
      .replace('limitKw: -2500', 'limitKw: 2500');
    const issues = issuesOf(parseFarmYaml(bad)).filter((i) => i.document === 'Site/west');
    expect(issues).toEqual([
      {
        document: 'Site/west',
        path: 'spec.powerTree.children[0].limitKw',
        message: "9000 kW exceeds its parent main's limit of 5000 kW",
        line: 13,
      },
    ]);
  });

  it('points a missing field at the object that lacks it', () => {
    const bad = text.replace('  marketNode: HB_WEST\n', '');
    const issue = issuesOf(parseFarmYaml(bad)).find((i) => i.path === 'spec.marketNode');
    expect(issue?.line).toBe(6); // the first line of spec's mapping
  });

  it('gives YAML errors the line of the fault', () => {
    const bad = text
      .replace('limitKw: -2500', 'limitKw: 2500')
      .replace('  site: west\n', '  site: west\n  site: east\n');
    expect(issuesOf(parseFarmYaml(bad))).toEqual([
      {
        document: 'document 2',
        path: '',
        message: 'YAML: Map keys must be unique at line 25, column 3',
        line: 25,
      },
    ]);
  });

  it('locates issues in the second of two documents that share a name', () => {
    const twice = farm().copy(S19, { 'spec.endpoints.cidr': '10.0.2.0/24' }).yaml();
    const [issue] = issuesOf(parseFarmYaml(twice));
    const second =
      twice
        .split('\n')
        .findIndex((l, i) => l.includes('name: s19') && i > lineContaining(twice, 'cidr: 10.0.0.0/24')) + 1;
    expect(issue).toMatchObject({ document: 'MinerFleet/s19', path: 'metadata.name', line: second });
  });
});
