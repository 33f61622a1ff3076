// Each service declares one zod schema for its environment and parses it once at start.
// A bad value stops the process with a message naming the variable, never a stack trace.
import { z } from 'zod';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly problems: ReadonlyArray<{ variable: string; message: string }>;
  constructor(problems: ReadonlyArray<{ variable: string; message: string }>) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export type Env = Record<string, string | undefined>;

export function parseEnv<S extends z.ZodObject>(schema: S, env: Env): z.infer<S> {
  // Empty strings mean "unset", as in most shells' `VAR= cmd`.
  const cleaned: Env = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') cleaned[key] = v;
  }
  const r = schema.safeParse(cleaned);
  if (r.success) return r.data;
  throw new ConfigError(
    r.error.issues.map((i) => {
      const variable = String(i.path[0] ?? '(environment)');
      const got = cleaned[variable];
      return { variable, message: `${i.message}${got !== undefined ? ` (got ${JSON.stringify(got)})` : ''}` };
    }),
  );
}

/** Reusable field types with explicit, human-readable errors. */
export const envPort = (def: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(0, 'must be between 0 and 65535')
    .max(65535, 'must be between 0 and 65535')
    .default(def);

export const envUrl = (protocols: string[]) =>
  z.string({ error: `is required (a ${protocols[0]}:// URL)` }).refine(
    (s) => {
      try {
        return protocols.includes(new URL(s).protocol.replace(/:$/, ''));
      } catch {
        return false;
      }
    },
    `must be a URL with scheme ${protocols.join(' or ')}`,
  );

export const envBool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const envLogLevel = z
  .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  .default('info');
