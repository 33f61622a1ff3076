// HTTP Digest access authentication, client side (RFC 7616; RFC 2617 and 2069 servers too).
// Stock Antminer web UIs (lighttpd) challenge with realm "antMiner Configuration", qop="auth"
// and MD5. Supported: MD5, SHA-256, SHA-512-256 and their -sess forms; qop auth and auth-int
// (or none, RFC 2069); userhash. The client caches the last challenge and counts nc up, so a
// second request needs no extra round trip; a stale or rejected nonce is retried once.
import { createHash, randomBytes } from 'node:crypto';
import { MinerError } from '../driver.ts';
import type { MinerCredentials } from '../driver.ts';
import { httpRequest } from './http-client.ts';
import type { HttpRequestOptions, HttpResponse } from './http-client.ts';

export interface DigestChallenge {
  realm: string;
  nonce: string;
  /** Offered qop values, lower case; empty for an RFC 2069 server. */
  qop: string[];
  /** Upper-case algorithm name: MD5, MD5-SESS, SHA-256, SHA-256-SESS, SHA-512-256(-SESS). */
  algorithm: string;
  opaque: string | null;
  stale: boolean;
  userhash: boolean;
}

const HASHES: Record<string, string> = {
  MD5: 'md5',
  'SHA-256': 'sha256',
  'SHA-512-256': 'sha512-256',
};

/** Preference among algorithms a server offers (RFC 7616 §3.7: strongest first). */
const ALGORITHM_RANK = ['SHA-512-256', 'SHA-256', 'MD5'];

function baseAlgorithm(algorithm: string): string {
  return algorithm.replace(/-SESS$/, '');
}

export function isSupportedAlgorithm(algorithm: string): boolean {
  return HASHES[baseAlgorithm(algorithm)] !== undefined;
}

/**
 * Parses WWW-Authenticate header values into their Digest challenges (other schemes are
 * skipped). Tolerates quoted strings with escapes, extra spaces and several challenges in one
 * header value. Bounded: header values over 8 KiB are ignored.
 */
export function parseDigestChallenges(values: readonly string[]): DigestChallenge[] {
  const out: DigestChallenge[] = [];
  for (const value of values) {
    if (value.length > 8192) continue;
    for (const { scheme, params } of parseAuthHeader(value)) {
      if (scheme.toLowerCase() !== 'digest') continue;
      const ch = toChallenge(params);
      if (ch) out.push(ch);
    }
  }
  return out;
}

interface AuthScheme {
  scheme: string;
  params: Record<string, string>;
}

/** Splits one header value into schemes and their auth-params (RFC 9110 §11.6.1). */
function parseAuthHeader(value: string): AuthScheme[] {
  const schemes: AuthScheme[] = [];
  const n = value.length;
  let i = 0;
  const isSpace = (c: string | undefined) => c === ' ' || c === '\t';
  while (i < n) {
    while (i < n && (isSpace(value[i]) || value[i] === ',')) i++;
    const start = i;
    while (i < n && !isSpace(value[i]) && value[i] !== ',' && value[i] !== '=') i++;
    const token = value.slice(start, i);
    let j = i;
    while (j < n && isSpace(value[j])) j++;
    if (token.length === 0) {
      i++;
      continue;
    }
    if (value[j] !== '=') {
      schemes.push({ scheme: token, params: {} });
      continue;
    }
    const [v, next] = readParamValue(value, j + 1);
    i = next;
    const current = schemes[schemes.length - 1];
    if (current) current.params[token.toLowerCase()] = v;
  }
  return schemes;
}

/** A token or quoted-string value starting at `from`; returns it and the index after it. */
function readParamValue(value: string, from: number): [string, number] {
  let i = from;
  const n = value.length;
  while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
  if (value[i] !== '"') {
    const start = i;
    while (i < n && value[i] !== ',' && value[i] !== ' ' && value[i] !== '\t') i++;
    return [value.slice(start, i), i];
  }
  let v = '';
  i++;
  while (i < n && value[i] !== '"') {
    if (value[i] === '\\' && i + 1 < n) i++;
    v += value[i];
    i++;
  }
  return [v, i + 1];
}

function toChallenge(p: Record<string, string>): DigestChallenge | null {
  if (p.realm === undefined || p.nonce === undefined) return null;
  return {
    realm: p.realm,
    nonce: p.nonce,
    qop: (p.qop ?? '')
      .split(',')
      .map((q) => q.trim().toLowerCase())
      .filter((q) => q.length > 0),
    algorithm: (p.algorithm ?? 'MD5').toUpperCase(),
    opaque: p.opaque ?? null,
    stale: (p.stale ?? '').toLowerCase() === 'true',
    userhash: (p.userhash ?? '').toLowerCase() === 'true',
  };
}

