// Broker orders and GPU pools: fit (model, VRAM, whole nodes), reserved orders, price per kW,
// commitments, preemption with notice, GPU hashing as filler, pool pins.
import { describe, expect, it } from '@jest/globals';
import { farmBuilder, planInput } from './testing/farm-builder.ts';
import { changesFor, greedyOk } from './testing/assertions.ts';

const farm = (o: { gpuPduKw?: number; h100Nodes?: number; payout?: number | null } = {}) =>
  farmBuilder()
    .site({ interconnectKw: 10_000, pue: 1.1 })
    .node('pdu-gpu', { limitKw: o.gpuPduKw ?? 1000 })
    .node('pdu-l40', { limitKw: 1000 })
    .pool('h100', {
      nodes: o.h100Nodes ?? 8,
      feed: 'pdu-gpu',
      gpuModel: 'H100-SXM-80GB',
      vramGiB: 80,
      gpusPerNode: 8,
      hashingPayout: o.payout ?? null,
    })
    .pool('l40s', {
      nodes: 4,
      feed: 'pdu-l40',
      gpuModel: 'L40S-48GB',
      vramGiB: 48,
      gpusPerNode: 4,
      kw: { idle: 0.5, serving: 2.2, hashing: 1.8 },
      hashingPayout: null,
    })
    .build();

describe('fit', () => {
  it('gives whole nodes of a matching model with enough VRAM', () => {
    const p = greedyOk(
      planInput(farm())
        .order({ id: 'o-1', gpuCount: 12, gpuModels: ['h100-sxm-80gb'], minVramGiB: 80 })
        .build(),
    );
    expect(p.admitted).toEqual([
      expect.objectContaining({
        orderId: 'o-1',
        pool: 'h100',
        nodes: 2,
        gpus: 12,
        gpusByNode: [8, 4],
        isNew: true,
      }),
    ]);
    expect(p.pools.h100?.target).toEqual({ serving: 2, hashing: 0, idle: 6 });
    expect(changesFor(p, 'o-1')).toEqual([
      'admit on h100: 2 nodes, 12 GPUs — on-demand bid $2.50/GPU-h × 12 GPUs = $30.00/h; energy $0.76/h for 17.2 kW over idle: $1.70/h per kW',
    ]);
  });

  it.each([
    [
      'a model no pool has',
      { gpuModels: ['B200-180GB'] },
      /^no pool fits 8 GPUs of B200-180GB with ≥ 0 GiB: h100 has H100-SXM-80GB; l40s has L40S-48GB$/,
    ],
    [
      'more VRAM than any GPU',
      { minVramGiB: 96 },
      /^no pool fits 8 GPUs of any model with ≥ 96 GiB: h100 has 80 GiB per GPU; l40s has 48 GiB per GPU$/,
    ],
    [
      'more nodes than a pool has',
      { gpuCount: 72, gpuModels: ['H100-SXM-80GB'] },
      /h100 has 8 usable nodes, the order needs 9/,
    ],
    [
      'a bid below the energy it costs',
      { priceUsdPerGpuHour: 0.01, gpuModels: ['H100-SXM-80GB'] },
      /^bid \$0\.01\/GPU-h × 8 = \$0\.08\/h does not cover serving energy \$0\.95\/h$/,
    ],
    ['an invalid GPU count', { gpuCount: 0 }, /^invalid GPU count 0$/],
  ])('rejects %s, saying why', (_n, o, reason) => {
    const p = greedyOk(
      planInput(farm())
        .energy(100)
        .order({ id: 'x', ...o })
        .build(),
    );
    expect(p.admitted).toEqual([]);
    expect(p.rejected).toEqual([expect.objectContaining({ orderId: 'x', preempted: false })]);
    expect(p.rejected[0]?.reason).toMatch(reason);
  });
});

