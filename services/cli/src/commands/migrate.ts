import { backingEnvSchema, parseEnv } from '@switchyard/config';
import { migrateDatabase, openDatabase } from '@switchyard/db';
import { redactUrl } from '@switchyard/telemetry';
import { parseCommandArgs, type Command } from '../context.ts';

/** `switchyard migrate`: applies the committed migrations; safe to run again. */
export const migrate: Command = async (args, ctx) => {
  parseCommandArgs(args, {}, false);
  const env = parseEnv(backingEnvSchema, ctx.env);
  const db = await openDatabase({ url: env.DATABASE_URL, pgliteDataDir: env.PGLITE_DIR });
  try {
    await migrateDatabase(db);
    ctx.stdout.write(
      `migrations applied (${db.driver}: ${redactUrl(env.DATABASE_URL) ?? env.PGLITE_DIR ?? 'in-memory PGlite'})\n`,
    );
    return 0;
  } finally {
    await db.close();
  }
};
