// Braiins OS driver over the Public REST API (Braiins OS 25.07 and later, port 80).
// A bearer token from POST /api/v1/auth/login authenticates every call; its validity slides
// with each request. On a 401 the driver logs in again once and retries; a second 401, or a
// rejected login, is 'auth'. Every control checks the miner's state first, so a retried job
// never flips the miner twice (product safety rule 6).
import type http from 'node:http';
import {
  DEFAULT_MAX_REPLY_BYTES,
  DEFAULT_TIMEOUT_MS,
  MinerError,
  type ControlOutcome,
  type DriverOptions,
  type MinerCapabilities,
  type MinerDriver,
  type MinerIdentity,
  type ReadOptions,
} from '../driver.ts';
import type { MinerTelemetry } from '../telemetry.ts';
import { isObject, round, type Json } from '../json-readers.ts';
import {
  efficiencyJth,
  estimatePower,
  powerReference,
  type PowerEstimate,
  type PowerReferenceOptions,
} from '../power-estimate.ts';
import { httpExchange, minerAgent, parseJsonBody, type HttpRequest } from './bounded-http.ts';
import {
  parseBraiinsConstraints,
  parseBraiinsDetails,
  parseBraiinsFans,
  parseBraiinsHashboards,
  parseBraiinsLogin,
  parseBraiinsPools,
  parseBraiinsStats,
  parseBraiinsTunerState,
  type BraiinsDetails,
  type BraiinsPowerBounds,
} from './braiins-parse.ts';

export interface BraiinsDriverOptions extends DriverOptions, PowerReferenceOptions {
  /**
   * How the token goes in the Authorization header: "Bearer <token>" (default) or the bare
   * token, as the gRPC API takes it. The simulator accepts both.
   */
  authScheme?: 'bearer' | 'raw';
  /** Power-target bounds for the model, used when the firmware does not report constraints. */
  powerTargetBoundsW?: { min: number; max: number };
  /** Clock for token expiry (tests). */
  now?: () => number;
}

export const BRAIINS_DEFAULT_PORT = 80;
const API = '/api/v1';
/** Log in again this long before the sliding validity would run out. */
const TOKEN_MARGIN_MS = 5_000;

interface Token {
  value: string;
  timeoutMs: number;
  lastUsed: number;
}

