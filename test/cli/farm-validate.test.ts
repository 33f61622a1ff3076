// The CLI as a user runs it: a real process, real files, exit codes and output.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAIN = join(process.cwd(), 'services/cli/src/main.ts');

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'sy-cli-'));

describe('switchyard farm validate', () => {
  it('accepts the example farm and summarises it', () => {
    const r = cli(['farm', 'validate', 'examples/farm.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      'examples/farm.yaml: valid — 1 site(s), 17 miner fleet(s) with 10000 miners, 2 GPU pool(s), 1 policy(ies)',
    );
  });

  it('prints every problem with file and line, and exits 1', () => {
    const bad = readFileSync('examples/farm.yaml', 'utf8')
      .replace('feed: pdu-1a3', 'feed: pdu-9')
      .replace('model: M60S', 'model: M99')
      .replace('nodePowerKw: { idle: 1.6,', 'nodePowerKw: { idle: 11,');
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, bad);
    const r = cli(['farm', 'validate', file]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toContain(
      `MinerFleet/rack-a3 spec.feed: "pdu-9" is not a node of Site west-1's power tree (${file}:${bad.split('\n').findIndex((l) => l.includes('feed: pdu-9')) + 1})`,
    );
    expect(
      lines.filter((l) => l.startsWith('GpuPool/h100-a spec.nodePowerKw.idle: 11 kW idle is above')),
    ).toHaveLength(2);
    expect(
      lines.filter((l) => l.includes('MinerFleet/rack-c4 spec.model: unknown model "M99"')),
    ).toHaveLength(1);
    expect(lines.at(-1)).toBe(`${file}: 4 problems`);
  });

  it('does not cascade: fleets on an invalid site are not reported as dangling', () => {
    const file = join(dir, 'bad-site.yaml');
    writeFileSync(file, readFileSync('examples/farm.yaml', 'utf8').replace('pue: 1.08', 'pue: 0.5'));
    const r = cli(['farm', 'validate', file]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `Site/west-1 spec.pue: Too small: expected number to be >=1 (${file}:16)`,
      `${file}: 1 problem`,
    ]);
  });

  it('emits machine-readable issues with --json', () => {
    const file = join(dir, 'bad2.yaml');
    writeFileSync(
      file,
      'apiVersion: switchyard.io/v1alpha1\nkind: Site\nmetadata: { name: Bad_Name }\nspec: {}\n',
    );
    const r = cli(['farm', 'validate', '--json', file]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { valid: boolean; issues: Array<{ document: string; path: string }> };
    expect(out.valid).toBe(false);
    expect(out.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(['metadata.name', 'spec.interconnectKw', 'spec.powerTree']),
    );
  });

  it('reports an unreadable file', () => {
    const r = cli(['farm', 'validate', join(dir, 'missing.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('missing.yaml: cannot read (ENOENT)');
  });

  it.each([
    [['farm', 'validate'], 'switchyard farm validate: expects exactly one file'],
    [['farm', 'validate', 'a', 'b'], 'expects exactly one file'],
    [['farm', 'validate', '--bogus', 'x'], "Unknown option '--bogus'"],
    [['frobnicate'], 'unknown command "frobnicate"'],
  ])('exits 2 on usage errors: %j', (args, message) => {
    const r = cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('prints help', () => {
    const r = cli(['help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('farm validate <file>');
  });
});

describe('switchyard start configuration errors', () => {
  it('names the bad variable and exits 2', () => {
    const r = cli(['start'], { PORT: 'eighty', REDIS_URL: 'redis://127.0.0.1:1' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('PORT: must be a number (got "eighty")');
  });

  it('says which Redis it cannot reach and exits 1, with no stack trace', () => {
    const r = cli(['start', '--port', '0'], {
      REDIS_URL: 'redis://:secret@127.0.0.1:1',
      LOG_LEVEL: 'silent',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('switchyard start: cannot connect to Redis at redis://:***@127.0.0.1:1');
    expect(r.stderr).not.toContain('secret');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses an invalid farm file with every problem listed', () => {
    const file = join(dir, 'bad3.yaml');
    writeFileSync(file, readFileSync('examples/farm.yaml', 'utf8').replace('feed: pdu-1a3', 'feed: pdu-9'));
    const r = cli(['start', '--farm', file, '--port', '0'], {
      REDIS_URL: 'redis://127.0.0.1:1',
      LOG_LEVEL: 'silent',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('"pdu-9" is not a node of Site west-1\'s power tree');
  });
});
