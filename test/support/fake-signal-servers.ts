// Real HTTP servers on 127.0.0.1 that answer like the market-data APIs the signal sources use
// (the response shapes documented in PROTOCOLS.md), with switches to misbehave: slow answers,
// 5xx, bodies that are not JSON or have the wrong shape, absurd values and stale timestamps.
// Each fake keeps its data in `state` (change it between refreshes) and records every request.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * ok: documented answers. slow: answer after delayMs. error: errorStatus with an HTML body.
 * not-json: 200 with HTML. wrong-shape: 200 with JSON (or CSV) of the wrong shape.
 * absurd: documented shape, absurd values. stale: documented shape, timestamps staleSeconds old.
 * huge: a body larger than any source accepts.
 */
export type FakeMode = 'ok' | 'slow' | 'error' | 'not-json' | 'wrong-shape' | 'absurd' | 'stale' | 'huge';

export interface RecordedRequest {
  /** Wall-clock ms when the request arrived. */
  at: number;
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface FakeResponse {
  status?: number;
  json?: unknown;
  text?: string;
  contentType?: string;
}

type Route<S> = (req: RecordedRequest, fake: FakeServer<S>) => FakeResponse;

export class FakeServer<S> {
  readonly requests: RecordedRequest[] = [];
  mode: FakeMode = 'ok';
  /** How long `slow` waits before answering. */
  delayMs = 2000;
  errorStatus = 503;
  /** The next N requests answer errorStatus whatever the mode (for retry-then-succeed). */
  failNext = 0;
  staleSeconds = 6 * 3600;
  state: S;
  url = '';
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #routes: Record<string, Route<S>>;
  readonly #clock: () => Date;

  constructor(routes: Record<string, Route<S>>, state: S, clock: () => Date) {
    this.#routes = routes;
    this.state = state;
    this.#clock = clock;
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const u = new URL(req.url ?? '/', 'http://fake');
        const rec: RecordedRequest = {
          at: Date.now(),
          method: req.method ?? 'GET',
          path: u.pathname,
          query: u.searchParams,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        this.requests.push(rec);
        // One request per connection: a kept-alive socket the server closes under a reusing
        // client makes the client send a GET again, and the request log would count it twice.
        res.shouldKeepAlive = false;
        this.#answer(rec, res);
      });
    });
    this.#server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  /** The time the fake believes it is (the test's clock). */
  now(): Date {
    return this.#clock();
  }

  /** Requests to one path. */
  requestsTo(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const addr = this.#server.address();
    if (!addr || typeof addr === 'string') throw new Error('fake server has no TCP address');
    this.url = `http://127.0.0.1:${addr.port}`;
    return this;
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #answer(req: RecordedRequest, res: ServerResponse): void {
    const send = (r: FakeResponse) => {
      if (res.destroyed) return;
      const body = r.text ?? JSON.stringify(r.json);
      res.writeHead(r.status ?? 200, { 'content-type': r.contentType ?? 'application/json' });
      res.end(body);
    };
    if (this.failNext > 0) {
      this.failNext--;
      send({ status: this.errorStatus, text: '<html>upstream unavailable</html>', contentType: 'text/html' });
      return;
    }
    const route = this.#routes[`${req.method} ${req.path}`];
    if (!route) {
      send({ status: 404, json: { error: `no route ${req.method} ${req.path}` } });
      return;
    }
    switch (this.mode) {
      case 'error':
        send({
          status: this.errorStatus,
          text: '<html>upstream unavailable</html>',
          contentType: 'text/html',
        });
        return;
      case 'not-json':
        send({ text: '<!doctype html><title>Just a moment...</title>', contentType: 'text/html' });
        return;
      case 'huge':
        send({ text: `{"pad":"${'x'.repeat(9 * 1024 * 1024)}"}` });
        return;
      case 'slow': {
        const timer = setTimeout(() => send(route(req, this)), this.delayMs);
        res.on('close', () => clearTimeout(timer));
        return;
      }
      default:
        send(route(req, this));
    }
  }
}

