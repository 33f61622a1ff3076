// serveRpc over real sockets, with the drivers' RPC client on the other end.
import { afterEach, describe, expect, test } from '@jest/globals';
import { connect } from 'node:net';
import fc from 'fast-check';
import { MinerError, parseLenientJson, rpcCommand, rpcExchange, rpcJoined } from '@switchyard/miners';
import { missingCommandReply, rpcErrorReply, rpcStatus, serializeRpcJson, serveRpc } from './rpc-server.ts';
import type { RpcHandler, RpcJsonVariant, RpcRequestInfo, RpcServer } from './rpc-server.ts';
import { createTestMiner } from './test-miner.ts';
import type { TestMiner } from './test-miner.ts';

const HOST = '127.0.0.1';
let servers: RpcServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

const seen: RpcRequestInfo[] = [];
const echo: RpcHandler = (req) => {
  seen.push(req);
  if (req.command === 'boom') throw new Error('handler exploded');
  if (req.command === 'nope') return rpcErrorReply(14, 'Invalid command', 'test');
  return {
    STATUS: [rpcStatus('S', 11, 'Summary', 'test')],
    SUMMARY: [{ command: req.command, parameter: req.parameter ?? null, 'GHS 5s': '1.50', x: Infinity }],
    id: 1,
  };
};

async function start(miner: TestMiner, opts: Partial<Parameters<typeof serveRpc>[3]> = {}, handler = echo) {
  const s = await serveRpc(HOST, 0, handler, { miner, ...opts });
  servers.push(s);
  return { host: HOST, port: s.port, timeoutMs: 1500 };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(MinerError);
    return (err as MinerError).code;
  }
  throw new Error('expected a MinerError');
}

/** Sends raw bytes, returns the raw reply up to close. */
function rawExchange(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: HOST, port }, () => s.write(payload));
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (buf += d));
    s.on('end', () => resolve(buf));
    s.on('error', reject);
  });
}

describe('serveRpc requests', () => {
  test('JSON form with a parameter; the reply ends with NUL and the socket closes', async () => {
    const opts = await start(createTestMiner());
    const raw = await rawExchange(opts.port, '{"command":"summary","parameter":"a,b"}');
    expect(raw.endsWith('\0')).toBe(true);
    const reply = await rpcCommand(opts, 'summary', 'a,b');
    expect(reply.body.SUMMARY).toEqual([{ command: 'summary', parameter: 'a,b', 'GHS 5s': '1.50', x: null }]);
    expect(seen.at(-1)?.raw).toEqual({ command: 'summary', parameter: 'a,b' });
  });

  test('plain-text form `command|param`, with or without a terminator', async () => {
    const opts = await start(createTestMiner());
    for (const payload of ['summary|p1', 'summary|p1\n']) {
      const body = parseLenientJson(await rawExchange(opts.port, payload)) as { SUMMARY: unknown[] };
      expect(body.SUMMARY[0]).toMatchObject({ command: 'summary', parameter: 'p1' });
    }
    expect(seen.at(-1)?.raw).toBe('summary|p1');
  });

  test('bad requests get cgminer error code 23; a request without "command" reaches the handler', async () => {
    const opts = await start(createTestMiner(), {}, (req) =>
      req.command === '' ? missingCommandReply('test') : echo(req),
    );
    const notJson = parseLenientJson(await rawExchange(opts.port, '{"command":"x",}')) as {
      STATUS: Array<{ Code: number }>;
    };
    expect(notJson.STATUS[0]?.Code).toBe(23);
    const missing = parseLenientJson(await rawExchange(opts.port, '{"parameter":"x"}')) as {
      STATUS: Array<{ Code: number }>;
    };
    expect(missing.STATUS[0]?.Code).toBe(24);
    const seenBefore = seen.length;
    const opts2 = await start(createTestMiner());
    await rawExchange(opts2.port, '{"enc":1,"data":"abc="}');
    expect(seen.slice(seenBefore).at(-1)).toEqual({
      command: '',
      parameter: undefined,
      raw: { enc: 1, data: 'abc=' },
    });
  });

  test('a handler that throws becomes an error reply; the server keeps serving', async () => {
    const opts = await start(createTestMiner());
    expect(await codeOf(rpcCommand(opts, 'boom'))).toBe('rejected');
    expect((await rpcCommand(opts, 'summary')).status.status).toBe('S');
  });

  test('joined commands: supported, `{}`, or an error', async () => {
    const joined = await start(createTestMiner());
    const r = await rpcJoined(joined, ['summary', 'pools']);
    expect(r.joined).toBe(true);
    expect(r.replies.pools?.body.SUMMARY).toEqual([expect.objectContaining({ command: 'pools' })]);

    const empty = await start(createTestMiner(), { joined: 'empty' });
    expect(await rawExchange(empty.port, '{"command":"summary+pools"}')).toBe('{}\0');
    const r2 = await rpcJoined(empty, ['summary', 'pools']);
    expect(r2.joined).toBe(false);
    expect(Object.keys(r2.replies).sort()).toEqual(['pools', 'summary']);

    const error = await start(createTestMiner(), { joined: 'error' });
    const r3 = await rpcJoined(error, ['summary', 'nope']);
    expect(r3.replies.summary).toBeDefined();
    expect(r3.errors.nope?.code).toBe('unsupported');
  });
});

