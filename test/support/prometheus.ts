// Test helpers for Prometheus: private throwaway servers that scrape the test's own /metrics
// endpoints and evaluate its rule files, and promtool. scripts/test exports PROMETHEUS_BIN and
// PROMTOOL_BIN; no server is shared, and the system one (port 9090) is never used.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { registerExitCleanup } from './processes.ts';
import { freePort } from './redis.ts';

export function requirePrometheus(): { prometheus: string; promtool: string } {
  const prometheus = process.env.PROMETHEUS_BIN;
  const promtool = process.env.PROMTOOL_BIN;
  if (!prometheus || !promtool)
    throw new Error('PROMETHEUS_BIN/PROMTOOL_BIN are not set: run tests through ./scripts/test');
  return { prometheus, promtool };
}

export interface PrometheusTargetSpec {
  /** The scrape job's name (unique per server). */
  job: string;
  /** Full http(s) URL of a /metrics endpoint. */
  url: string;
}

export interface PrivatePrometheusOptions {
  targets: PrometheusTargetSpec[];
  /** Default 1. */
  scrapeIntervalS?: number;
  /** Default 1. */
  evaluationIntervalS?: number;
  /** Rule files, loaded by absolute path (so they can live anywhere). */
  ruleFiles?: string[];
}

export interface PromSample {
  metric: Record<string, string>;
  /** Instant vectors: [unix seconds, value]. */
  value?: [number, string];
  /** Range vectors and query_range: [unix seconds, value] pairs. */
  values?: Array<[number, string]>;
}

export interface PromQueryResult {
  resultType: string;
  result: PromSample[];
}

export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
  activeAt?: string;
  value: string;
}

export interface PromRule {
  type: 'alerting' | 'recording';
  name: string;
  query: string;
  health: string;
  lastError?: string;
  labels?: Record<string, string>;
  /** Alerting rules only. */
  state?: string;
  duration?: number;
  alerts?: PromAlert[];
}

export interface PromRuleGroup {
  name: string;
  file: string;
  interval: number;
  rules: PromRule[];
  lastEvaluation?: string;
  evaluationTime?: number;
}

export interface PromTarget {
  job: string;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastScrape: string;
  labels: Record<string, string>;
}