/** The challenge to answer: a supported algorithm, the strongest offered; null when none. */
export function chooseChallenge(challenges: readonly DigestChallenge[]): DigestChallenge | null {
  const usable = challenges.filter(
    (c) =>
      isSupportedAlgorithm(c.algorithm) &&
      (c.qop.length === 0 || c.qop.some((q) => q === 'auth' || q === 'auth-int')),
  );
  usable.sort(
    (a, b) =>
      ALGORITHM_RANK.indexOf(baseAlgorithm(a.algorithm)) - ALGORITHM_RANK.indexOf(baseAlgorithm(b.algorithm)),
  );
  return usable[0] ?? null;
}

export interface DigestResponseInput {
  username: string;
  password: string;
  method: string;
  uri: string;
  /** Request count for this nonce (1-based). */
  nc: number;
  cnonce: string;
  /** Request body, needed for qop=auth-int. */
  body?: string | undefined;
}

function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The Authorization header value answering `ch` (RFC 7616 §3.4). */
export function digestAuthorization(ch: DigestChallenge, input: DigestResponseInput): string {
  const hashName = HASHES[baseAlgorithm(ch.algorithm)];
  if (hashName === undefined) throw new Error(`unsupported digest algorithm ${ch.algorithm}`);
  const H = (s: string) => createHash(hashName).update(s, 'utf8').digest('hex');
  const qop = ch.qop.includes('auth') ? 'auth' : ch.qop.includes('auth-int') ? 'auth-int' : null;
  const nc = input.nc.toString(16).padStart(8, '0');
  let ha1 = H(`${input.username}:${ch.realm}:${input.password}`);
  if (ch.algorithm.endsWith('-SESS')) ha1 = H(`${ha1}:${ch.nonce}:${input.cnonce}`);
  const ha2 =
    qop === 'auth-int'
      ? H(`${input.method}:${input.uri}:${H(input.body ?? '')}`)
      : H(`${input.method}:${input.uri}`);
  const response =
    qop === null
      ? H(`${ha1}:${ch.nonce}:${ha2}`)
      : H(`${ha1}:${ch.nonce}:${nc}:${input.cnonce}:${qop}:${ha2}`);
  const username = ch.userhash ? H(`${input.username}:${ch.realm}`) : input.username;
  const parts = [
    `username=${quote(username)}`,
    `realm=${quote(ch.realm)}`,
    `nonce=${quote(ch.nonce)}`,
    `uri=${quote(input.uri)}`,
    `algorithm=${ch.algorithm}`,
    `response=${quote(response)}`,
  ];
  if (ch.opaque !== null) parts.push(`opaque=${quote(ch.opaque)}`);
  if (qop !== null) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce=${quote(input.cnonce)}`);
  if (ch.userhash) parts.push('userhash=true');
  return `Digest ${parts.join(', ')}`;
}

/**
 * An HTTP client that answers Digest challenges with one set of credentials. Keeps the last
 * challenge per instance (one instance per miner). A request rejected after a fresh challenge
 * fails with MinerError('auth').
 */
export class DigestClient {
  private readonly credentials: MinerCredentials;
  private challenge: DigestChallenge | null = null;
  private nc = 0;

  constructor(credentials: MinerCredentials) {
    this.credentials = credentials;
  }

  private authorize(opts: HttpRequestOptions, ch: DigestChallenge): HttpRequestOptions {
    this.nc += 1;
    const header = digestAuthorization(ch, {
      username: this.credentials.username,
      password: this.credentials.password,
      method: opts.method,
      uri: opts.path,
      nc: this.nc,
      cnonce: randomBytes(8).toString('hex'),
      body: opts.body,
    });
    return { ...opts, headers: { ...opts.headers, Authorization: header } };
  }

  /** Sends the request, authenticating as needed. Returns any non-401 response. */
  async request(opts: HttpRequestOptions): Promise<HttpResponse> {
    const cached = this.challenge;
    let res = await httpRequest(cached ? this.authorize(opts, cached) : opts);
    if (res.status !== 401) return res;

    const fresh = chooseChallenge(parseDigestChallenges(res.headers.get('www-authenticate') ?? []));
    if (fresh === null) {
      this.challenge = null;
      throw new MinerError('auth', opts.host, 'HTTP 401 without a usable Digest challenge');
    }
    // A fresh challenge: answer it once. A rejection of a cached nonce is not yet a verdict on
    // the credentials, so it gets this one retry too.
    this.challenge = fresh;
    this.nc = 0;
    res = await httpRequest(this.authorize(opts, fresh));
    if (res.status === 401) {
      const again = chooseChallenge(parseDigestChallenges(res.headers.get('www-authenticate') ?? []));
      this.challenge = null;
      if (again?.stale) {
        this.challenge = again;
        this.nc = 0;
        res = await httpRequest(this.authorize(opts, again));
        if (res.status !== 401) return res;
        this.challenge = null;
      }
      throw new MinerError('auth', opts.host, 'web UI rejected the credentials (HTTP 401)');
    }
    return res;
  }
}
