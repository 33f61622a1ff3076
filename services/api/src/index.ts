export { buildApp, type AppDeps } from './app.ts';
export { startApi, loadFarmFile, FarmFileError, type RunningApi } from './server.ts';
export { HttpProblem, PROBLEM_CONTENT_TYPE, type Problem } from './problem.ts';
export {
  ACCESS,
  PUBLIC_PREFIXES,
  PUBLIC_ROUTES,
  accessRule,
  routeKey,
  type AccessRule,
  type Role,
} from './access.ts';
export { registerAuth, registeredRouteKeys, principalOf, type AuthOptions } from './auth.ts';
export {
  KeyVerifier,
  DEFAULT_KEY_CACHE_TTL_MS,
  DEFAULT_TOUCH_INTERVAL_MS,
  type KeyVerifierOptions,
  type Principal,
} from './key-verifier.ts';
export { TOKEN_NOTICE } from './routes/keys.ts';
export type { StartApiOptions } from './server.ts';
export { ensureOperatorKey } from './bootstrap-key.ts';
