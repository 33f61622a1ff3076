// Credentials from a Secret-style directory: one file per key, cached, clear permanent errors.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { UnrecoverableError } from '@switchyard/queue';
import { fileCredentialsResolver } from './credentials.ts';

const dir = mkdtempSync(join(tmpdir(), 'sy-creds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function secret(name: string, files: Record<string, string>) {
  mkdirSync(join(dir, name), { recursive: true });
  for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, name, k), v);
}

describe('fileCredentialsResolver', () => {
  it('reads username and password, dropping one trailing newline, and caches them', async () => {
    secret('antminer-web', { username: 'root\n', password: 's3cret pass\n' });
    const resolve = fileCredentialsResolver(dir);
    expect(await resolve('antminer-web', 'antminer')).toEqual({ username: 'root', password: 's3cret pass' });
    writeFileSync(join(dir, 'antminer-web', 'password'), 'changed');
    expect((await resolve('antminer-web', 'antminer')).password).toBe('s3cret pass');
  });

  it('fails permanently, naming the file, when a key is missing or empty', async () => {
    secret('half', { username: 'root' });
    secret('blank', { username: 'root', password: '\n' });
    const resolve = fileCredentialsResolver(dir);
    await expect(resolve('half', 'luxos')).rejects.toThrow(UnrecoverableError);
    await expect(resolve('half', 'luxos')).rejects.toThrow(`${join(dir, 'half', 'password')} (ENOENT)`);
    await expect(resolve('blank', 'luxos')).rejects.toThrow(/password is empty/);
  });

  it('refuses a name that is not a Secret name (no path tricks), and does not cache failures', async () => {
    const resolve = fileCredentialsResolver(dir);
    await expect(resolve('../etc', 'braiins')).rejects.toThrow(/not a valid Secret name/);
    await expect(resolve('late', 'braiins')).rejects.toThrow(/ENOENT/);
    secret('late', { username: 'u', password: 'p' });
    expect(await resolve('late', 'braiins')).toEqual({ username: 'u', password: 'p' });
  });
});
