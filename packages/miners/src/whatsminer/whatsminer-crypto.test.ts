// Known-answer tests. Every expected value was computed outside this code: md5crypt with
// `openssl passwd -1 -salt <salt> <password>`, the v2 key and sign with openssl the way pyasic
// does it (split the "$1$salt$hash" string and keep the hash), the AES ciphertext with
// `openssl enc -aes-256-ecb -nopad` over the zero-padded JSON, and the v3 token with
// `openssl dgst -sha256 -binary | base64 | cut -c1-8`.
import { describe, expect, it } from '@jest/globals';
import { md5crypt, md5cryptHash, normalizeMd5Salt } from './md5crypt.ts';
import {
  aes256EcbDecrypt,
  aes256EcbEncrypt,
  decryptV2Text,
  deriveV2Credentials,
  encryptV2Command,
  v2AesKey,
  v3Token,
} from './whatsminer-crypto.ts';

describe('md5crypt', () => {
  it.each([
    ['password', 'abcdefgh', '$1$abcdefgh$G//4keteveJp0qb8z2DxG/'],
    ['admin', 'BQsE', '$1$BQsE$/pqWnE08z8Itq4hJLZzBl1'],
    ['admin1234', 'BQ5hoXV9', '$1$BQ5hoXV9$wiSefu0l86Yr6xqGdQeRZ0'],
    ['abc', '', '$1$$j0yT3c/2mYPQF09fpvPLb0'],
    ['', 'saltsalt', '$1$saltsalt$5Jhcit4zN9UlGiA0txPkO0'],
    // Salts are cut to 8 characters; passwords are UTF-8 bytes.
    ['pässwörd', 'longersaltvalue', '$1$longersa$i1FV1hBhn91kuzQHUDG7n/'],
    [
      'a very long password that is longer than sixteen bytes for sure',
      'a.b/c',
      '$1$a.b/c$M2dPyvdO34K.yFbT5iv8t0',
    ],
  ])('md5crypt(%j, %j) matches openssl passwd -1', (pw, salt, expected) => {
    expect(md5crypt(pw, salt)).toBe(expected);
  });

  it('accepts a salt written with its $1$ prefix and a trailing $', () => {
    expect(normalizeMd5Salt('$1$BQ5hoXV9$')).toBe('BQ5hoXV9');
    expect(md5cryptHash('admin1234', '$1$BQ5hoXV9$')).toBe('wiSefu0l86Yr6xqGdQeRZ0');
  });
});

describe('Whatsminer API v2 token (the pyasic way)', () => {
  const token = { salt: 'BQ5hoXV9', time: '1634', newsalt: 'jbzkfQls' };
  const creds = deriveV2Credentials('admin1234', token);

  it('derives key = md5crypt(password, salt) and sign = md5crypt(key + time, newsalt)', () => {
    expect(creds.key).toBe('wiSefu0l86Yr6xqGdQeRZ0');
    expect(creds.sign).toBe('/hwZH7L/Um0cMXaYJgktC.');
  });

  it('uses sha256(key) as the AES-256 key', () => {
    expect(creds.aesKey.toString('hex')).toBe(
      '929ff19adb8e077f6b61a4ce4fe0b0ebb8b7b6f702bb02971a5317c02d8f3eab',
    );
    expect(v2AesKey(creds.key).equals(creds.aesKey)).toBe(true);
  });

  it('encrypts a zero-padded command exactly as openssl does', () => {
    // pyasic serializes with json.dumps defaults (", " and ": "); the bytes are what matter here.
    const json = `{"cmd": "power_off", "respbefore": "true", "token": "${creds.sign}"}`;
    const enc = aes256EcbEncrypt(creds.aesKey, Buffer.from(json)).toString('base64');
    expect(enc).toBe(
      'i/PrUN+5/emAyQP/qX8k0wqzHLkf4+yGodTAQ1MClqf31vx2znVwyYMx4MAUZmFxVfi4xI8TySSAudmsSbt6tXQvgA/6Oax8i/dpVs4UL1I=',
    );
    expect(decryptV2Text(creds.aesKey, enc)).toBe(json);
  });

  it('wraps a command as {"enc":1,"data":...} with the sign as its token', () => {
    const packet = encryptV2Command(creds, { cmd: 'set_power_pct', percent: '80' });
    expect(packet.enc).toBe(1);
    expect(JSON.parse(decryptV2Text(creds.aesKey, packet.data))).toEqual({
      cmd: 'set_power_pct',
      percent: '80',
      token: '/hwZH7L/Um0cMXaYJgktC.',
    });
  });
});

describe('AES-256-ECB with zero padding', () => {
  const key = Buffer.alloc(32, 7);

  it.each([0, 1, 15, 16, 17, 31, 32, 1000])('round-trips %i bytes', (n) => {
    const plain = Buffer.from('x'.repeat(n));
    const enc = aes256EcbEncrypt(key, plain);
    expect(enc.length % 16).toBe(0);
    expect(enc.length).toBe(Math.max(16, Math.ceil(n / 16) * 16));
    expect(aes256EcbDecrypt(key, enc).equals(plain)).toBe(true);
  });

  it('rejects ciphertext that is not whole blocks, and text that is not base64', () => {
    expect(() => aes256EcbDecrypt(key, Buffer.alloc(15))).toThrow(/whole AES blocks/);
    expect(() => aes256EcbDecrypt(key, Buffer.alloc(0))).toThrow(/whole AES blocks/);
    expect(() => decryptV2Text(key, 'not base64!')).toThrow(/base64/);
  });

  it('decrypts with the wrong key to bytes that are not the plaintext', () => {
    const enc = aes256EcbEncrypt(key, Buffer.from('{"STATUS":"S"}'));
    expect(aes256EcbDecrypt(Buffer.alloc(32, 8), enc).toString()).not.toBe('{"STATUS":"S"}');
  });
});

describe('Whatsminer API v3 token', () => {
  it.each([
    ['set.miner.service', 'super', '5QAHiKMb', 1_700_000_000, 'ZMErIzaf'],
    ['set.miner.power_percent', 'passw0rd', 'abcdEFGH', 1_712_345_678, 'MekOsb7e'],
  ])('base64(sha256(%s + password + salt + ts)) cut to 8 characters', (cmd, pw, salt, ts, expected) => {
    expect(v3Token(cmd, pw, salt, ts)).toBe(expected);
  });
});