describe('admission order', () => {
  it('takes the best price per kW when nodes are scarce', () => {
    const p = greedyOk(
      planInput(farm({ h100Nodes: 2 }))
        .order({ id: 'a', gpuCount: 8, priceUsdPerGpuHour: 2, gpuModels: ['H100-SXM-80GB'] })
        .order({ id: 'b', gpuCount: 8, priceUsdPerGpuHour: 3, gpuModels: ['H100-SXM-80GB'] })
        .order({ id: 'c', gpuCount: 16, priceUsdPerGpuHour: 4, gpuModels: ['H100-SXM-80GB'] })
        .build(),
    );
    expect(p.admitted.map((a) => a.orderId)).toEqual(['c']);
    expect(p.rejected.find((r) => r.orderId === 'b')?.reason).toMatch(
      /^no free nodes \(h100 0 of 2 nodes free\); better-paying orders per kW came first$/,
    );
  });

  it('names the power limit that keeps an order out', () => {
    const p = greedyOk(
      planInput(farm({ gpuPduKw: 30 }))
        .order({ id: 'big', gpuCount: 32, gpuModels: ['H100-SXM-80GB'] })
        .build(),
    );
    expect(p.rejected[0]?.reason).toMatch(
      /^pdu-gpu limit 28\.5 kW \(30 kW less 5% margin\) is full \(12\.8 kW\): needs 34\.4 kW more$/,
    );
  });

  it('runs a reserved order even below its energy cost', () => {
    const p = greedyOk(
      planInput(farm())
        .energy(300)
        .order({ id: 'r', tier: 'reserved', priceUsdPerGpuHour: 0.05, gpuModels: ['H100-SXM-80GB'] })
        .build(),
    );
    expect(p.admitted.map((a) => a.orderId)).toEqual(['r']);
  });

  it('warns when a reserved order cannot run, with the reason', () => {
    const p = greedyOk(
      planInput(farm({ gpuPduKw: 15 }))
        .order({ id: 'r', broker: 'acme', tier: 'reserved', gpuCount: 16, gpuModels: ['H100-SXM-80GB'] })
        .build(),
    );
    expect(p.warnings).toContainEqual(
      expect.stringMatching(/^reserved order r \(acme\) cannot run: pdu-gpu limit 14\.3 kW .* is full/),
    );
  });
});

describe('commitments and preemption', () => {
  const running = (o: Record<string, unknown>) => ({
    state: 'running' as const,
    pool: 'h100',
    gpuModels: ['H100-SXM-80GB'],
    gpuCount: 8,
    ...o,
  });

  it('keeps a running on-demand order when a better one arrives', () => {
    const p = greedyOk(
      planInput(farm({ h100Nodes: 1 }))
        .observePool('h100', { serving: 1, idle: 0 })
        .order(running({ id: 'old', tier: 'on-demand', priceUsdPerGpuHour: 1 }))
        .order({ id: 'new', gpuModels: ['H100-SXM-80GB'], priceUsdPerGpuHour: 4 })
        .build(),
    );
    expect(p.admitted.map((a) => [a.orderId, a.isNew])).toEqual([['old', false]]);
  });

  it('preempts a running interruptible order for a better one, with notice', () => {
    const p = greedyOk(
      planInput(farm({ h100Nodes: 1 }))
        .observePool('h100', { serving: 1, idle: 0 })
        .order(running({ id: 'spot', tier: 'interruptible', priceUsdPerGpuHour: 1, noticeSeconds: 120 }))
        .order({ id: 'new', gpuModels: ['H100-SXM-80GB'], priceUsdPerGpuHour: 4 })
        .build(),
    );
    expect(p.admitted.map((a) => a.orderId)).toEqual(['new']);
    expect(p.rejected).toEqual([
      expect.objectContaining({ orderId: 'spot', preempted: true, noticeSeconds: 120 }),
    ]);
    expect(changesFor(p, 'spot')).toEqual([
      expect.stringMatching(/^preempt on h100 \(notice 120 s\) — no free nodes/),
    ]);
  });

  it('gives back broker work only when a hard limit forces it, reserved last', () => {
    const f = farmBuilder()
      .site({ interconnectKw: 10_000, pue: 1 })
      .pool('h100', { nodes: 3, feed: 'root', hashingPayout: null })
      .build();
    const p = greedyOk(
      planInput(f)
        .observePool('h100', { serving: 3, idle: 0 })
        .order({ id: 'res', tier: 'reserved', state: 'running', pool: 'h100', priceUsdPerGpuHour: 1 })
        .order({ id: 'od', tier: 'on-demand', state: 'running', pool: 'h100', priceUsdPerGpuHour: 5 })
        .order({ id: 'spot', tier: 'interruptible', state: 'running', pool: 'h100', priceUsdPerGpuHour: 9 })
        .dispatch(23, { id: 'd-1' })
        .build(),
    );
    expect(p.admitted.map((a) => a.orderId).sort()).toEqual(['od', 'res']);
    expect(p.rejected.map((r) => [r.orderId, r.preempted])).toEqual([['spot', true]]);
    expect(p.loads.site.facilityKw).toBeLessThanOrEqual(23);
  });
});

