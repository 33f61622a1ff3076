export { buildApp, type AppDeps } from './app.ts';
export { startApi, loadFarmFile, FarmFileError, type RunningApi } from './server.ts';
export { HttpProblem, PROBLEM_CONTENT_TYPE, type Problem } from './problem.ts';
