// The app as the OpenAPI document describes it: every route group enabled, on an in-memory PGlite
// database and the example farm. scripts/openapi (write-openapi.ts) and test/api/openapi.test.ts
// both build it here, so the test compares the document the app serves with the committed one
// built the same way.
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { migrateDatabase, openDatabase } from '@switchyard/db';
import { createLogger } from '@switchyard/telemetry';
import { buildApp } from './app.ts';
import { loadFarmFile } from './server.ts';

export const EXAMPLE_FARM_FILE = path.resolve(import.meta.dirname, '..', '..', '..', 'examples', 'farm.yaml');

export interface DocumentedApp {
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Builds and readies the app; close() closes it and its database. */
export async function buildDocumentedApp(): Promise<DocumentedApp> {
  const farm = await loadFarmFile(EXAMPLE_FARM_FILE);
  const db = await openDatabase({});
  try {
    await migrateDatabase(db);
    const app = await buildApp({
      logger: createLogger({ level: 'silent' }),
      readiness: [{ name: 'database', check: () => db.ping() }],
      getFarm: () => ({ farm, snapshotId: 0, source: 'file:examples/farm.yaml', loadedAt: new Date(0) }),
      db: db.db,
    });
    await app.ready();
    return {
      app,
      close: async () => {
        await app.close();
        await db.close();
      },
    };
  } catch (e) {
    await db.close();
    throw e;
  }
}
