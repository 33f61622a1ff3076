// drizzle-kit configuration. Migrations live in the repository's top-level migrations/ folder,
// where every service (and the test suite) applies them from. Regenerate after a schema change
// with `pnpm --filter @switchyard/db db:generate -- --name <change>`.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/schema.ts',
  out: '../../migrations',
  strict: true,
  verbose: true,
});
