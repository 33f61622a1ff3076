// Deterministic large snapshots for the planner benchmark: a site with a 500-node power tree
// (root → 4 transformers → 16 switchgear → PDUs), `miners` ASICs in fleets on PDUs, GPU pools
// with `gpus` GPUs on their own PDUs, and `orders` pending or running broker orders.
import type { PlannerOrder } from '../types.ts';
import type { PlanInput } from '../types.ts';
import type { Farm } from '../../farm/farm-loader.ts';
import { farmBuilder, planInput, type InputBuilder } from './farm-builder.ts';
import { rng } from './random-input.ts';

export interface SyntheticOpts {
  miners: number;
  treeNodes?: number;
  gpus?: number;
  orders?: number;
  seed?: number;
  energyUsdPerMwh?: number;
}

const MODELS = ['S19 Pro', 'S19j Pro', 'S19 XP', 'S19k Pro', 'S21', 'S21 Pro', 'M50S', 'M60S'];
const GPUS = [
  { model: 'H100-SXM-80GB', vram: 80, kw: { idle: 1.6, serving: 10.2, hashing: 8.4 } },
  { model: 'H200-SXM-141GB', vram: 141, kw: { idle: 1.7, serving: 10.6, hashing: 8.8 } },
  { model: 'A100-SXM-80GB', vram: 80, kw: { idle: 1.2, serving: 6.5, hashing: 5.5 } },
  { model: 'L40S-48GB', vram: 48, kw: { idle: 0.9, serving: 3.6, hashing: 3.0 } },
];

interface Shape {
  fleets: number;
  perFleet: number;
  poolCount: number;
  nodesPerPool: number;
  pdus: number;
  fleetPdus: number;
}

function shapeOf(o: SyntheticOpts): Shape {
  const treeNodes = o.treeNodes ?? 500;
  const gpus = o.gpus ?? 5000;
  const pdus = treeNodes - 1 - 4 - 16;
  const poolCount = gpus > 0 ? 10 : 0;
  const fleetPdus = pdus - poolCount;
  const fleets = Math.max(1, Math.min(fleetPdus, Math.ceil(o.miners / 50)));
  return {
    fleets,
    perFleet: Math.floor(o.miners / fleets),
    poolCount,
    nodesPerPool: poolCount > 0 ? Math.ceil(gpus / 8 / poolCount) : 0,
    pdus,
    fleetPdus,
  };
}

export function syntheticPlanInput(o: SyntheticOpts): PlanInput {
  const r = rng(o.seed ?? 1);
  const sh = shapeOf(o);
  const farm = syntheticFarm(o, sh, r);
  const ib = planInput(farm)
    .energy(o.energyUsdPerMwh ?? 60)
    .hashprice(0.05)
    .ambient(34);
  observeFleets(ib, farm, sh, r);
  addOrders(ib, o.orders ?? 1000, sh, r);
  return ib.build();
}

