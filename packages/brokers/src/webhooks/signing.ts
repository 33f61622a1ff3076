// Webhook signatures, the Standard Webhooks scheme (symmetric, version v1):
//
//   webhook-id:        the message id, the same on every retry
//   webhook-timestamp: when this attempt was signed, integer Unix seconds
//   webhook-signature: `v1,` + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)),
//                      several of them separated by spaces (a receiver accepts any that matches)
//
// The key is the secret without its `whsec_` prefix, base64-decoded. The body is signed as the
// exact bytes sent, so a receiver must verify the raw body before parsing it as JSON.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_SIGNATURE_VERSION = 'v1';
export const WEBHOOK_ID_HEADER = 'webhook-id';
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature';
export const WEBHOOK_USER_AGENT = 'Switchyard-Webhooks/1';
/** How far a receiver lets webhook-timestamp stray from its clock, by default (5 minutes). */
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** A message id may not contain the '.' that separates the signed parts, nor spaces. */
const MESSAGE_ID = /^[\x21-\x2d\x2f-\x7e]{1,256}$/;
const TIMESTAMP = /^\d{1,12}$/;
const MAX_SIGNATURE_HEADER_LENGTH = 4096;
const SHA256_BYTES = 32;

export type RawBody = string | Uint8Array;

/** The HMAC key of a `whsec_...` secret (or of its bare base64 part). */
export function webhookSigningKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (encoded.length === 0 || !BASE64.test(encoded))
    throw new TypeError('a webhook secret is `whsec_` followed by base64');
  return Buffer.from(encoded, 'base64');
}

function hmac(key: Buffer, id: string, timestamp: string, body: RawBody): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
}

/** The `v1,<base64>` signature of one message. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: RawBody): string {
  if (!MESSAGE_ID.test(id)) throw new TypeError('a webhook id is 1 to 256 printable characters, no "."');
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0)
    throw new TypeError('a webhook timestamp is whole Unix seconds');
  const sig = hmac(webhookSigningKey(secret), id, String(timestampSeconds), body);
  return `${WEBHOOK_SIGNATURE_VERSION},${sig.toString('base64')}`;
}

/** The three signature headers of a message signed now (or at `timestampSeconds`). */
export function webhookSignatureHeaders(
  secret: string,
  id: string,
  body: RawBody,
  timestampSeconds: number = Math.floor(Date.now() / 1000),
): Record<string, string> {
  return {
    [WEBHOOK_ID_HEADER]: id,
    [WEBHOOK_TIMESTAMP_HEADER]: String(timestampSeconds),
    [WEBHOOK_SIGNATURE_HEADER]: signWebhook(secret, id, timestampSeconds, body),
  };
}

/** Request headers as node:http gives them, as a fetch Headers, or a plain record. */
export type HeaderSource =
  { get(name: string): string | null } | Record<string, string | readonly string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    const v = (headers as { get(name: string): string | null }).get(name);
    return v ?? undefined;
  }
  const record = headers as Record<string, string | readonly string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : record[key];
  if (Array.isArray(v)) return v.length === 1 ? (v[0] as string) : undefined;
  return typeof v === 'string' ? v : undefined;
}

export type WebhookVerification =
  | { ok: true; id: string; timestamp: number }
  | {
      ok: false;
      reason: 'missing-headers' | 'bad-headers' | 'bad-secret' | 'too-old' | 'too-new' | 'no-match';
    };

/**
 * Checks a received webhook: its three headers, a timestamp within `toleranceSeconds` of now
 * (replays of an old message fail), and at least one `v1` signature that matches the raw body,
 * compared in constant time. Never throws for a bad request; tells why it failed instead.
 */
export function verifyWebhookSignature(
  secret: string,
  headers: HeaderSource,
  rawBody: RawBody,
  toleranceSeconds: number = DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
  nowMs: number = Date.now(),
): WebhookVerification {
  const id = header(headers, WEBHOOK_ID_HEADER);
  const timestamp = header(headers, WEBHOOK_TIMESTAMP_HEADER);
  const signatures = header(headers, WEBHOOK_SIGNATURE_HEADER);
  if (id === undefined || timestamp === undefined || signatures === undefined)
    return { ok: false, reason: 'missing-headers' };
  if (!MESSAGE_ID.test(id) || !TIMESTAMP.test(timestamp) || signatures.length > MAX_SIGNATURE_HEADER_LENGTH)
    return { ok: false, reason: 'bad-headers' };
  let key: Buffer;
  try {
    key = webhookSigningKey(secret);
  } catch {
    return { ok: false, reason: 'bad-secret' };
  }
  const ts = Number(timestamp);
  const now = Math.floor(nowMs / 1000);
  const tolerance = Math.max(0, toleranceSeconds);
  if (now - ts > tolerance) return { ok: false, reason: 'too-old' };
  if (ts - now > tolerance) return { ok: false, reason: 'too-new' };

  const expected = hmac(key, id, timestamp, rawBody);
  let matched = false;
  for (const entry of signatures.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== WEBHOOK_SIGNATURE_VERSION) continue;
    const encoded = entry.slice(comma + 1);
    if (!BASE64.test(encoded)) continue;
    const given = Buffer.from(encoded, 'base64');
    // Every candidate is compared; no early exit tells which one matched.
    if (given.length === SHA256_BYTES && timingSafeEqual(given, expected)) matched = true;
  }
  return matched ? { ok: true, id, timestamp: ts } : { ok: false, reason: 'no-match' };
}