function floorTo(ms: number, step: number): number {
  return Math.floor(ms / step) * step;
}

// ---------------------------------------------------------------- mempool.space

export interface MempoolState {
  btcUsd: number;
  difficulty: number;
  hashrateHs: number;
  /** Satoshi sums over the last 144 blocks, as mempool.space sends them (strings). */
  totalFeeSats: string;
  totalRewardSats: string;
  endBlock: number;
}

/** 0.44 BTC fees per block over 144 blocks with the 3.125 BTC subsidy. */
export const MEMPOOL_DEFAULTS: MempoolState = {
  btcUsd: 63_700,
  difficulty: 88.1e12,
  hashrateHs: 630e18,
  totalFeeSats: String(0.44 * 144 * 1e8),
  totalRewardSats: String((3.125 + 0.44) * 144 * 1e8),
  endBlock: 890_143,
};

export function startMempoolFake(clock: () => Date, state: Partial<MempoolState> = {}) {
  const fake = new FakeServer<MempoolState>(
    {
      'GET /api/v1/difficulty-adjustment': (_r, f) => {
        const now = f.now().getTime();
        if (f.mode === 'wrong-shape') return { json: { progress: 'most of it' } };
        return {
          json: {
            progressPercent: 41.2,
            difficultyChange: 1.93,
            estimatedRetargetDate: now + 6 * 86_400_000,
            remainingBlocks: 1185,
            remainingTime: 6 * 86_400_000,
            previousRetarget: -0.41,
            previousTime: Math.floor(now / 1000) - 8 * 86_400,
            nextRetargetHeight: 891_072,
            timeAvg: 597_000,
            adjustedTimeAvg: 597_000,
            timeOffset: 0,
            expectedBlocks: 843.2,
          },
        };
      },
      'GET /api/v1/mining/hashrate/3m': (_r, f) => {
        if (f.mode === 'wrong-shape') return { json: { currentHashrate: 'high', currentDifficulty: null } };
        const s = f.state;
        const nowS = Math.floor(f.now().getTime() / 1000);
        const difficulty = f.mode === 'absurd' ? s.difficulty * 10 : s.difficulty;
        return {
          json: {
            hashrates: [0, 1, 2].map((d) => ({
              timestamp: floorTo(nowS, 86_400) - d * 86_400,
              avgHashrate: s.hashrateHs,
            })),
            difficulty: [
              { time: nowS - 8 * 86_400, height: 889_056, difficulty: s.difficulty, adjustment: 0.9959 },
            ],
            currentHashrate: s.hashrateHs,
            currentDifficulty: difficulty,
          },
        };
      },
      'GET /api/v1/mining/reward-stats/144': (_r, f) => {
        const s = f.state;
        if (f.mode === 'wrong-shape')
          return { json: { startBlock: 1, endBlock: 144, totalReward: 5.1, totalFee: 0.4 } };
        return {
          json: {
            startBlock: s.endBlock - 143,
            endBlock: s.endBlock,
            totalReward: s.totalRewardSats,
            totalFee: s.totalFeeSats,
            totalTx: '512345',
          },
        };
      },
      'GET /api/v1/prices': (_r, f) => {
        if (f.mode === 'wrong-shape') return { json: { time: 'now', USD: 'a lot' } };
        const nowS = Math.floor(f.now().getTime() / 1000);
        const usd = f.mode === 'absurd' ? -Math.abs(f.state.btcUsd) : f.state.btcUsd;
        const time = f.mode === 'stale' ? nowS - f.staleSeconds : nowS;
        return {
          json: {
            time,
            USD: usd,
            EUR: usd * 0.92,
            GBP: usd * 0.79,
            CAD: usd * 1.37,
            CHF: usd * 0.88,
            AUD: usd * 1.52,
            JPY: usd * 150,
          },
        };
      },
    },
    { ...MEMPOOL_DEFAULTS, ...state },
    clock,
  );
  return fake.listen();
}

// ---------------------------------------------------------------- CoinGecko