function syntheticFarm(o: SyntheticOpts, sh: Shape, r: () => number): Farm {
  const { fleets, perFleet, poolCount, nodesPerPool, pdus, fleetPdus } = sh;
  // Sizes: each fleet's PDU holds 90–110 % of its stock draw, so some bind.
  const fleetKw: number[] = [];
  for (let i = 0; i < fleets; i++) fleetKw.push(perFleet * 3.4 * (0.9 + 0.2 * r()));
  const poolKw = nodesPerPool * 11;
  const swgKw = new Array<number>(16).fill(0);
  for (let i = 0; i < fleets; i++) swgKw[i % 16] = (swgKw[i % 16] as number) + (fleetKw[i] as number);
  for (let p = 0; p < poolCount; p++)
    swgKw[(fleets + p) % 16] = (swgKw[(fleets + p) % 16] as number) + poolKw;
  const txKw = [0, 1, 2, 3].map((t) => swgKw.filter((_, s) => s % 4 === t).reduce((a, b) => a + b, 0));
  const total = txKw.reduce((a, b) => a + b, 0);
  const b = farmBuilder().site({
    name: 'bench',
    interconnectKw: Math.ceil(total * 0.95) + 100,
    rootKw: Math.ceil(total * 0.95) + 100,
    pue: 1.1,
  });
  for (let t = 0; t < 4; t++)
    b.node(`tx-${t}`, { limitKw: Math.ceil((txKw[t] as number) * 0.97) + 50, parent: 'root' });
  for (let s = 0; s < 16; s++)
    b.node(`swg-${s}`, { limitKw: Math.ceil((swgKw[s] as number) * 1.02) + 50, parent: `tx-${s % 4}` });
  for (let z = 0; z < 4; z++)
    b.zone(`zone-${z}`, {
      capacityKw: Math.ceil((txKw[z] as number) * 0.95) + 50,
      ratedAmbientC: 30,
      pctPerDegreeC: 1,
    });
  for (let i = 0; i < pdus; i++) {
    const limit =
      i < fleets ? Math.ceil(fleetKw[i] as number) + 10 : i < fleetPdus ? 100 : Math.ceil(poolKw * 0.9);
    b.node(`pdu-${i}`, {
      limitKw: limit,
      parent: `swg-${i < fleetPdus ? i % 16 : (fleets + (i - fleetPdus)) % 16}`,
    });
  }
  for (let i = 0; i < fleets; i++) {
    const count = i === fleets - 1 ? o.miners - perFleet * (fleets - 1) : perFleet;
    b.fleet(`fleet-${String(i).padStart(3, '0')}`, {
      model: MODELS[i % MODELS.length] as string,
      count,
      feed: `pdu-${i}`,
      zone: `zone-${(i % 16) % 4}`,
    });
  }
  for (let p = 0; p < poolCount; p++) {
    const g = GPUS[p % GPUS.length] as (typeof GPUS)[number];
    b.pool(`pool-${p}`, {
      nodes: nodesPerPool,
      feed: `pdu-${fleetPdus + p}`,
      zone: `zone-${((fleets + p) % 16) % 4}`,
      gpuModel: g.model,
      vramGiB: g.vram,
      kw: g.kw,
      hashingPayout: 0.15 + 0.05 * (p % 3),
    });
  }
  return b.build();
}

function observeFleets(ib: InputBuilder, farm: Farm, sh: Shape, r: () => number): void {
  for (let i = 0; i < sh.fleets; i++) {
    const name = `fleet-${String(i).padStart(3, '0')}`;
    const f = farm.fleets[i];
    const n = f?.spec.endpoints.count ?? sh.perFleet;
    const stale = Math.floor(n * 0.02);
    const fault = Math.floor(n * 0.01);
    const sleeping = Math.floor(n * 0.1 * r());
    const hashing = n - stale - fault - sleeping;
    ib.observe(name, {
      hashing,
      sleeping,
      ramping: 0,
      fault,
      offline: 0,
      stale,
      byProfile: { normal: hashing },
      measuredKw: null,
    });
  }
}

function addOrders(ib: InputBuilder, nOrders: number, sh: Shape, r: () => number): void {
  const { poolCount, nodesPerPool } = sh;
  const running = new Array<number>(poolCount).fill(0);
  for (let i = 0; i < nOrders; i++) {
    const p = Math.floor(r() * poolCount);
    const g = GPUS[p % GPUS.length] as (typeof GPUS)[number];
    const gpuCount = [1, 2, 4, 8, 8, 16][Math.floor(r() * 6)] as number;
    const nodes = Math.ceil(gpuCount / 8);
    const run = i % 10 === 0 && (running[p] as number) + nodes <= nodesPerPool / 2;
    if (run) running[p] = (running[p] as number) + nodes;
    const order: Partial<PlannerOrder> = {
      id: `order-${String(i).padStart(4, '0')}`,
      broker: `broker-${i % 7}`,
      tier: i % 13 === 0 ? 'reserved' : i % 3 === 0 ? 'interruptible' : 'on-demand',
      gpuModels: r() < 0.2 ? [] : [g.model],
      minVramGiB: r() < 0.5 ? 0 : g.vram,
      gpuCount,
      priceUsdPerGpuHour: Math.round((0.8 + 4 * r()) * 100) / 100,
      state: run ? 'running' : 'pending',
      pool: run ? `pool-${p}` : undefined,
      noticeSeconds: 300,
    };
    ib.order(order);
  }
  for (let p = 0; p < poolCount; p++) {
    const serving = running[p] as number;
    const hashing = Math.floor((nodesPerPool - serving) / 2);
    ib.observePool(`pool-${p}`, { serving, hashing, idle: nodesPerPool - serving - hashing, unavailable: 0 });
  }
}
