// The Dockerfile the chart's image is built from. No image is built here (there is no Docker on
// these machines): this reads the Dockerfile's instructions and .dockerignore and checks what can
// be checked without building — the base images, the production install, a non-root user, the
// entrypoint reaching the CLI, and that the build context keeps every file the services read at
// run time while leaving out tests and local state.
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';

interface Instruction {
  op: string;
  args: string;
  line: number;
}

/** Instructions with continuation lines joined; comments and parser directives dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (pending === '') start = i + 1;
    pending += (pending ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) return;
    const [op, ...rest] = pending.split(/\s+/);
    out.push({ op: op!.toUpperCase(), args: rest.join(' '), line: start });
    pending = '';
  });
  return out;
}

/** Whether .dockerignore keeps `file` out of the build context (Docker's rules, minus `!`). */
function ignored(patterns: string[], file: string): boolean {
  const toRegExp = (pattern: string) =>
    new RegExp(
      `^${pattern
        .split(/(\*\*\/|\*|\?)/)
        .map((part) => {
          if (part === '**/') return '(?:.*/)?';
          if (part === '*') return '[^/]*';
          if (part === '?') return '[^/]';
          return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
        })
        .join('')}(?:/.*)?$`,
    );
  return patterns.some((p) => toRegExp(p).test(file));
}

const dockerfile = instructions(readFileSync('Dockerfile', 'utf8'));
const patterns = readFileSync('.dockerignore', 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { packageManager: string };

describe('Dockerfile', () => {
  const args = Object.fromEntries(
    dockerfile.filter((i) => i.op === 'ARG').map((i) => i.args.split('=') as [string, string]),
  );
  const froms = dockerfile.filter((i) => i.op === 'FROM');
  const stages = froms.map((f) => f.args.split(/\s+AS\s+/i)[1]);
  const lastFrom = dockerfile.lastIndexOf(froms.at(-1)!);
  const runtime = dockerfile.slice(lastFrom);

  it('builds in stages from node:24-bookworm-slim', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) {
      const image = f.args.split(/\s+/)[0]!.replace(/^\$\{(\w+)\}$/, (_m, name: string) => args[name] ?? '');
      expect(image).toBe('node:24-bookworm-slim');
    }
    expect(new Set(stages).size).toBe(stages.length);
  });

  it('installs the workspace from the lockfile, production dependencies only, with the pinned pnpm', () => {
    const runs = dockerfile.filter((i) => i.op === 'RUN').map((i) => i.args);
    const install = runs.find((r) => /\bpnpm install\b/.test(r));
    expect(install).toMatch(/--frozen-lockfile/);
    expect(install).toMatch(/--prod\b/);
    expect(runs.join('\n')).toContain(pkg.packageManager);
    // No build step: Node runs the TypeScript sources (type stripping).
    expect(runs.join('\n')).not.toMatch(/\b(tsc|pnpm (run )?build)\b/);
  });

  it('runs as uid 10001, never root, with the switchyard command line as its entrypoint', () => {
    const users = runtime.filter((i) => i.op === 'USER');
    expect(users.map((u) => u.args)).toEqual(['10001:10001']);
    // Nothing after USER switches back.
    expect(dockerfile.indexOf(users[0]!)).toBeGreaterThan(dockerfile.findLastIndex((i) => i.op === 'RUN'));
    const entrypoint = runtime.find((i) => i.op === 'ENTRYPOINT')!;
    expect(JSON.parse(entrypoint.args)).toEqual(['/usr/local/bin/switchyard']);
    // The wrapper the RUN writes execs Node on the CLI's entry point, which exists.
    const wrapper = runtime.find((i) => i.op === 'RUN' && i.args.includes('/usr/local/bin/switchyard'))!;
    const target = /exec node (\/app\/\S+)/.exec(wrapper.args)![1]!;
    expect(existsSync(target.replace(/^\/app\//, ''))).toBe(true);
    expect(runtime.find((i) => i.op === 'WORKDIR')?.args).toBe('/app');
    // HOME in /tmp: the only writable place under a read-only root filesystem.
    expect(runtime.find((i) => i.op === 'ENV')?.args).toMatch(/HOME=\/tmp/);
  });

  it('copies into the runtime stage only from the dependency stage', () => {
    const copies = runtime.filter((i) => i.op === 'COPY');
    expect(copies.length).toBeGreaterThan(0);
    for (const c of copies) expect(c.args).toMatch(new RegExp(`--from=${stages[0]}\\b`));
  });
});

describe('.dockerignore', () => {
  it('keeps what the services read at run time in the build context', () => {
    for (const file of [
      'package.json',
      'pnpm-lock.yaml',
      'pnpm-workspace.yaml',
      'services/cli/src/main.ts',
      'services/cli/package.json',
      'services/api/src/server.ts',
      'packages/db/src/database.ts',
      'packages/domain/package.json',
      'migrations/0000_initial.sql',
      'migrations/meta/_journal.json',
      'examples/farm.yaml',
      'examples/history-synthetic.csv',
    ]) {
      expect(existsSync(file)).toBe(true);
      expect([file, ignored(patterns, file)]).toEqual([file, false]);
    }
  });

  it('leaves out dependencies, local state, tests and what the image does not run', () => {
    for (const file of [
      'node_modules/yaml/package.json',
      'packages/domain/node_modules/zod/package.json',
      '.git/HEAD',
      '.tools/bin/pnpm',
      'test/chart/chart.test.ts',
      'packages/domain/src/farm/validation.test.ts',
      'charts/switchyard/values.yaml',
      'bench/README.md',
      '.env',
    ])
      expect([file, ignored(patterns, file)]).toEqual([file, true]);
  });
});