export interface PrivatePrometheus {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  /** Temp dir holding prometheus.yml, the TSDB and prometheus.log. */
  dir: string;
  configFile: string;
  /** Instant query (POST, so long expressions fit); throws on an API error. */
  query(expr: string, time?: Date): Promise<PromQueryResult>;
  queryRange(expr: string, start: Date, end: Date, stepS: number): Promise<PromQueryResult>;
  /** Pending and firing alerts. */
  alerts(): Promise<PromAlert[]>;
  rules(): Promise<PromRuleGroup[]>;
  /** Active targets. */
  targets(): Promise<PromTarget[]>;
  /** Waits until every configured target has been scraped successfully; throws with their errors. */
  waitForTargetsUp(timeoutMs?: number): Promise<PromTarget[]>;
  /** Re-reads prometheus.yml and the rule files (POST /-/reload); throws when they are rejected. */
  reload(): Promise<void>;
  /** The last n lines of the server's log. */
  logTail(n?: number): string;
  /** Kills the server and removes its dir. Idempotent. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Prometheus durations are integers with units: 1.5 -> "1s500ms". */
function duration(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  if (!(ms > 0)) throw new Error(`bad interval ${seconds} s: must be at least 1 ms`);
  const s = Math.floor(ms / 1000);
  return `${s > 0 ? `${s}s` : ''}${ms % 1000 > 0 ? `${ms % 1000}ms` : ''}`;
}

function tailOf(file: string, n = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

function scrapeConfig(t: PrometheusTargetSpec, interval: string) {
  const u = new URL(t.url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new Error(`target ${t.job}: ${t.url} is not an http(s) URL`);
  const params: Record<string, string[]> = {};
  for (const [k, v] of u.searchParams) (params[k] ??= []).push(v);
  return {
    job_name: t.job,
    scheme: u.protocol.slice(0, -1),
    metrics_path: u.pathname,
    ...(Object.keys(params).length > 0 ? { params } : {}),
    scrape_interval: interval,
    scrape_timeout: interval,
    static_configs: [{ targets: [u.host] }],
  };
}

/**
 * Starts a private Prometheus on a free port of 127.0.0.1 with its own config, TSDB and log in a
 * temp dir; resolves once /-/ready answers. Throws with the log tail when the config is rejected
 * or the server is not ready within 30 s.
 */
export async function startPrivatePrometheus(opts: PrivatePrometheusOptions): Promise<PrivatePrometheus> {
  const bin = requirePrometheus().prometheus;
  const jobs = opts.targets.map((t) => t.job);
  const dup = jobs.find((j, i) => jobs.indexOf(j) !== i);
  if (dup !== undefined) throw new Error(`duplicate scrape job ${dup}`);
  const scrapeInterval = duration(opts.scrapeIntervalS ?? 1);
  const config = {
    global: {
      scrape_interval: scrapeInterval,
      scrape_timeout: scrapeInterval,
      evaluation_interval: duration(opts.evaluationIntervalS ?? 1),
    },
    rule_files: (opts.ruleFiles ?? []).map((f) => resolve(f)),
    scrape_configs: opts.targets.map((t) => scrapeConfig(t, scrapeInterval)),
  };

  const dir = mkdtempSync(join(tmpdir(), 'sy-prometheus-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  // runs after the server's own cleanup (cleanups run newest first)
  const unregisterDir = registerExitCleanup(removeDir);
  const configFile = join(dir, 'prometheus.yml');
  const logFile = join(dir, 'prometheus.log');
  // JSON is YAML, and needs no quoting rules of its own.
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let unregisterChild = () => {};
  let port = 0;
  let url = '';

  const kill = async () => {
    const c = child;
    if (!c) return;
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    unregisterChild();
    child = undefined;
  };

  const launch = async () => {
    // Another process can take the port between freePort() and the bind: retry on that only.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      url = `http://127.0.0.1:${port}`;
      rmSync(logFile, { force: true });
      const args = [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        `--web.external-url=${url}`,
        '--web.enable-lifecycle',
        '--log.level=info',
      ];
      const c = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      child = c;
      let gone = false;
      let spawnError: Error | undefined;
      exited = new Promise<void>((r) => {
        c.once('exit', () => {
          gone = true;
          r();
        });
        c.once('error', (e) => {
          spawnError = e;
          gone = true;
          r();
        });
      });
      // Prometheus logs to stderr: keep it in a file for error messages and logTail().
      c.stderr?.on('data', (d: Buffer) => {
        try {
          writeFileSync(logFile, d, { flag: 'a' });
        } catch {
          // the dir is gone: stop() came first
        }
      });
      unregisterChild = registerExitCleanup(() => {
        if (!gone) c.kill('SIGKILL');
      });

      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
          await res.arrayBuffer();
          if (res.ok && !gone) return;
        } catch {
          // not listening yet
        }
        if (gone || Date.now() > deadline) break;
        await sleep(50);
      }
      await kill();
      const text = tailOf(logFile);
      if (attempt < 3 && /address already in use/i.test(text)) continue;
      const why = spawnError
        ? `could not run ${bin}: ${spawnError.message}`
        : gone
          ? `${bin} exited before it was ready (config rejected?)`
          : `${bin} was not ready on port ${port} within 30 s`;
      throw new Error(`${why}; config ${configFile}:\n${JSON.stringify(config)}\nits log:\n${text}`);
    }
  };

  try {
    await launch();
  } catch (e) {
    unregisterDir();
    removeDir();
    throw e;
  }

  const api = async <T>(path: string, params?: Record<string, string>): Promise<T> => {
    const res = await fetch(`${url}${path}`, {
      method: params ? 'POST' : 'GET',
      ...(params ? { body: new URLSearchParams(params) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let body: { status?: string; data?: T; errorType?: string; error?: string };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 500)}`);
    }
    if (body.status !== 'success') {
      const expr = params?.query !== undefined ? ` (query: ${params.query})` : '';
      throw new Error(
        `${path}: ${body.errorType ?? `HTTP ${res.status}`}: ${body.error ?? text.slice(0, 500)}${expr}`,
      );
    }
    return body.data as T;
  };

  const targets = async (): Promise<PromTarget[]> => {
    const data = await api<{ activeTargets: Array<Omit<PromTarget, 'job'>> }>('/api/v1/targets?state=active');
    return data.activeTargets.map((t) => ({
      job: t.labels.job ?? '',
      scrapeUrl: t.scrapeUrl,
      health: t.health,
      lastError: t.lastError,
      lastScrape: t.lastScrape,
      labels: t.labels,
    }));
  };

  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    dir,
    configFile,
    query: (expr, time) =>
      api<PromQueryResult>('/api/v1/query', {
        query: expr,
        ...(time ? { time: String(time.getTime() / 1000) } : {}),
      }),
    queryRange: (expr, start, end, stepS) =>
      api<PromQueryResult>('/api/v1/query_range', {
        query: expr,
        start: String(start.getTime() / 1000),
        end: String(end.getTime() / 1000),
        step: String(stepS),
      }),
    alerts: async () => (await api<{ alerts: PromAlert[] }>('/api/v1/alerts')).alerts,
    rules: async () => (await api<{ groups: PromRuleGroup[] }>('/api/v1/rules')).groups,
    targets,
    async waitForTargetsUp(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = await targets();
        const up = now.filter((t) => t.health === 'up').length;
        if (up === opts.targets.length && now.length === opts.targets.length) return now;
        if (Date.now() > deadline) {
          const state = now.map((t) => `${t.job} ${t.scrapeUrl}: ${t.health} ${t.lastError}`).join('\n');
          throw new Error(`targets not all up within ${timeoutMs} ms:\n${state || '(no targets)'}`);
        }
        await sleep(200);
      }
    },
    async reload() {
      const res = await fetch(`${url}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      if (!res.ok) throw new Error(`reload rejected: HTTP ${res.status}: ${text.trim()}`);
    },
    logTail: (n = 30) => tailOf(logFile, n),
    stop: () =>
      (stopped ??= kill().then(() => {
        unregisterDir();
        removeDir();
      })),
  };
}

/** Runs promtool with args (and stdin, e.g. an exposition for `check metrics`). Never rejects on a non-zero exit. */
export function promtool(
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = requirePrometheus().promtool;
  return new Promise((resolvePromise, reject) => {
    const c = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    c.stdout.on('data', (d: Buffer) => out.push(d));
    c.stderr.on('data', (d: Buffer) => err.push(d));
    c.once('error', reject);
    // promtool may exit without reading stdin (e.g. on a usage error)
    c.stdin.on('error', () => undefined);
    c.stdin.end(stdin ?? '');
    c.once('close', (code, signal) =>
      resolvePromise({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      }),
    );
  });
}
