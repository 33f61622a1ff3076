// The environment of each service. Every variable has a default where one is safe and a
// comment; the README's configuration table lists the same variables (a test keeps them in step).
import { z } from 'zod';
import { envBool, envLogLevel, envPort, envUrl } from './env.ts';

/** Shared by every process that talks to the database and Redis. */
export const backingEnvSchema = z.object({
  /** PostgreSQL URL. Unset: embedded PGlite (in PGLITE_DIR, or in memory). */
  DATABASE_URL: envUrl(['postgres', 'postgresql']).optional(),
  /** Where embedded PGlite keeps its files; unset keeps it in memory. */
  PGLITE_DIR: z.string().min(1).optional(),
  /** Redis URL (required by the API's readiness check and, later, the job queues). */
  REDIS_URL: envUrl(['redis', 'rediss']).optional(),
  /** What to do when Redis's maxmemory-policy is not noeviction: refuse to start, or warn. */
  REDIS_EVICTION_CHECK: z.enum(['refuse', 'warn']).default('refuse'),
  LOG_LEVEL: envLogLevel,
  /** Pretty, human-readable logs instead of JSON lines (for a terminal). */
  LOG_PRETTY: envBool(false),
});

export const apiEnvSchema = backingEnvSchema.extend({
  /** Redis URL; required: readiness checks it and the job queues live there. */
  REDIS_URL: envUrl(['redis', 'rediss']),
  /** HTTP port of the API server; 0 picks a free one. */
  PORT: envPort(8080),
  /** Address to bind; 0.0.0.0 in a container. */
  HOST: z.string().min(1).default('127.0.0.1'),
  /** The farm file loaded at start (standalone mode). */
  FARM_FILE: z.string().min(1).default('examples/farm.yaml'),
  /** Seconds to wait for in-flight requests on shutdown. */
  SHUTDOWN_GRACE_SECONDS: z.coerce.number({ error: 'must be a number' }).int().min(0).max(300).default(10),
});

export type BackingEnv = z.infer<typeof backingEnvSchema>;
export type ApiEnv = z.infer<typeof apiEnvSchema>;

/** Every documented variable, for the README check. */
export const ALL_ENV_SCHEMAS = { backing: backingEnvSchema, api: apiEnvSchema } as const;
