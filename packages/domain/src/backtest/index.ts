// The backtest: a price history (CSV) and the planner stepped through it against baselines.
export * from './history-csv.ts';
export {
  createBacktest,
  runBacktest,
  type Backtest,
  type BacktestOptions,
  type BacktestReport,
  type IntervalOutcome,
  type IntervalResult,
  type StrategyName,
  type StrategyReport,
} from './engine.ts';
export { BacktestInputError, DEFAULT_STRIKE, type StrikeOptions } from './strategies.ts';
