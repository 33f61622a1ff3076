// Writes the API's OpenAPI document to docs/openapi.json: `node services/api/src/write-openapi.ts`
// (scripts/openapi). With --check it writes nothing and exits 1 when the file is out of date.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildDocumentedApp } from './openapi-app.ts';
import { openApiText } from './openapi.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const { values } = parseArgs({
  options: {
    check: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(ROOT, 'docs', 'openapi.json') },
  },
});
const out = path.resolve(values.out);
const shown = path.relative(process.cwd(), out) || out;

const { app, close } = await buildDocumentedApp();
let text: string;
try {
  text = openApiText(app);
} finally {
  await close();
}
const paths = (JSON.parse(text) as { paths: Record<string, object> }).paths;
const operations = Object.values(paths).reduce((n, item) => n + Object.keys(item).length, 0);
const current = await readFile(out, 'utf8').catch(() => undefined);

if (values.check) {
  if (current === text) {
    console.log(`${shown} is up to date (${operations} operations)`);
  } else {
    console.error(`${shown} is out of date: run scripts/openapi`);
    process.exitCode = 1;
  }
} else if (current === text) {
  console.log(`${shown} is up to date (${operations} operations)`);
} else {
  await writeFile(out, text);
  console.log(`wrote ${shown} (${operations} operations)`);
}
