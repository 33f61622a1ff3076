// Bearer tokens for ERCOT's public API. ERCOT issues an id_token (about an hour) through an
// Azure B2C resource-owner-password flow; a static token can be configured instead.
import { z } from 'zod';
import { httpJson } from '../http-client.ts';

export interface ErcotTokenProvider {
  token(signal: AbortSignal): Promise<string>;
  /** Forget a token the API refused, so the next call gets a new one. */
  invalidate(): void;
  /** Whether invalidate() can lead to a different token. */
  readonly refreshable: boolean;
}

export class StaticErcotToken implements ErcotTokenProvider {
  readonly refreshable = false;
  readonly #token: string;
  constructor(token: string) {
    this.#token = token;
  }
  token(): Promise<string> {
    return Promise.resolve(this.#token);
  }
  invalidate(): void {}
}

/** ERCOT's published B2C endpoint and client id for the public API. */
export const ERCOT_TOKEN_URL =
  'https://ercotb2c.b2clogin.com/ercotb2c.onmicrosoft.com/B2C_1_PUBAPI-ROPC-FLOW/oauth2/v2.0/token';
export const ERCOT_CLIENT_ID = 'fec253ea-0d06-4272-a5e6-b478baeecd70';

export const ercotTokenResponseSchema = z
  .object({
    id_token: z.string().min(1),
    expires_in: z.coerce.number().positive().optional(),
  })
  .loose();

export interface ErcotPasswordTokenOptions {
  tokenUrl?: string;
  clientId?: string;
  username: string;
  password: string;
  /** ms since the epoch; injectable for tests. */
  now?: () => number;
}

/** Fetches and caches an id_token, renewing it five minutes before it expires. */
export class ErcotPasswordTokenProvider implements ErcotTokenProvider {
  readonly refreshable = true;
  readonly #opts: ErcotPasswordTokenOptions;
  readonly #now: () => number;
  #cached: { token: string; renewAt: number } | undefined;
  #pending: Promise<string> | undefined;

  constructor(opts: ErcotPasswordTokenOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  token(signal: AbortSignal): Promise<string> {
    if (this.#cached && this.#now() < this.#cached.renewAt) return Promise.resolve(this.#cached.token);
    this.#pending ??= this.#fetch(signal).finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  invalidate(): void {
    this.#cached = undefined;
  }

  async #fetch(signal: AbortSignal): Promise<string> {
    const clientId = this.#opts.clientId ?? ERCOT_CLIENT_ID;
    // Credentials go in the form body, never the URL (URLs end up in logs).
    const body = new URLSearchParams({
      grant_type: 'password',
      username: this.#opts.username,
      password: this.#opts.password,
      response_type: 'id_token',
      scope: `openid ${clientId} offline_access`,
      client_id: clientId,
    }).toString();
    const res = await httpJson(this.#opts.tokenUrl ?? ERCOT_TOKEN_URL, ercotTokenResponseSchema, {
      signal,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      maxBytes: 64 * 1024,
    });
    const lifetimeMs = (res.expires_in ?? 3600) * 1000;
    this.#cached = { token: res.id_token, renewAt: this.#now() + Math.max(0, lifetimeMs - 5 * 60_000) };
    return res.id_token;
  }
}