export interface CoinGeckoState {
  btcUsd: number;
  /** Key the fake demands in x-cg-demo-api-key (undefined: none needed). */
  apiKey?: string;
}

export function startCoinGeckoFake(clock: () => Date, state: Partial<CoinGeckoState> = {}) {
  const fake = new FakeServer<CoinGeckoState>(
    {
      'GET /api/v3/simple/price': (r, f) => {
        if (f.state.apiKey && r.headers['x-cg-demo-api-key'] !== f.state.apiKey)
          return { status: 401, json: { status: { error_code: 10002, error_message: 'API key missing' } } };
        if (r.query.get('ids') !== 'bitcoin' || r.query.get('vs_currencies') !== 'usd')
          return { status: 400, json: { error: 'unexpected query' } };
        if (f.mode === 'wrong-shape') return { json: { bitcoin: { usd: '63700' } } };
        const nowS = Math.floor(f.now().getTime() / 1000);
        const usd = f.mode === 'absurd' ? -Math.abs(f.state.btcUsd) : f.state.btcUsd;
        const bitcoin: Record<string, number> = { usd };
        if (r.query.get('include_last_updated_at') === 'true')
          bitcoin.last_updated_at = f.mode === 'stale' ? nowS - f.staleSeconds : nowS - 20;
        return { json: { bitcoin } };
      },
    },
    { btcUsd: 63_700, ...state },
    clock,
  );
  return fake.listen();
}

// ---------------------------------------------------------------- Luxor Hashrate Index

export interface LuxorState {
  /** USD per PH/s per day (Luxor's unit with hashunit=PHS). */
  usdPerPhDay: number;
  apiKey: string;
}

export function startLuxorFake(clock: () => Date, state: Partial<LuxorState> = {}) {
  const fake = new FakeServer<LuxorState>(
    {
      'GET /v1/hashrateindex/hashprice': (r, f) => {
        if (r.headers['x-hi-api-key'] !== f.state.apiKey)
          return { status: 401, json: { error: 'invalid api key' } };
        const q = r.query;
        if (
          q.get('span') !== '1D' ||
          q.get('bucket') !== '1H' ||
          q.get('currency') !== 'USD' ||
          q.get('hashunit') !== 'PHS'
        )
          return { status: 400, json: { error: 'unexpected query' } };
        if (f.mode === 'wrong-shape') return { json: { data: [{ value: 51.9, time: 1 }] } };
        const shift = f.mode === 'stale' ? f.staleSeconds * 1000 : 0;
        const last = floorTo(f.now().getTime() - shift, 3_600_000);
        const price = f.mode === 'absurd' ? -Math.abs(f.state.usdPerPhDay) : f.state.usdPerPhDay;
        const data = Array.from({ length: 24 }, (_, i) => ({
          // Oldest first, as the API answers; earlier hours slightly different.
          timestamp: new Date(last - (23 - i) * 3_600_000).toISOString(),
          price: i === 23 ? price : price * (1 + (i - 12) / 500),
        }));
        return { json: { data } };
      },
    },
    { usdPerPhDay: 51.9, apiKey: 'hi-test-key', ...state },
    clock,
  );
  return fake.listen();
}

// ---------------------------------------------------------------- ERCOT public reports

export interface ErcotState {
  subscriptionKey: string;
  username: string;
  password: string;
  /** Real-time price of every published interval at every settlement point (USD/MWh). */
  rtPrice: number;
  daPrice: number;
  /** Minutes after an interval ends before its price appears. */
  publishLagMinutes: number;
  /** Rows as objects instead of arrays described by `fields`. */
  objectRows: boolean;
  /** Requests allowed per rateWindowMs before 429 (the real API: 30 per minute). */
  rateLimit: number;
  rateWindowMs: number;
  tokensIssued: string[];
}

const CPT = new Intl.DateTimeFormat('en-US', {
  timeZone: 'America/Chicago',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
});

