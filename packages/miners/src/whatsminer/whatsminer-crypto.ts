// Whatsminer API authentication, as MicroBT documents it and pyasic implements it
// (pyasic/rpc/btminer.py: _crypt, create_privileged_cmd, parse_btminer_priviledge_data,
// BTMinerV3RPCAPI.send_command).
//
// API v2 (TCP 4028), after `get_token` → Msg {salt, time, newsalt}:
//   key     = md5crypt(password, salt), the 22-character hash part
//   sign    = md5crypt(key + time, newsalt), the hash part
//   aesKey  = sha256(key), the 32 raw digest bytes
//   request = {"enc":1,"data":base64(AES-256-ECB(aesKey, zeroPad16(json({cmd,...,token:sign}))))}
//   reply   = {"enc":"<base64 ciphertext>"}, zero-padded JSON once decrypted
// API v3 (TCP 4433), set.* commands carry {ts, account, token}:
//   token   = first 8 characters of base64(sha256(cmd + password + salt + ts))
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { md5cryptHash } from './md5crypt.ts';

export interface V2TokenMsg {
  salt: string;
  time: string;
  newsalt: string;
}

export interface V2Credentials {
  /** md5crypt(password, salt) hash part: the shared secret both sides derive. */
  key: string;
  /** md5crypt(key + time, newsalt) hash part: sent as "token" in every write. */
  sign: string;
  aesKey: Buffer;
}

export function deriveV2Credentials(password: string, token: V2TokenMsg): V2Credentials {
  const key = md5cryptHash(password, token.salt);
  const sign = md5cryptHash(key + token.time, token.newsalt);
  return { key, sign, aesKey: v2AesKey(key) };
}

export function v2AesKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** AES-256-ECB with zero padding to the block size (the firmware's scheme, not PKCS#7). */
export function aes256EcbEncrypt(aesKey: Buffer, plaintext: Buffer): Buffer {
  const padded = Buffer.alloc(Math.ceil(plaintext.length / 16) * 16 || 16);
  plaintext.copy(padded);
  const cipher = createCipheriv('aes-256-ecb', aesKey, null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(padded), cipher.final()]);
}

/** Decrypts and strips the trailing zero padding. Throws on a length that is not whole blocks. */
export function aes256EcbDecrypt(aesKey: Buffer, ciphertext: Buffer): Buffer {
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) {
    throw new Error(`ciphertext of ${ciphertext.length} bytes is not whole AES blocks`);
  }
  const decipher = createDecipheriv('aes-256-ecb', aesKey, null);
  decipher.setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  let end = plain.length;
  while (end > 0 && plain[end - 1] === 0) end--;
  return plain.subarray(0, end);
}

/** The encrypted v2 write request: the command with its token, encrypted and wrapped. */
export function encryptV2Command(
  creds: V2Credentials,
  command: Record<string, unknown>,
): { enc: 1; data: string } {
  const json = JSON.stringify({ ...command, token: creds.sign });
  return { enc: 1, data: aes256EcbEncrypt(creds.aesKey, Buffer.from(json, 'utf8')).toString('base64') };
}

/** Decrypts a v2 "enc" field to the JSON text inside it. Throws on bad base64 or block length. */
export function decryptV2Text(aesKey: Buffer, enc: string): string {
  if (!/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/.test(enc)) throw new Error('reply is not base64');
  return aes256EcbDecrypt(aesKey, Buffer.from(enc, 'base64')).toString('utf8');
}

/** The 8-character token of a v3 set.* command. */
export function v3Token(cmd: string, password: string, salt: string, ts: number): string {
  const digest = createHash('sha256').update(`${cmd}${password}${salt}${ts}`, 'utf8').digest();
  return digest.toString('base64').slice(0, 8);
}
