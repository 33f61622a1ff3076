// Test and benchmark helpers for the planner (import from '@switchyard/domain/testing').
export * from './farm-builder.ts';
export { randomPlanInput, rng, type RandomOpts } from './random-input.ts';
export { syntheticPlanInput, type SyntheticOpts } from './synthetic.ts';
