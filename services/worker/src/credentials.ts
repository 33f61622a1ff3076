// Miner credentials for device commands. A fleet names a Secret (`credentialsSecret.name`); in a
// cluster that Secret is mounted as a directory with one file per key, and standalone
// deployments lay files out the same way:
//   <dir>/<secret name>/username
//   <dir>/<secret name>/password
// Files are read on first use and cached; a missing or empty one is a permanent failure naming
// the path (retrying cannot create it), so the batch fails at once and is kept for inspection.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MinerDriverName } from '@switchyard/domain';
import type { MinerCredentials } from '@switchyard/miners';
import { UnrecoverableError } from '@switchyard/queue';

export const DEFAULT_CREDENTIALS_DIR = '/etc/switchyard/credentials';

const SECRET_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export type CredentialsResolver = (ref: string, driver: MinerDriverName) => Promise<MinerCredentials>;

export function fileCredentialsResolver(dir: string = DEFAULT_CREDENTIALS_DIR): CredentialsResolver {
  const cache = new Map<string, Promise<MinerCredentials>>();
  const load = async (ref: string): Promise<MinerCredentials> => {
    if (!SECRET_NAME.test(ref)) throw new UnrecoverableError(`credentials "${ref}": not a valid Secret name`);
    const read = async (key: 'username' | 'password') => {
      const path = join(dir, ref, key);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (e) {
        throw new UnrecoverableError(
          `credentials "${ref}": cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
        );
      }
      // A trailing newline is an editor's, not part of the secret.
      const value = text.replace(/\r?\n$/, '');
      if (value === '') throw new UnrecoverableError(`credentials "${ref}": ${path} is empty`);
      return value;
    };
    return { username: await read('username'), password: await read('password') };
  };
  return (ref) => {
    let p = cache.get(ref);
    if (!p) {
      p = load(ref);
      // A failure is not cached: the file may be mounted a moment later.
      p.catch(() => cache.delete(ref));
      cache.set(ref, p);
    }
    return p;
  };
}
