// The domain package is the pure core; the lint rule that keeps it so must actually fire.
// ESLint loads its flat config with a dynamic import, so it runs here as a real subprocess.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require_ = createRequire(join(process.cwd(), 'package.json'));
const eslintBin = join(dirname(require_.resolve('eslint/package.json')), 'bin', 'eslint.js');

interface LintMessage {
  ruleId: string | null;
  severity: number;
  message: string;
}

function lint(code: string, file = 'packages/domain/src/farm/probe.ts'): LintMessage[] {
  const r = spawnSync(
    process.execPath,
    [eslintBin, '--stdin', '--stdin-filename', file, '--format', 'json'],
    {
      input: code,
      encoding: 'utf8',
    },
  );
  const parsed = JSON.parse(r.stdout) as Array<{ messages: LintMessage[] }>;
  return parsed
    .flatMap((f) => f.messages)
    .filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-globals');
}

describe('domain purity lint rule', () => {
  it.each([
    ["import { readFileSync } from 'node:fs';\nexport const f = readFileSync;"],
    ["import { connect } from 'net';\nexport const f = connect;"],
    ["import { Redis } from 'ioredis';\nexport const f = Redis;"],
    ["import { openDatabase } from '@switchyard/db';\nexport const f = openDatabase;"],
    ["import { sql } from 'drizzle-orm';\nexport const f = sql;"],
    ['export const f = () => fetch("http://x");'],
    ['export const f = () => process.env.HOME;'],
  ])('rejects I/O in the domain: %s', (code) => {
    const messages = lint(code);
    expect(messages.length).toBeGreaterThan(0);
    expect(messages[0]?.severity).toBe(2);
  });

  it('allows pure imports in the domain', () => {
    expect(lint("import { z } from 'zod';\nexport const s = z.string();")).toEqual([]);
  });

  it('allows I/O outside the domain', () => {
    expect(
      lint(
        "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;",
        'services/cli/src/probe.ts',
      ),
    ).toEqual([]);
  });
});
