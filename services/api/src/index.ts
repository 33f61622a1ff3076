export { buildApp, type AppDeps } from './app.ts';
export { startApi, loadFarmFile, FarmFileError, type RunningApi } from './server.ts';
export { HttpProblem, PROBLEM_CONTENT_TYPE, type Problem } from './problem.ts';
export {
  ACCESS,
  OPERATOR_PREFIXES,
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
export {
  connectRateLimitRedis,
  hardeningConfigFromEnv,
  hardeningEnvSchema,
  registerHardening,
  DEFAULT_LOAD_SHEDDING,
  DEFAULT_RATE_LIMITS,
  DEFAULT_ROUTE_BODY_LIMIT,
  type HardeningConfig,
  type HardeningOptions,
  type LoadSheddingConfig,
  type RateLimitConfig,
} from './hardening.ts';
export { apiLogger, redactValue, redactUrlForLog } from './redact.ts';
export {
  AdminSessions,
  ADMIN_COOKIE,
  ADMIN_LOGIN_PATH,
  ADMIN_QUEUES_PATH,
  ADMIN_SESSION_PATH,
  DEFAULT_ADMIN_SESSION_SECONDS,
  type AdminDeps,
} from './bull-board.ts';
