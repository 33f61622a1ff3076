// MD5-crypt ("$1$", Poul-Henning Kamp's FreeBSD scheme), the same function as glibc crypt(3)
// with a "$1$" salt and `openssl passwd -1`. Whatsminer API v2 derives its AES key and its
// command signature with it. Passwords and salts are taken as UTF-8 bytes; the salt stops at
// the first "$" and is cut to 8 characters, as the original does.
import { createHash } from 'node:crypto';

const MAGIC = '$1$';
const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function md5(...parts: Buffer[]): Buffer {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
}

function to64(value: number, count: number): string {
  let out = '';
  let v = value;
  for (let i = 0; i < count; i++) {
    out += ITOA64[v & 0x3f];
    v >>>= 6;
  }
  return out;
}

/** The salt as md5-crypt uses it: up to the first "$", at most 8 characters. */
export function normalizeMd5Salt(salt: string): string {
  const s = salt.startsWith(MAGIC) ? salt.slice(MAGIC.length) : salt;
  const end = s.indexOf('$');
  return (end === -1 ? s : s.slice(0, end)).slice(0, 8);
}

/** Returns the full hash string, "$1$<salt>$<22 characters>". */
export function md5crypt(password: string, salt: string): string {
  const pw = Buffer.from(password, 'utf8');
  const saltStr = normalizeMd5Salt(salt);
  const sl = Buffer.from(saltStr, 'utf8');
  const magic = Buffer.from(MAGIC, 'utf8');

  const alt = md5(pw, sl, pw);
  const ctx = createHash('md5');
  ctx.update(pw);
  ctx.update(magic);
  ctx.update(sl);
  for (let left = pw.length; left > 0; left -= 16) ctx.update(alt.subarray(0, Math.min(16, left)));
  // A quirk of the original: a NUL for each set bit of the length, else the first password byte.
  const zero = Buffer.alloc(1);
  const first = pw.subarray(0, 1);
  for (let i = pw.length; i > 0; i >>>= 1) ctx.update(i & 1 ? zero : first);
  let final: Buffer = ctx.digest();

  // 1000 rounds to slow down brute force.
  for (let i = 0; i < 1000; i++) {
    const parts: Buffer[] = [i & 1 ? pw : final];
    if (i % 3) parts.push(sl);
    if (i % 7) parts.push(pw);
    parts.push(i & 1 ? final : pw);
    final = md5(...parts);
  }

  const b = (i: number) => final[i] as number;
  const encoded =
    to64((b(0) << 16) | (b(6) << 8) | b(12), 4) +
    to64((b(1) << 16) | (b(7) << 8) | b(13), 4) +
    to64((b(2) << 16) | (b(8) << 8) | b(14), 4) +
    to64((b(3) << 16) | (b(9) << 8) | b(15), 4) +
    to64((b(4) << 16) | (b(10) << 8) | b(5), 4) +
    to64(b(11), 2);
  return `${MAGIC}${saltStr}$${encoded}`;
}

/** Only the 22-character hash part (what Whatsminer calls the key or the sign). */
export function md5cryptHash(password: string, salt: string): string {
  const full = md5crypt(password, salt);
  return full.slice(full.lastIndexOf('$') + 1);
}
