// The Standard Webhooks signature: the published test vector, the headers, and every way a
// verification fails (tampered body, wrong secret, stale or future timestamp, missing headers).
import { describe, expect, it } from '@jest/globals';
import {
  signWebhook,
  verifyWebhookSignature,
  webhookSignatureHeaders,
  webhookSigningKey,
  type HeaderSource,
  type RawBody,
} from './signing.ts';

// The Standard Webhooks reference libraries' own test vector.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TS = 1614265330;
const BODY = '{"test": 2432232314}';
const EXPECTED = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
const AT = TS * 1000;

/** 'ok', or why the verification failed. */
function verdict(
  headers: HeaderSource,
  o: { body?: RawBody; nowMs?: number; secret?: string; tolerance?: number } = {},
): string {
  const v = verifyWebhookSignature(
    o.secret ?? SECRET,
    headers,
    o.body ?? BODY,
    o.tolerance ?? 300,
    o.nowMs ?? AT,
  );
  return v.ok ? 'ok' : v.reason;
}

describe('signWebhook', () => {
  it('matches the Standard Webhooks test vector, with or without the whsec_ prefix', () => {
    expect(signWebhook(SECRET, ID, TS, BODY)).toBe(EXPECTED);
    expect(signWebhook(SECRET.slice('whsec_'.length), ID, TS, BODY)).toBe(EXPECTED);
    expect(signWebhook(SECRET, ID, TS, Buffer.from(BODY))).toBe(EXPECTED);
  });

  it('builds the three headers', () => {
    expect(webhookSignatureHeaders(SECRET, ID, BODY, TS)).toEqual({
      'webhook-id': ID,
      'webhook-timestamp': String(TS),
      'webhook-signature': EXPECTED,
    });
  });

  it('refuses ids with a dot, bad timestamps and secrets that are not base64', () => {
    expect(() => signWebhook(SECRET, 'a.b', TS, BODY)).toThrow(/no "\."/);
    expect(() => signWebhook(SECRET, ID, -1, BODY)).toThrow(/timestamp/);
    expect(() => signWebhook(SECRET, ID, 1.5, BODY)).toThrow(/timestamp/);
    expect(() => webhookSigningKey('whsec_')).toThrow(/base64/);
    expect(() => webhookSigningKey('whsec_not base64!')).toThrow(/base64/);
    expect(webhookSigningKey(SECRET)).toHaveLength(24);
  });
});

describe('verifyWebhookSignature', () => {
  const headers = webhookSignatureHeaders(SECRET, ID, BODY, TS);

  it('accepts the message it signed, from any header shape', () => {
    expect(verifyWebhookSignature(SECRET, headers, BODY, 300, AT)).toEqual({
      ok: true,
      id: ID,
      timestamp: TS,
    });
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(verdict(upper, { body: Buffer.from(BODY) })).toBe('ok');
    expect(verdict(new Headers(headers))).toBe('ok');
  });

  it('accepts any one matching v1 signature among several', () => {
    const many = `v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,abc ${EXPECTED} v1a,xyz`;
    expect(verdict({ ...headers, 'webhook-signature': many })).toBe('ok');
  });

  it('refuses a tampered body, a wrong secret, a truncated or foreign signature', () => {
    expect(verdict(headers, { body: BODY.replace('2', '3') })).toBe('no-match');
    expect(verdict(headers, { body: `${BODY} ` })).toBe('no-match');
    expect(verdict(headers, { secret: `whsec_${Buffer.alloc(32, 7).toString('base64')}` })).toBe('no-match');
    for (const sig of [EXPECTED.slice(0, 12), 'v1,', `v2,${EXPECTED.slice(3)}`, EXPECTED.slice(3)])
      expect(verdict({ ...headers, 'webhook-signature': sig })).toBe('no-match');
    // Another id or timestamp is another message.
    expect(verdict({ ...headers, 'webhook-id': 'msg_other' })).toBe('no-match');
    expect(verdict({ ...headers, 'webhook-timestamp': String(TS + 1) })).toBe('no-match');
  });

  it('refuses timestamps outside the tolerance, both ways', () => {
    expect(verdict(headers, { nowMs: AT + 301_000 })).toBe('too-old');
    expect(verdict(headers, { nowMs: AT - 301_000 })).toBe('too-new');
    expect(verdict(headers, { nowMs: AT + 300_000 })).toBe('ok');
    expect(verdict(headers, { nowMs: AT + 1000, tolerance: 0 })).toBe('too-old');
  });

  it('refuses missing and malformed headers and a malformed secret without throwing', () => {
    for (const name of Object.keys(headers)) {
      const rest = { ...headers };
      delete rest[name];
      expect(verdict(rest)).toBe('missing-headers');
    }
    expect(verdict({ ...headers, 'webhook-timestamp': 'soon' })).toBe('bad-headers');
    expect(verdict({ ...headers, 'webhook-id': 'a.b' })).toBe('bad-headers');
    expect(verdict({ ...headers, 'webhook-signature': 'v1,x '.repeat(1000) })).toBe('bad-headers');
    expect(verdict(headers, { secret: 'whsec_!!' })).toBe('bad-secret');
    // A repeated header (an array from node:http) is not trusted.
    expect(verdict({ ...headers, 'webhook-signature': [EXPECTED, EXPECTED] })).toBe('missing-headers');
  });
});
