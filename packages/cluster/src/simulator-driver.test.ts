// SimulatorClusterDriver against a stand-in for the simulator's GPU API (same routes, same
// problem documents): listing, idempotent mode changes and the error codes a job maps to
// retries (transient) or failures for good (permanent).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClusterError } from './errors.ts';
import { SimulatorClusterDriver } from './simulator-driver.ts';

interface FakeNode {
  pool: string;
  node: string;
  mode: string;
  powerKw: number;
  transitionRemainingS: number;
  gpuModel: string;
  gpus: number;
}

let nodes: FakeNode[];
let behaviour: 'normal' | 'hang' | 'error-500' | 'garbage';
const posts: Array<{ url: string; body: string }> = [];

const problem = (res: ServerResponse, status: number, title: string, detail: string) => {
  res.writeHead(status, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: 'x', title, status, detail }));
};

function handle(req: IncomingMessage, res: ServerResponse, body: string) {
  if (behaviour === 'hang') return; // never answers
  if (behaviour === 'error-500') return problem(res, 500, 'Internal error', 'boom');
  if (behaviour === 'garbage') {
    res.writeHead(200, { 'content-type': 'text/html' });
    return res.end('<html>not the simulator</html>');
  }
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method === 'GET' && url.pathname === '/sim/gpu') {
    const pool = url.searchParams.get('pool');
    const mine = nodes.filter((n) => pool === null || n.pool === pool);
    if (pool !== null && mine.length === 0) return problem(res, 404, 'No such pool', `no GpuPool "${pool}"`);
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ pools: [], nodes: mine }));
  }
  const m = /^\/sim\/gpu\/([^/]+)\/([^/]+)\/mode$/.exec(url.pathname);
  if (req.method === 'POST' && m) {
    posts.push({ url: url.pathname, body });
    const n = nodes.find((x) => x.pool === m[1] && x.node === m[2]);
    if (!n) return problem(res, 404, 'No such GPU node', `no GPU node "${m[2]}" in GpuPool "${m[1]}"`);
    const { mode } = JSON.parse(body) as { mode: string };
    if (mode === 'hashing' && n.pool === 'gpu-b')
      return problem(res, 409, 'Mode not allowed', 'GpuPool gpu-b does not allow hashing');
    n.mode = mode;
    n.transitionRemainingS = 10;
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify(n));
  }
  problem(res, 404, 'Not found', 'no route');
}

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handle(req, res, body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  behaviour = 'normal';
  posts.length = 0;
  const n = (pool: string, i: number, mode = 'idle'): FakeNode => ({
    pool,
    node: `${pool}-node-${String(i).padStart(2, '0')}`,
    mode,
    powerKw: 1.6,
    transitionRemainingS: 0,
    gpuModel: 'H100-SXM-80GB',
    gpus: 8,
  });
  nodes = [n('gpu-a', 1), n('gpu-a', 0, 'serving'), n('gpu-b', 0), n('gpu-a', 2, 'warp')];
});

const errorOf = async (p: Promise<unknown>): Promise<ClusterError> => {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ClusterError);
  return e as ClusterError;
};

