// The Prometheus test support itself: a private Prometheus scrapes a node:http exporter,
// evaluates a recording rule and an alert, answers queries; promtool checks expositions and
// rule files.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from './processes.ts';
import { promtool, startPrivatePrometheus, type PrivatePrometheus } from './prometheus.ts';
import { freePort } from './redis.ts';

// a different value on every run, so the query below cannot pass by accident
const temperature = 21 + Math.floor(Math.random() * 1000) / 100;
const exposition = [
  '# HELP sy_test_temperature_celsius Inlet temperature.',
  '# TYPE sy_test_temperature_celsius gauge',
  `sy_test_temperature_celsius{rack="r1"} ${temperature}`,
  '# HELP sy_test_requests_total Requests served.',
  '# TYPE sy_test_requests_total counter',
  'sy_test_requests_total{code="200",method="get"} 40',
  'sy_test_requests_total{code="500",method="get"} 2',
  '',
].join('\n');

const rules = `groups:
  - name: sy_test
    rules:
      - record: job:sy_test_requests:sum
        expr: sum by (job) (sy_test_requests_total)
      - alert: SyTestTooHot
        expr: sy_test_temperature_celsius > 20
        for: 0s
        labels:
          severity: page
        annotations:
          summary: "rack {{ $labels.rack }} at {{ $value }} C"
`;
const brokenRules = rules.replace(
  'sum by (job) (sy_test_requests_total)',
  'sum by (job) (sy_test_requests_total',
);

const dir = mkdtempSync(join(tmpdir(), 'sy-prom-test-'));
const rulesFile = join(dir, 'rules.yml');
const brokenRulesFile = join(dir, 'broken-rules.yml');
writeFileSync(rulesFile, rules);
writeFileSync(brokenRulesFile, brokenRules);

let server: Server;
let metricsUrl = '';
let scrapes = 0;
let prom: PrivatePrometheus;

beforeAll(async () => {
  const port = await freePort();
  server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    scrapes++;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(exposition);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  prom = await startPrivatePrometheus({
    targets: [{ job: 'exporter', url: metricsUrl }],
    ruleFiles: [rulesFile],
  });
  await prom.waitForTargetsUp(10_000);
});

afterAll(async () => {
  await prom?.stop();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('startPrivatePrometheus', () => {
  it('scrapes the target', async () => {
    expect(prom.url).toBe(`http://127.0.0.1:${prom.port}`);
    const targets = await prom.targets();
    expect(targets).toHaveLength(1);
    expect(targets[0]).toMatchObject({ job: 'exporter', scrapeUrl: metricsUrl, health: 'up', lastError: '' });
    expect(scrapes).toBeGreaterThan(0);
  });

  it('answers instant and range queries with the scraped values', async () => {
    const r = await prom.query('sy_test_temperature_celsius');
    expect(r.resultType).toBe('vector');
    expect(r.result).toHaveLength(1);
    const [sample] = r.result;
    expect(sample?.metric).toEqual({
      __name__: 'sy_test_temperature_celsius',
      job: 'exporter',
      instance: new URL(metricsUrl).host,
      rack: 'r1',
    });
    expect(Number(sample?.value?.[1])).toBe(temperature);

    const sum = await prom.query('sum(sy_test_requests_total)');
    expect(sum.result[0]?.value?.[1]).toBe('42');

    const end = new Date();
    const range = await prom.queryRange(
      'sy_test_temperature_celsius',
      new Date(end.getTime() - 5000),
      end,
      1,
    );
    expect(range.resultType).toBe('matrix');
    const values = range.result[0]?.values ?? [];
    expect(values.length).toBeGreaterThan(0);
    for (const [, v] of values) expect(Number(v)).toBe(temperature);
  });

  it('throws bad_data, with the expression, on a broken expression', async () => {
    const expr = 'sum(sy_test_temperature_celsius';
    const err = await prom.query(expr).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err?.message).toContain('bad_data');
    expect(err?.message).toContain(expr);
  });

  it('evaluates the recording rule and fires the alert', async () => {
    const recorded = await waitUntil(async () => (await prom.query('job:sy_test_requests:sum')).result[0], {
      timeoutMs: 10_000,
      what: 'the recorded series',
    });
    expect(recorded.metric).toEqual({ __name__: 'job:sy_test_requests:sum', job: 'exporter' });
    expect(recorded.value?.[1]).toBe('42');

    const alert = await waitUntil(
      async () =>
        (await prom.alerts()).find((a) => a.labels.alertname === 'SyTestTooHot' && a.state === 'firing'),
      { timeoutMs: 10_000, what: 'SyTestTooHot firing' },
    );
    expect(alert.labels).toMatchObject({ rack: 'r1', severity: 'page', job: 'exporter' });
    expect(alert.annotations.summary).toBe(`rack r1 at ${temperature} C`);

    const groups = await prom.rules();
    expect(groups.map((g) => g.name)).toEqual(['sy_test']);
    expect(groups[0]?.file).toBe(rulesFile);
    expect(groups[0]?.rules.map((r) => [r.type, r.name, r.health])).toEqual([
      ['recording', 'job:sy_test_requests:sum', 'ok'],
      ['alerting', 'SyTestTooHot', 'ok'],
    ]);
  });

  it('reloads its config', async () => {
    await prom.reload();
    expect((await prom.rules()).map((g) => g.name)).toEqual(['sy_test']);
  });

  it('refuses to start with a broken rule file, showing its log', async () => {
    const err = await startPrivatePrometheus({ targets: [], ruleFiles: [brokenRulesFile] }).then(
      (p) => p.stop().then(() => undefined),
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err?.message).toContain('exited before it was ready');
    expect(err?.message).toMatch(/unclosed left parenthesis/);
  });
});

describe('promtool', () => {
  it('passes a well-formed exposition and flags a counter without _total', async () => {
    const good = await promtool(['check', 'metrics'], exposition);
    expect(good).toMatchObject({ code: 0 });

    const bad = await promtool(
      ['check', 'metrics'],
      '# HELP sy_test_requests Requests served.\n# TYPE sy_test_requests counter\nsy_test_requests 1\n',
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stdout + bad.stderr).toContain('sy_test_requests counter metrics should have "_total" suffix');
  });

  it('checks rule files', async () => {
    const good = await promtool(['check', 'rules', rulesFile]);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('SUCCESS: 2 rules found');

    const bad = await promtool(['check', 'rules', brokenRulesFile]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/could not parse expression/);
  });
});
