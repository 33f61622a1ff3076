// What a sequence is built with: the site, its limits, the add-phase budget and the plan key.
// Shared by the sequencer and its checker.
import { sequencerLimits, siteContext, sitePolicy, SequencerInputError, type SiteContext } from './model.ts';
import type { SequenceInput, SequencerLimits } from './types.ts';

export const DEFAULT_STEP_MS = 60_000;

export interface SequencerSetup {
  ctx: SiteContext;
  limits: SequencerLimits;
  stepMs: number;
  addBudgetKw: number;
  maxAddPhases: number;
  planKey: string;
}

/** Step ids are split on ":"; a plan key never contains one. */
export function planKeyOf(input: Pick<SequenceInput, 'plan' | 'planId'>): string {
  const raw = input.planId ?? `${input.plan.site}-${input.plan.at}`;
  return raw.replace(/[:\s]/g, '-') || 'plan';
}

/** Limits, budgets and the plan key a sequence is built with (also used by checkSequence). */
export function sequencerSetup(input: SequenceInput): SequencerSetup {
  const ctx = siteContext(input.farm, input.site);
  if (input.plan.site !== input.site)
    throw new SequencerInputError(`the plan is for site "${input.plan.site}", not "${input.site}"`);
  if (!Number.isFinite(input.now)) throw new SequencerInputError('now must be a finite epoch time in ms');
  if (!(Number.isFinite(input.confirmTimeoutMs) && input.confirmTimeoutMs >= 0))
    throw new SequencerInputError('confirmTimeoutMs must be a finite, non-negative number of ms');
  const stepMs = input.stepMs ?? DEFAULT_STEP_MS;
  if (!(Number.isFinite(stepMs) && stepMs > 0)) throw new SequencerInputError('stepMs must be positive');
  const policy = input.policy ?? sitePolicy(input.farm, input.site);
  const interconnectCap = Math.max(0, ctx.site.spec.interconnectKw - policy.reserveKw);
  const planCap = input.plan.loads?.site?.capKw;
  const siteCapKw =
    input.siteCapKw ??
    (typeof planCap === 'number' && Number.isFinite(planCap)
      ? Math.min(planCap, interconnectCap)
      : interconnectCap);
  const limits = sequencerLimits(input.farm, input.site, { policy, ambientC: input.ambientC, siteCapKw });
  const addBudgetKw = input.stepBudgetKw ?? (policy.rampKwPerMin * (stepMs / 60_000)) / limits.pue;
  if (!(Number.isFinite(addBudgetKw) && addBudgetKw >= 0))
    throw new SequencerInputError('the step budget must be a finite, non-negative kW');
  const maxAddPhases = Math.max(
    1,
    Math.floor(input.maxAddPhases ?? (policy.intervalSeconds * 1000) / stepMs),
  );
  return { ctx, limits, stepMs, addBudgetKw, maxAddPhases, planKey: planKeyOf(input) };
}