describe('serveRpc wire faults', () => {
  test.each([
    ['timeout', 'timeout'],
    ['refuse', 'refused'],
    ['garbage', 'malformed'],
    ['truncate', 'malformed'],
    ['slow-drip', 'timeout'],
    ['oversized', 'reply-too-large'],
  ] as const)('%s → %s', async (fault, code) => {
    const miner = createTestMiner({ fault });
    const opts = await start(miner);
    expect(await codeOf(rpcCommand(opts, 'summary'))).toBe(code);
    miner.fault = null;
    expect((await rpcCommand(opts, 'summary')).status.status).toBe('S');
  });

  test('an offline (rebooting) miner resets connections', async () => {
    const miner = createTestMiner();
    const opts = await start(miner);
    miner.reboot();
    expect(await codeOf(rpcCommand(opts, 'summary'))).toBe('refused');
    miner.advance(31);
    expect((await rpcCommand(opts, 'summary')).status.status).toBe('S');
  });

  test('the handler never runs for a faulted request', async () => {
    const miner = createTestMiner({ fault: 'garbage' });
    const opts = await start(miner);
    const before = seen.length;
    await rpcCommand(opts, 'summary').catch(() => undefined);
    expect(seen.length).toBe(before);
  });
});

describe('broken-JSON variants', () => {
  const variants: RpcJsonVariant[] = [
    { name: 'objects-without-comma', objectsWithoutComma: true },
    { name: 'leading-comma', leadingCommaInArrays: true },
    { name: 'trailing-commas', trailingCommas: true },
    { name: 'raw-control', rawControlChars: true },
    { name: 'bare-non-finite', bareNonFinite: true },
    { name: 'trailing-garbage', trailingGarbage: true },
    {
      name: 'all',
      objectsWithoutComma: true,
      leadingCommaInArrays: true,
      trailingCommas: true,
      rawControlChars: true,
      bareNonFinite: true,
    },
  ];

  test('serializeRpcJson writes each quirk', () => {
    const v = { A: [{ a: 1 }, { b: 'x\ny' }], n: -Infinity, m: NaN, 'Pool Stale%': 0 };
    expect(serializeRpcJson(v, { name: 'x', objectsWithoutComma: true })).toContain('{"a":1}{"b":');
    expect(serializeRpcJson(v, { name: 'x', leadingCommaInArrays: true })).toContain('[,{"a":1}');
    expect(serializeRpcJson(v, { name: 'x', trailingCommas: true })).toContain('"x\\ny",},]');
    expect(serializeRpcJson(v, { name: 'x', rawControlChars: true })).toContain('"x\ny"');
    expect(serializeRpcJson(v, { name: 'x', bareNonFinite: true })).toContain('"n":-inf,"m":nan');
    expect(serializeRpcJson(v, { name: 'x', doublePercentKeys: true })).toContain('"Pool Stale%%":0');
    expect(serializeRpcJson(v)).toBe(JSON.stringify(v));
  });

  test('property: the lenient parser reads every variant back to the same value', () => {
    const finiteOnly = (x: unknown): unknown => JSON.parse(JSON.stringify(x));
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 5 }),
        fc.constantFrom(...variants.filter((v) => !v.trailingGarbage)),
        (value, variant) => {
          expect(parseLenientJson(serializeRpcJson(value, variant))).toEqual(finiteOnly(value));
        },
      ),
      { numRuns: 1500 },
    );
  });

  test('with quirkRate 1 every reply uses a variant, and the client still reads it', async () => {
    const miner = createTestMiner({ quirkRate: 1 });
    const opts = await start(miner, { variants });
    for (let i = 0; i < 30; i++) {
      const r = await rpcCommand(opts, 'summary', `p${i}`);
      expect(r.body.SUMMARY).toEqual([{ command: 'summary', parameter: `p${i}`, 'GHS 5s': '1.50', x: null }]);
    }
  });

  test('newline framing on an open socket: the client stops at the newline, not at its timeout', async () => {
    const miner = createTestMiner({ quirkRate: 1 });
    const opts = await start(miner, { variants: [{ name: 'nl', newlineKeepOpen: true }] });
    const t0 = Date.now();
    const text = await rpcExchange({ ...opts, timeoutMs: 3000 }, '{"command":"summary"}');
    expect(text.endsWith('}\n')).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2500);
  });
});