export class BraiinsDriver implements MinerDriver {
  readonly name = 'braiins' as const;
  readonly host: string;
  readonly port: number;
  private readonly opts: BraiinsDriverOptions;
  private readonly now: () => number;
  private agent: http.Agent | null = null;
  private token: Token | null = null;
  private login: Promise<Token> | null = null;
  /** undefined: not asked yet; null: the firmware reports none. */
  private bounds: BraiinsPowerBounds | null | undefined;
  /** Controls run one at a time, so a sleep and a wake never interleave their checks. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(opts: BraiinsDriverOptions) {
    this.opts = opts;
    this.host = opts.host;
    this.port = opts.port ?? BRAIINS_DEFAULT_PORT;
    this.now = opts.now ?? Date.now;
  }

  async identify(): Promise<MinerIdentity> {
    const d = parseBraiinsDetails(await this.getJson('/miner/details'));
    return {
      driver: 'braiins',
      make: d.make,
      model: d.model,
      firmware: d.firmware,
      hostname: d.hostname,
      mac: d.mac,
    };
  }

  async read(options: ReadOptions = {}): Promise<MinerTelemetry> {
    const basic = options.detail === 'basic';
    const [stats, details, tuner] = await Promise.all([
      this.getJson('/miner/stats').then(parseBraiinsStats),
      this.getJson('/miner/details').then(parseBraiinsDetails),
      this.getJson('/performance/tuner-state').then(parseBraiinsTunerState),
    ]);
    // Boards, fans and pools enrich the record; a firmware without them still reads.
    const errors = [...details.reasons];
    const [boards, fans, pools] = await Promise.all([
      this.optional('/miner/hw/hashboards', parseBraiinsHashboards, [], errors),
      // A basic read (fleet polling) leaves out fans and pools.
      basic ? Promise.resolve([]) : this.optional('/cooling/state', parseBraiinsFans, [], errors),
      basic ? Promise.resolve([]) : this.optional('/pools/', parseBraiinsPools, [], errors),
    ]);
    const hashrateThs = stats.hashrateThs === null ? null : round(stats.hashrateThs);
    const power = this.power(details, stats.powerW, tuner.estimatedW ?? tuner.targetW, hashrateThs);
    return {
      host: this.host,
      port: this.port,
      driver: 'braiins',
      make: details.make,
      model: details.model,
      firmware: details.firmware,
      state: details.state,
      hashrateThs,
      hashrateAvgThs: stats.hashrateAvgThs === null ? null : round(stats.hashrateAvgThs),
      powerW: power.powerW,
      powerSource: power.powerSource,
      efficiencyJth:
        details.state === 'hashing'
          ? (stats.efficiencyJth ?? efficiencyJth(power.powerW, hashrateThs))
          : null,
      boards,
      fans,
      pools,
      uptimeS: details.uptimeS,
      // The miner runs on a power target, not on a named profile.
      profile: null,
      errors,
    };
  }

  sleep(): Promise<ControlOutcome> {
    return this.serial(async () => {
      const d = parseBraiinsDetails(await this.getJson('/miner/details'));
      if (d.paused) return 'already';
      await this.call({ method: 'PUT', path: `${API}/actions/pause` }, 'pause');
      return 'applied';
    });
  }

  wake(): Promise<ControlOutcome> {
    return this.serial(async () => {
      const d = parseBraiinsDetails(await this.getJson('/miner/details'));
      if (d.running) return 'already';
      await this.call({ method: 'PUT', path: `${API}/actions/resume` }, 'resume');
      return 'applied';
    });
  }

  async setPowerTarget(watts: number): Promise<void> {
    await this.serial(() => this.applyPowerTarget(watts));
  }

  private async applyPowerTarget(watts: number): Promise<void> {
    if (!Number.isFinite(watts) || watts <= 0) {
      throw new MinerError('invalid-argument', this.host, `power target ${watts} W is not a positive number`);
    }
    const w = Math.round(watts);
    const bounds = await this.powerBounds();
    if (bounds && (w < bounds.minW || w > bounds.maxW)) {
      throw new MinerError(
        'invalid-argument',
        this.host,
        `power target ${w} W is outside [${bounds.minW}, ${bounds.maxW}] W`,
      );
    }
    const current = parseBraiinsTunerState(await this.getJson('/performance/tuner-state'));
    if (current.targetW === w) return;
    const reply = await this.call(
      { method: 'PUT', path: `${API}/performance/power-target`, body: { watt: w } },
      'power target',
    );
    const set = isObject(reply) ? reply.watt : undefined;
    if (typeof set === 'number' && set !== w) {
      throw new MinerError(
        'rejected',
        this.host,
        `firmware set the power target to ${set} W instead of ${w} W`,
      );
    }
  }

  /** Quick ramping for curtailment: seconds to ramp up on resume and down on pause. */
  async setQuickRamping(upS: number, downS: number): Promise<void> {
    for (const v of [upS, downS]) {
      if (!Number.isInteger(v) || v < 0 || v > 3600) {
        throw new MinerError(
          'invalid-argument',
          this.host,
          `quick ramping time ${v} s is not 0-3600 whole seconds`,
        );
      }
    }
    await this.serial(() =>
      this.call(
        { method: 'PUT', path: `${API}/performance/quick-ramping`, body: { up_s: upS, down_s: downS } },
        'quick ramping',
      ),
    );
  }

  async capabilities(): Promise<MinerCapabilities> {
    const bounds = await this.powerBounds();
    return {
      sleep: true,
      wake: true,
      powerTarget: bounds ? { minW: bounds.minW, maxW: bounds.maxW } : null,
      profiles: null,
      powerPercent: null,
    };
  }

  async close(): Promise<void> {
    this.token = null;
    this.login = null;
    this.agent?.destroy();
    this.agent = null;
  }

  // ---------------------------------------------------------------- internals

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /**
   * The firmware's own figure when it reports one; else, while mining, the tuner's estimate
   * for its power target; else the model's reference (sleep draw, or nameplate as worst case).
   */
  private power(
    details: BraiinsDetails,
    reportedW: number | null,
    tunerW: number | null,
    ths: number | null,
  ): PowerEstimate {
    if (reportedW !== null) return { powerW: reportedW, powerSource: 'measured' };
    const mining = details.state === 'hashing' || details.state === 'ramping';
    if (mining && tunerW !== null) return { powerW: tunerW, powerSource: 'estimated' };
    return estimatePower(details.state, ths, null, powerReference(details.model, this.opts));
  }

  private async powerBounds(): Promise<BraiinsPowerBounds | null> {
    if (this.bounds !== undefined) return this.bounds;
    let fromFirmware: BraiinsPowerBounds | null = null;
    try {
      fromFirmware = parseBraiinsConstraints(await this.getJson('/configuration/constraints'));
    } catch (err) {
      // Older firmware without the constraints endpoint: fall back to the model's bounds.
      if (!(err instanceof MinerError && err.code === 'unsupported')) throw err;
    }
    const model = this.opts.powerTargetBoundsW;
    this.bounds = fromFirmware ?? (model ? { minW: model.min, maxW: model.max, defaultW: null } : null);
    return this.bounds;
  }

