// Node loads from a poll and the GPU draw, and the watch that calls for a cycle when a node is
// loaded past what any plan allows.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseFarmYaml } from '@switchyard/domain';
import type { PollResult } from '@switchyard/miners';
import { gpuDraw } from './gpu-draw.ts';
import { nodeLoadReader, OverLimitWatch, type NodeLoad } from './node-loads.ts';

const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
const farm = parsed.farm;
const site = farm.sites[0]!.metadata.name;

describe('nodeLoadReader', () => {
  it('takes the miners’ loads as the poll rolled them up and adds each GPU pool along its feed', () => {
    const read = nodeLoadReader(farm, site);
    const empty = read(
      { startedAt: new Date(), durationMs: 1, fleets: [], nodes: [], degraded: [] },
      gpuDraw(farm, site, []),
    );
    // No miner read and no GPU node listed: the pools count at their highest draw, all of it
    // rolled up to the site's root.
    const gpu = gpuDraw(farm, site, []);
    expect(gpu.totalKw).toBeGreaterThan(0);
    const root = empty[0]!;
    expect(root.loadKw).toBeCloseTo(gpu.totalKw, 6);
    for (const [feed, kw] of gpu.byFeed)
      expect(empty.find((n) => n.node === feed)?.loadKw).toBeCloseTo(kw, 6);
    // A miner load on a node (here one no pool feeds through) replaces its zero; another site's
    // is ignored.
    const pdu = empty.find((n) => n.loadKw === 0)!;
    const poll: PollResult = {
      startedAt: new Date(),
      durationMs: 1,
      fleets: [],
      nodes: [
        { site, node: pdu.node, powerKw: 123 } as PollResult['nodes'][number],
        { site: 'elsewhere', node: pdu.node, powerKw: 999 } as PollResult['nodes'][number],
      ],
      degraded: [],
    };
    expect(read(poll, gpu).find((n) => n.node === pdu.node)?.loadKw).toBe(123);
    expect(read(poll, gpu).map((n) => n.node)).toEqual(empty.map((n) => n.node));
  });
});

describe('OverLimitWatch', () => {
  const at = (loadKw: number): NodeLoad[] => [
    { node: 'pdu-1', loadKw, limitKw: 100 },
    { node: 'pdu-2', loadKw: 50, limitKw: 100 },
  ];

  it('reports a node halfway into the margin once per excursion, again after it came back under', () => {
    const w = new OverLimitWatch();
    // Margin 10 %: the plans' cap is 90 kW, the watch's threshold 95 kW, re-armed below 94 kW.
    expect(w.check(at(90), 10, 0)).toEqual([]);
    expect(w.check(at(94.9), 10, 1000)).toEqual([]);
    expect(w.check(at(96), 10, 2000).map((n) => n.node)).toEqual(['pdu-1']);
    expect(w.check(at(97), 10, 3000)).toEqual([]);
    // Hovering just under the threshold: still the same excursion.
    expect(w.check(at(94.5), 10, 4000)).toEqual([]);
    expect(w.check(at(96), 10, 5000)).toEqual([]);
    // Back under (measured a little over the plans' cap): the next excursion is reported.
    expect(w.check(at(92), 10, 6000)).toEqual([]);
    expect(w.check(at(101), 10, 7000)).toEqual([{ node: 'pdu-1', loadKw: 101, limitKw: 100 }]);
  });

  it('never re-arms above the plans’ cap when the margin is small', () => {
    const w = new OverLimitWatch();
    // Margin 1 %: cap 99 kW, threshold 99.5 kW, re-armed at the cap.
    expect(w.check(at(99.6), 1, 0)).toHaveLength(1);
    expect(w.check(at(99.2), 1, 1000)).toEqual([]);
    expect(w.check(at(99.6), 1, 2000)).toEqual([]);
    expect(w.check(at(98.9), 1, 3000)).toEqual([]);
    expect(w.check(at(99.6), 1, 4000)).toHaveLength(1);
  });

  it('reports a node still over after repeatMs again, and forgets everything on reset', () => {
    const w = new OverLimitWatch({ repeatMs: 30_000 });
    expect(w.check(at(99), 5, 0)).toHaveLength(1);
    expect(w.check(at(99), 5, 29_999)).toHaveLength(0);
    expect(w.check(at(99), 5, 30_000)).toHaveLength(1);
    w.reset();
    expect(w.check(at(99), 5, 30_001)).toHaveLength(1);
  });

  it('with no margin, reports only a node over its limit', () => {
    const w = new OverLimitWatch();
    expect(w.check(at(100), 0, 0)).toEqual([]);
    expect(w.check(at(100.5), 0, 1)).toHaveLength(1);
  });
});