/** Central Prevailing Time wall clock of an instant. */
function cpt(ms: number): { date: string; hour: number; minute: number } {
  const p = Object.fromEntries(CPT.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { date: `${p.year}-${p.month}-${p.day}`, hour: Number(p.hour), minute: Number(p.minute) };
}

export interface ErcotRtRow {
  deliveryDate: string;
  deliveryHour: number;
  deliveryInterval: number;
  settlementPoint: string;
  settlementPointType: string;
  settlementPointPrice: number;
  DSTFlag: boolean;
  /** Not part of the report: the interval start the row describes, for assertions. */
  startUtc: number;
}

/**
 * Real-time rows for 15-minute intervals starting in [fromMs, toMs), derived from UTC instants
 * (independently of the source's conversion): the second occurrence of a repeated local hour
 * carries DSTFlag.
 */
export function ercotRtRows(fromMs: number, toMs: number, points: string[], price: number): ErcotRtRow[] {
  const rows: ErcotRtRow[] = [];
  /** First instant each local (date, hour) was seen; an hour seen again an hour later is the repeat. */
  const firstSeen = new Map<string, number>();
  for (let t = floorTo(fromMs, 900_000); t < toMs; t += 900_000) {
    const w = cpt(t);
    const key = `${w.date} ${w.hour}`;
    if (!firstSeen.has(key)) firstSeen.set(key, t);
    const dst = t - firstSeen.get(key)! >= 3_600_000;
    for (const sp of points)
      rows.push({
        deliveryDate: w.date,
        deliveryHour: w.hour + 1,
        deliveryInterval: w.minute / 15 + 1,
        settlementPoint: sp,
        settlementPointType: sp.startsWith('HB_') ? 'HU' : 'LZ',
        settlementPointPrice: price,
        DSTFlag: dst,
        startUtc: t,
      });
  }
  return rows;
}

const RT_FIELDS = [
  'deliveryDate',
  'deliveryHour',
  'deliveryInterval',
  'settlementPoint',
  'settlementPointType',
  'settlementPointPrice',
  'DSTFlag',
];
const DA_FIELDS = ['deliveryDate', 'hourEnding', 'settlementPoint', 'settlementPointPrice', 'DSTFlag'];

function report(fields: string[], rows: Record<string, unknown>[], objectRows: boolean): unknown {
  return {
    _meta: { totalRecords: rows.length, pageSize: 1000, totalPages: 1, currentPage: 1 },
    report: {
      reportEMILId: 'NP6-905-CD',
      reportName: 'Settlement Point Prices at Resource Nodes, Hubs and Load Zones',
    },
    fields: fields.map((name) => ({ name, label: name, dataType: 'STRING', hasRange: false })),
    data: objectRows
      ? rows.map((r) => Object.fromEntries(fields.map((k) => [k, r[k]])))
      : rows.map((r) => fields.map((k) => r[k])),
  };
}

function ercotAuth(r: RecordedRequest, f: FakeServer<ErcotState>): FakeResponse | undefined {
  if (r.headers['ocp-apim-subscription-key'] !== f.state.subscriptionKey)
    return {
      status: 401,
      json: { statusCode: 401, message: 'Access denied due to invalid subscription key.' },
    };
  const bearer = String(r.headers.authorization ?? '').replace(/^Bearer /, '');
  if (!f.state.tokensIssued.includes(bearer))
    return { status: 401, json: { statusCode: 401, message: 'Invalid token' } };
  const recent = f.requests.filter((x) => x.path !== '/token' && r.at - x.at < f.state.rateWindowMs);
  if (recent.length > f.state.rateLimit)
    return { status: 429, json: { statusCode: 429, message: 'Rate limit is exceeded.' } };
  return undefined;
}

function inDateRange(date: string, q: URLSearchParams): boolean {
  const from = q.get('deliveryDateFrom');
  const to = q.get('deliveryDateTo');
  return (!from || date >= from) && (!to || date <= to);
}

export function startErcotFake(clock: () => Date, state: Partial<ErcotState> = {}) {
  const points = ['HB_WEST', 'HB_NORTH', 'LZ_WEST'];
  const fake = new FakeServer<ErcotState>(
    {
      'POST /token': (r, f) => {
        const form = new URLSearchParams(r.body);
        if (
          form.get('grant_type') !== 'password' ||
          form.get('username') !== f.state.username ||
          form.get('password') !== f.state.password
        )
          return { status: 400, json: { error: 'invalid_grant' } };
        const token = `id-token-${f.state.tokensIssued.length + 1}`;
        f.state.tokensIssued.push(token);
        return {
          json: {
            access_token: 'a',
            token_type: 'Bearer',
            expires_in: '3600',
            id_token: token,
            refresh_token: 'r',
          },
        };
      },
      'GET /np6-905-cd/spp_node_zone_hub': (r, f) => {
        const denied = ercotAuth(r, f);
        if (denied) return denied;
        if (f.mode === 'wrong-shape')
          return { json: { fields: [{ name: 'deliveryDate' }], data: [['yesterday', 'x']] } };
        const now = f.now().getTime() - (f.mode === 'stale' ? f.staleSeconds * 1000 : 0);
        const lastEnd = floorTo(now - f.state.publishLagMinutes * 60_000, 900_000);
        const price = f.mode === 'absurd' ? -99_999 : f.state.rtPrice;
        const sp = r.query.get('settlementPoint');
        const rows = ercotRtRows(lastEnd - 40 * 3_600_000, lastEnd, points, price).filter(
          (row) => inDateRange(row.deliveryDate, r.query) && (!sp || row.settlementPoint === sp),
        );
        return { json: report(RT_FIELDS, rows as unknown as Record<string, unknown>[], f.state.objectRows) };
      },
      'GET /np4-190-cd/dam_stlmnt_pnt_prices': (r, f) => {
        const denied = ercotAuth(r, f);
        if (denied) return denied;
        if (f.mode === 'wrong-shape')
          return { json: { fields: [{ name: 'hourEnding' }], data: [['25:30']] } };
        const now = f.now().getTime() - (f.mode === 'stale' ? f.staleSeconds * 1000 : 0);
        const price = f.mode === 'absurd' ? -99_999 : f.state.daPrice;
        const sp = r.query.get('settlementPoint');
        const rows: Record<string, unknown>[] = [];
        const firstSeen = new Map<string, number>();
        // Stale: the curve ends an hour after the (shifted) present, long before the real one.
        const end = now + (f.mode === 'stale' ? 1 : 40) * 3_600_000;
        for (let t = floorTo(now, 3_600_000) - 30 * 3_600_000; t < end; t += 3_600_000) {
          const w = cpt(t);
          const key = `${w.date} ${w.hour}`;
          if (!firstSeen.has(key)) firstSeen.set(key, t);
          const dst = t - firstSeen.get(key)! >= 3_600_000;
          for (const p of points) {
            if (sp && p !== sp) continue;
            const row = {
              deliveryDate: w.date,
              hourEnding: `${String(w.hour + 1).padStart(2, '0')}:00`,
              settlementPoint: p,
              settlementPointPrice: price,
              DSTFlag: dst,
            };
            if (inDateRange(row.deliveryDate, r.query)) rows.push(row);
          }
        }
        return { json: report(DA_FIELDS, rows, f.state.objectRows) };
      },
    },
    {
      subscriptionKey: 'sub-key',
      username: 'ops@example.com',
      password: 'correct horse',
      rtPrice: 31.5,
      daPrice: 28.25,
      publishLagMinutes: 5,
      objectRows: false,
      rateLimit: 30,
      rateWindowMs: 60_000,
      tokensIssued: ['static-token'],
      ...state,
    },
    clock,
  );
  return fake.listen();
}

// ---------------------------------------------------------------- generic CSV / JSON energy feed

export interface EnergyFeedState {
  price: number;
  /** Spacing of the feed's rows. */
  stepMinutes: number;
}

export function startEnergyFeedFake(clock: () => Date, state: Partial<EnergyFeedState> = {}) {
  const rows = (f: FakeServer<EnergyFeedState>) => {
    const step = f.state.stepMinutes * 60_000;
    const now = f.now().getTime() - (f.mode === 'stale' ? f.staleSeconds * 1000 : 0);
    const first = floorTo(now, step) - 4 * step;
    const price = f.mode === 'absurd' ? -99_999 : f.state.price;
    // The feed ends at the interval holding now (stale mode: long before now).
    return Array.from({ length: 5 }, (_, i) => ({ at: first + i * step, price }));
  };
  const fake = new FakeServer<EnergyFeedState>(
    {
      'GET /prices.csv': (_r, f) => {
        if (f.mode === 'wrong-shape')
          return { text: 'when;how much\nyesterday;lots\n', contentType: 'text/csv' };
        const lines = rows(f).map((p) => `${new Date(p.at).toISOString()},"${p.price}",HB_WEST`);
        return { text: `\uFEFFtime,price,node\r\n${lines.join('\r\n')}\r\n`, contentType: 'text/csv' };
      },
      'GET /prices.json': (_r, f) => {
        if (f.mode === 'wrong-shape') return { json: { data: { rows: 'none today' } } };
        return {
          json: {
            data: { node: 'HB_WEST', rows: rows(f).map((p) => ({ ts: p.at / 1000, usd_per_mwh: p.price })) },
          },
        };
      },
    },
    { price: 42.5, stepMinutes: 15, ...state },
    clock,
  );
  return fake.listen();
}

// ---------------------------------------------------------------- Vast.ai offers search

export interface VastState {
  /** Reference price per GPU-hour by marketplace gpu_name. */
  pricePerGpu: Record<string, number>;
}

/** Per-GPU price factors of the reliable offers (median 1.0) and their GPU counts. */
const OFFER_SHAPES = [
  [0.8, 1],
  [0.9, 2],
  [0.95, 8],
  [1.0, 1],
  [1.0, 4],
  [1.0, 8],
  [1.05, 2],
  [1.1, 1],
  [1.2, 8],
] as const;

export function vastOffers(gpuName: string, price: number, absurd: boolean): Record<string, unknown>[] {
  const offers: Record<string, unknown>[] = OFFER_SHAPES.map(([factor, n], i) => {
    const dph = (absurd ? price * 1000 : price) * factor * n;
    return {
      id: 1000 + i,
      gpu_name: gpuName,
      num_gpus: n,
      dph_total: dph,
      min_bid: dph * 0.6,
      reliability2: 0.99,
      rentable: true,
      geolocation: 'US',
    };
  });
  // Cheap but unreliable hosts, which the reference price must ignore.
  offers.push(
    {
      id: 2000,
      gpu_name: gpuName,
      num_gpus: 1,
      dph_total: price * 0.2,
      min_bid: price * 0.1,
      reliability2: 0.8,
    },
    {
      id: 2001,
      gpu_name: gpuName,
      num_gpus: 8,
      dph_total: price * 0.2 * 8,
      min_bid: null,
      reliability2: 0.9,
    },
  );
  return offers;
}

export function startVastFake(clock: () => Date, state: Partial<VastState> = {}) {
  const answer = (query: string, f: FakeServer<VastState>): FakeResponse => {
    let q: { gpu_name?: { eq?: string } };
    try {
      q = JSON.parse(query) as typeof q;
    } catch {
      return { status: 400, json: { error: 'bad query' } };
    }
    if (f.mode === 'wrong-shape') return { json: { offers: 'none' } };
    const name = q.gpu_name?.eq;
    const price = name === undefined ? undefined : f.state.pricePerGpu[name];
    return { json: { offers: price === undefined ? [] : vastOffers(name!, price, f.mode === 'absurd') } };
  };
  const fake = new FakeServer<VastState>(
    {
      'POST /api/v0/bundles/': (r, f) => answer(r.body, f),
      'GET /api/v0/bundles/': (r, f) => answer(r.query.get('q') ?? '', f),
    },
    { pricePerGpu: { 'H100 SXM': 2.0, 'RTX 4090': 0.35 }, ...state },
    clock,
  );
  return fake.listen();
}