  private async optional<T>(path: string, parse: (b: Json) => T, fallback: T, errors: string[]): Promise<T> {
    try {
      return parse(await this.getJson(path));
    } catch (err) {
      if (err instanceof MinerError && (err.code === 'unsupported' || err.code === 'rejected'))
        return fallback;
      if (err instanceof MinerError && err.code !== 'auth') {
        errors.push(`${path}: ${err.code}`);
        return fallback;
      }
      throw err;
    }
  }

  private async getJson(path: string): Promise<Json> {
    const body = await this.call({ method: 'GET', path: `${API}${path}` }, path);
    if (body === null || (typeof body !== 'object' && !Array.isArray(body))) {
      throw new MinerError('protocol', this.host, `${path}: expected a JSON object`);
    }
    return body;
  }

  /** One authenticated call; a 401 logs in again once. */
  private async call(req: HttpRequest, what: string): Promise<Json> {
    let token = await this.ensureToken();
    let res = await this.exchange(req, token);
    if (res.status === 401) {
      this.token = null;
      token = await this.ensureToken();
      res = await this.exchange(req, token);
      if (res.status === 401)
        throw new MinerError('auth', this.host, `${what}: token refused right after login`);
    }
    token.lastUsed = this.now();
    if (res.status >= 200 && res.status < 300) return parseJsonBody(this.host, res.text, what);
    throw this.statusError(res.status, res.text, what);
  }

  private exchange(req: HttpRequest, token: Token) {
    const auth = this.opts.authScheme === 'raw' ? token.value : `Bearer ${token.value}`;
    return httpExchange(this.target(), { ...req, headers: { ...req.headers, authorization: auth } });
  }

  private statusError(status: number, text: string, what: string): MinerError {
    const detail = firmwareMessage(text);
    const msg = `${what}: HTTP ${status}${detail ? ` (${detail})` : ''}`;
    if (status === 401 || status === 403) return new MinerError('auth', this.host, msg);
    if (status === 404 || status === 405 || status === 501)
      return new MinerError('unsupported', this.host, msg);
    if (status >= 400 && status < 600) return new MinerError('rejected', this.host, msg);
    return new MinerError('protocol', this.host, msg);
  }

  private async ensureToken(): Promise<Token> {
    const t = this.token;
    if (t && this.now() < t.lastUsed + t.timeoutMs - TOKEN_MARGIN_MS) return t;
    this.token = null;
    // One login at a time: the reads of one poll share it.
    this.login ??= this.doLogin().finally(() => {
      this.login = null;
    });
    const fresh = await this.login;
    this.token = fresh;
    return fresh;
  }

  private async doLogin(): Promise<Token> {
    const creds = this.opts.credentials;
    if (!creds) throw new MinerError('auth', this.host, 'Braiins OS needs credentials (none configured)');
    const res = await httpExchange(this.target(), {
      method: 'POST',
      path: `${API}/auth/login`,
      body: { username: creds.username, password: creds.password },
    });
    if (res.status === 401 || res.status === 403)
      throw new MinerError('auth', this.host, `login refused (HTTP ${res.status})`);
    if (res.status < 200 || res.status >= 300) throw this.statusError(res.status, res.text, 'login');
    const login = parseBraiinsLogin(parseJsonBody(this.host, res.text, 'login'));
    if (!login) throw new MinerError('protocol', this.host, 'login reply has no token');
    return { value: login.token, timeoutMs: login.timeoutS * 1000, lastUsed: this.now() };
  }

  private target() {
    this.agent ??= minerAgent();
    return {
      host: this.host,
      port: this.port,
      timeoutMs: this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxReplyBytes: this.opts.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES,
      agent: this.agent,
    };
  }
}

/** A short, printable reason from an error body ({"message": ...} or plain text). */
function firmwareMessage(text: string): string | null {
  let msg: unknown = text;
  try {
    const j: unknown = JSON.parse(text);
    if (isObject(j)) msg = j.message ?? j.error ?? j.detail ?? null;
  } catch {
    // plain text body
  }
  if (typeof msg !== 'string') return null;
  // eslint-disable-next-line no-control-regex
  const s = msg.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  return s ? s.slice(0, 160) : null;
}

export function createBraiinsDriver(opts: BraiinsDriverOptions): BraiinsDriver {
  return new BraiinsDriver(opts);
}