describe('GPU hashing', () => {
  it('hashes on idle nodes when the payout beats the extra energy', () => {
    const p = greedyOk(
      planInput(farm({ payout: 0.2 }))
        .energy(40)
        .build(),
    );
    expect(p.pools.h100?.target).toEqual({ serving: 0, hashing: 8, idle: 0 });
    expect(changesFor(p, 'h100')).toEqual([
      'start GPU hashing on 8 of 8 nodes — payout $1.60/node-h vs extra energy $0.30/node-h: energy $40/MWh < GPU-hashing breakeven $214/MWh − hysteresis $5/MWh',
    ]);
  });

  it('stops when energy is above its breakeven and gives nodes to orders first', () => {
    const b = planInput(farm({ payout: 0.2 })).observePool('h100', { hashing: 8, idle: 0 });
    const expensive = greedyOk(b.energy(400).build());
    expect(expensive.pools.h100?.target.hashing).toBe(0);
    const cheapWithOrder = greedyOk(
      b
        .energy(40)
        .order({ id: 'o', gpuModels: ['H100-SXM-80GB'], priceUsdPerGpuHour: 3 })
        .build(),
    );
    expect(cheapWithOrder.pools.h100?.target).toEqual({ serving: 1, hashing: 7, idle: 0 });
    expect(changesFor(cheapWithOrder, 'h100')).toEqual([
      'stop GPU hashing on 1 of 8 nodes — nodes go to new inference orders (1 nodes)',
    ]);
  });

  it('drains a pool pinned idle, preempting its orders', () => {
    const p = greedyOk(
      planInput(farm({ payout: 0.2 }))
        .observePool('h100', { serving: 1, hashing: 7, idle: 0 })
        .order({ id: 'od', state: 'running', pool: 'h100', gpuModels: ['H100-SXM-80GB'] })
        .override('pool', 'h100', 'idle', { id: 'drain-1', reason: 'firmware' })
        .build(),
    );
    expect(p.pools.h100?.target).toEqual({ serving: 0, hashing: 0, idle: 8 });
    expect(p.rejected[0]?.reason).toMatch(/^override drain-1: pinned idle until .* \(firmware\)$/);
  });

  it('does not use a pool it cannot see', () => {
    const p = greedyOk(
      planInput(farm())
        .unobserved('pool', 'h100')
        .order({ id: 'o', gpuModels: ['H100-SXM-80GB'] })
        .build(),
    );
    expect(p.pools.h100?.unavailable).toBe(8);
    expect(p.admitted).toEqual([]);
    expect(p.warnings.join('\n')).toMatch(
      /pool h100: no observation; all 8 nodes counted at their highest draw and not used/,
    );
  });
});