describe('SimulatorClusterDriver', () => {
  it('lists the nodes of a pool, sorted, with an unknown mode as null', async () => {
    const d = new SimulatorClusterDriver({ baseUrl: `${base}/` });
    const list = await d.listNodes('gpu-a');
    expect(list.map((n) => [n.node, n.mode])).toEqual([
      ['gpu-a-node-00', 'serving'],
      ['gpu-a-node-01', 'idle'],
      ['gpu-a-node-02', null],
    ]);
    expect(list[0]).toEqual({
      pool: 'gpu-a',
      node: 'gpu-a-node-00',
      mode: 'serving',
      powerKw: 1.6,
      gpuModel: 'H100-SXM-80GB',
      gpus: 8,
      ready: true,
      transitioning: false,
      transitionRemainingS: 0,
    });
    expect((await d.listNodes()).map((n) => n.node)).toEqual([
      'gpu-a-node-00',
      'gpu-a-node-01',
      'gpu-a-node-02',
      'gpu-b-node-00',
    ]);
  });

  it('sets a mode once: the second call reports changed:false and sends nothing', async () => {
    const d = new SimulatorClusterDriver({ baseUrl: base });
    const first = await d.setNodeMode('gpu-a', 'gpu-a-node-01', 'hashing');
    expect(first.changed).toBe(true);
    expect(first.node).toMatchObject({ mode: 'hashing', transitioning: true, transitionRemainingS: 10 });
    const again = await d.setNodeMode('gpu-a', 'gpu-a-node-01', 'hashing');
    expect(again.changed).toBe(false);
    expect(again.node.mode).toBe('hashing');
    expect(posts).toEqual([{ url: '/sim/gpu/gpu-a/gpu-a-node-01/mode', body: '{"mode":"hashing"}' }]);
  });

  it('reports an unknown pool or node and a mode the pool does not allow as permanent', async () => {
    const d = new SimulatorClusterDriver({ baseUrl: base });
    const pool = await errorOf(d.listNodes('nope'));
    expect(pool).toMatchObject({ code: 'not-found', status: 404, permanent: true });
    expect(pool.message).toMatch(/GET \/sim\/gpu\?pool=nope: 404 No such pool: no GpuPool "nope"/);
    const node = await errorOf(d.setNodeMode('gpu-a', 'gpu-a-node-99', 'idle'));
    expect(node).toMatchObject({ code: 'not-found', permanent: true });
    const mode = await errorOf(d.setNodeMode('gpu-b', 'gpu-b-node-00', 'hashing'));
    expect(mode).toMatchObject({ code: 'not-allowed', status: 409, permanent: true });
    expect(mode.message).toMatch(/409 Mode not allowed: GpuPool gpu-b does not allow hashing/);
  });

  it('reports an unreachable simulator, a timeout, a 5xx and a foreign answer as transient', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const down = await errorOf(
      new SimulatorClusterDriver({ baseUrl: `http://127.0.0.1:${port}` }).listNodes(),
    );
    expect(down).toMatchObject({ code: 'unreachable', permanent: false });
    expect(down.message).toMatch(/unreachable \(ECONNREFUSED\)/);

    const d = new SimulatorClusterDriver({ baseUrl: base, timeoutMs: 100 });
    behaviour = 'hang';
    const slow = await errorOf(d.listNodes('gpu-a'));
    expect(slow).toMatchObject({ code: 'timeout', permanent: false });
    expect(slow.message).toMatch(/no answer within 100 ms/);
    behaviour = 'error-500';
    expect(await errorOf(d.listNodes())).toMatchObject({
      code: 'server-error',
      status: 500,
      permanent: false,
    });
    behaviour = 'garbage';
    expect(await errorOf(d.listNodes())).toMatchObject({ code: 'bad-response', permanent: false });
  });

  it("stops at the caller's signal", async () => {
    behaviour = 'hang';
    const d = new SimulatorClusterDriver({ baseUrl: base, timeoutMs: 10_000 });
    const ac = new AbortController();
    const p = d.listNodes('gpu-a', { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('attempt timed out')), 30);
    expect(await errorOf(p)).toMatchObject({ code: 'aborted', permanent: false });
    expect(await errorOf(d.listNodes('gpu-a', { signal: ac.signal }))).toMatchObject({ code: 'aborted' });
  });

  it('refuses a base URL that is not http(s), hiding its password', () => {
    expect(() => new SimulatorClusterDriver({ baseUrl: 'ftp://u:secret@x' })).toThrow(/not http\(s\)/);
    expect(() => new SimulatorClusterDriver({ baseUrl: 'ftp://u:secret@x' })).not.toThrow(/secret/);
    expect(() => new SimulatorClusterDriver({ baseUrl: 'not a url' })).toThrow(ClusterError);
  });
});
