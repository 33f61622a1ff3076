// The sequencer: a plan and the observed state → shed, confirm and add phases that keep every
// limit under worst-case accounting. Pure. See docs/sequencer.md.
export * from './types.ts';
export { sequencePlan } from './sequence.ts';
export { sequencerSetup, planKeyOf, DEFAULT_STEP_MS, type SequencerSetup } from './setup.ts';
export { checkSequence } from './check.ts';
export {
  worstCaseLoads,
  freezeDrawFactors,
  sequencerLimits,
  stepIsSafe,
  stepBlocker,
  limitPath,
  sitePolicy,
  SequencerInputError,
  type LimitOptions,
} from './model.ts';
export { stepJobId } from './ids.ts';
