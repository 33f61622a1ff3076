// The structured model the adapter passes to HiGHS and the LP text export describe the same
// problem: HiGHS reaches the same optimum from both (in-process, no worker).
import { describe, expect, it } from '@jest/globals';
import highsModule from 'highs';
import { buildMilp, buildView, greedyDecision, mipModelToLp } from '@switchyard/domain';
import { randomPlanInput } from '@switchyard/domain/testing';
import { solveWith } from './highs-model.ts';

// Under jest's CommonJS transform the default import is the loader itself or the module object.
const loadHighs = ((highsModule as unknown as { default?: unknown }).default ??
  highsModule) as typeof highsModule.default;

describe('HiGHS model forms', () => {
  it.each([11, 23, 57])('LP text and structured form agree (random farm %d)', async (seed) => {
    const highs = await loadHighs();
    const view = buildView(randomPlanInput(seed, { maxFleets: 8, maxOrders: 10 }));
    const { model } = buildMilp(view, greedyDecision(view), { integerMinerCounts: true });
    const structured = solveWith(highs, model, { timeLimitMs: 10_000, mipRelGap: 1e-9 });
    const fromText = highs.solve(mipModelToLp(model), { output_flag: false, mip_rel_gap: 1e-9 });
    expect(structured.status).toBe('optimal');
    expect(fromText.Status).toBe('Optimal');
    expect(fromText.ObjectiveValue + model.offset).toBeCloseTo(structured.objective ?? NaN, 4);
  });
});
