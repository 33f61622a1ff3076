// Framing and error mapping over real sockets, against small hand-written servers.
import { afterEach, describe, expect, test } from '@jest/globals';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { MinerError } from '../driver.ts';
import {
  RpcError,
  forgetJoinSupport,
  joinUnsupported,
  rpcCommand,
  rpcExchange,
  rpcJoined,
  rpcRequest,
} from './rpc-client.ts';

const HOST = '127.0.0.1';
const servers: Server[] = [];
const sockets = new Set<Socket>();

afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  forgetJoinSupport();
});

/** A TCP server that reads one request and calls `reply` with it. */
async function tcp(reply: (socket: Socket, request: string) => void): Promise<number> {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', (d) => reply(socket, d.toString('utf8')));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, HOST, () => r()));
  return (server.address() as { port: number }).port;
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

const OK = (section: string, body: object) =>
  JSON.stringify({
    STATUS: [{ STATUS: 'S', When: 1, Code: 11, Msg: section, Description: 'test' }],
    [section]: [body],
    id: 1,
  });

describe('rpcExchange framing', () => {
  test('stops at NUL even when the socket stays open', async () => {
    const port = await tcp((s) => s.write(`${OK('SUMMARY', { a: 1 })}\0more bytes after`));
    expect(JSON.parse(await rpcExchange({ host: HOST, port, timeoutMs: 2000 }, '{}'))).toMatchObject({
      id: 1,
    });
  });

  test('stops at a complete JSON value followed by a newline, socket open', async () => {
    const port = await tcp((s) => s.write(`${OK('SUMMARY', { a: 1 })}\n`));
    const text = await rpcExchange({ host: HOST, port, timeoutMs: 2000 }, '{}');
    expect(JSON.parse(text)).toMatchObject({ id: 1 });
  });

  test('a newline inside the JSON (or inside a string) does not end the reply', async () => {
    const port = await tcp((s) => {
      s.write('{"STATUS":[{"STATUS":"S","Msg":"two\nlines"}],\n');
      setTimeout(() => s.write('"id":1}\n'), 50);
    });
    const text = await rpcExchange({ host: HOST, port, timeoutMs: 2000 }, '{}');
    expect(text.endsWith('"id":1}\n')).toBe(true);
  });

  test('stops at close when there is neither NUL nor newline', async () => {
    const port = await tcp((s) => s.end(OK('SUMMARY', { a: 1 })));
    expect(await rpcExchange({ host: HOST, port, timeoutMs: 2000 }, '{}')).toContain('"id":1');
  });

  test('reassembles chunks, including a UTF-8 character split across writes', async () => {
    const bytes = Buffer.from(`{"Msg":"température ✓","id":1}\0`);
    const port = await tcp((s) => {
      s.write(bytes.subarray(0, 15));
      setTimeout(() => s.write(bytes.subarray(15, 16)), 20);
      setTimeout(() => s.end(bytes.subarray(16)), 40);
    });
    expect(JSON.parse(await rpcExchange({ host: HOST, port }, '{}'))).toEqual({
      Msg: 'température ✓',
      id: 1,
    });
  });

  test('a slow drip (one byte every 100 ms) times out: the timer covers connect to last byte', async () => {
    const reply = Buffer.from(`${OK('SUMMARY', { a: 1 })}\0`);
    const port = await tcp((s) => {
      let i = 0;
      const t = setInterval(() => {
        if (s.destroyed || i >= reply.length) return clearInterval(t);
        s.write(reply.subarray(i, ++i));
      }, 100);
      s.on('close', () => clearInterval(t));
    });
    const t0 = Date.now();
    expect(await codeOf(rpcExchange({ host: HOST, port, timeoutMs: 700 }, '{}'))).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(2500);
  });

  test('no answer at all times out', async () => {
    const port = await tcp(() => {});
    expect(await codeOf(rpcExchange({ host: HOST, port, timeoutMs: 300 }, '{}'))).toBe('timeout');
  });

  test('a reply over maxReplyBytes is cut off: reply-too-large', async () => {
    const port = await tcp((s) => s.end(`{"pad":"${'x'.repeat(2 * 1024 * 1024)}"}\0`));
    expect(await codeOf(rpcExchange({ host: HOST, port, timeoutMs: 5000 }, '{}'))).toBe('reply-too-large');
    const small = await tcp((s) => s.end(`{"pad":"${'x'.repeat(200)}"}\0`));
    expect(await codeOf(rpcExchange({ host: HOST, port: small, maxReplyBytes: 100 }, '{}'))).toBe(
      'reply-too-large',
    );
  });

  test('a reply of exactly maxReplyBytes is accepted', async () => {
    const body = `{"pad":"${'x'.repeat(90)}"}`;
    const port = await tcp((s) => s.end(`${body}\0`));
    expect(await rpcExchange({ host: HOST, port, maxReplyBytes: body.length }, '{}')).toBe(body);
  });

  test('connection refused → refused', async () => {
    const port = await tcp(() => {});
    await new Promise<void>((r) => (servers.pop() as Server).close(() => r()));
    expect(await codeOf(rpcExchange({ host: HOST, port, timeoutMs: 1000 }, '{}'))).toBe('refused');
  });

  test('reset at once, or closed without a byte → refused', async () => {
    const reset = await tcp((s) => s.resetAndDestroy());
    expect(await codeOf(rpcExchange({ host: HOST, port: reset, timeoutMs: 1000 }, '{}'))).toBe('refused');
    const closed = await tcp((s) => s.end());
    expect(await codeOf(rpcExchange({ host: HOST, port: closed, timeoutMs: 1000 }, '{}'))).toBe('refused');
  });
});

describe('rpcRequest / rpcCommand replies', () => {
  test('sends {"command","parameter"} and validates the STATUS', async () => {
    let seen = '';
    const port = await tcp((s, req) => {
      seen = req;
      s.end(`${OK('SUMMARY', { 'GHS 5s': '1.5' })}\0`);
    });
    const reply = await rpcCommand({ host: HOST, port }, 'summary', 'x,y');
    expect(JSON.parse(seen)).toEqual({ command: 'summary', parameter: 'x,y' });
    expect(reply.status.status).toBe('S');
    expect(reply.body.SUMMARY).toEqual([{ 'GHS 5s': '1.5' }]);
  });

  test('a truncated reply → malformed', async () => {
    const port = await tcp((s) => s.end(OK('SUMMARY', { a: 1 }).slice(0, 30)));
    expect(await codeOf(rpcCommand({ host: HOST, port }, 'summary'))).toBe('malformed');
  });

  test('non-JSON → malformed', async () => {
    const port = await tcp((s) => s.end('\u00fe\u0013garbage\u0007\0'));
    expect(await codeOf(rpcCommand({ host: HOST, port }, 'summary'))).toBe('malformed');
  });

  test('an HTTP server on the port → protocol', async () => {
    const server = createHttpServer((_req, res) => res.end('<html>hello</html>'));
    servers.push(server as unknown as Server);
    await new Promise<void>((r) => server.listen(0, HOST, () => r()));
    const port = (server.address() as { port: number }).port;
    // An RPC request is not valid HTTP: the server answers 400 and closes.
    expect(await codeOf(rpcCommand({ host: HOST, port }, 'summary'))).toBe('protocol');
  });

  test('an SSH banner → protocol', async () => {
    const port = await tcp((s) => s.end('SSH-2.0-dropbear_2019.78\r\n'));
    expect(await codeOf(rpcCommand({ host: HOST, port }, 'summary'))).toBe('protocol');
  });

  test('JSON that is not a reply object → protocol', async () => {
    const arr = await tcp((s) => s.end('[1,2,3]\0'));
    expect(await codeOf(rpcCommand({ host: HOST, port: arr }, 'summary'))).toBe('protocol');
    const noStatus = await tcp((s) => s.end('{"SUMMARY":[{}]}\0'));
    expect(await codeOf(rpcCommand({ host: HOST, port: noStatus }, 'summary'))).toBe('protocol');
  });

  test('STATUS E → RpcError: rejected, unsupported (14) and auth (45), with the code', async () => {
    const err = (code: number, msg: string) =>
      tcp((s) =>
        s.end(`{"STATUS":[{"STATUS":"E","When":1,"Code":${code},"Msg":"${msg}","Description":""}],"id":1}\0`),
      );
    const e1 = await rpcCommand(
      { host: HOST, port: await err(402, 'Another session is active') },
      'logon',
    ).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(RpcError);
    expect((e1 as RpcError).code).toBe('rejected');
    expect((e1 as RpcError).status.code).toBe(402);
    expect(await codeOf(rpcCommand({ host: HOST, port: await err(14, 'Invalid command') }, 'x'))).toBe(
      'unsupported',
    );
    expect(
      await codeOf(rpcCommand({ host: HOST, port: await err(45, "Access denied to 'x' command") }, 'x')),
    ).toBe('auth');
  });

  test('rpcRequest sends a raw object and returns the parsed reply unvalidated', async () => {
    let seen = '';
    const port = await tcp((s, req) => {
      seen = req;
      s.end('{"STATUS":"S","When":1,"Code":131,"Msg":{"salt":"x"},}\0');
    });
    const v = await rpcRequest({ host: HOST, port }, { enc: 1, data: 'abc=' });
    expect(JSON.parse(seen)).toEqual({ enc: 1, data: 'abc=' });
    expect(v).toEqual({ STATUS: 'S', When: 1, Code: 131, Msg: { salt: 'x' } });
  });
});

describe('rpcJoined', () => {
  /** A server that answers joined commands per `mode` and counts connections. */
  async function joinServer(mode: 'joined' | 'empty' | 'error' | 'partial') {
    const requests: string[] = [];
    const port = await tcp((s, raw) => {
      const req = JSON.parse(raw) as { command: string };
      requests.push(req.command);
      const cmds = req.command.split('+');
      const sub = (c: string) => JSON.parse(OK(c.toUpperCase(), { c })) as unknown;
      if (cmds.length === 1) return s.end(`${JSON.stringify(sub(req.command))}\0`);
      if (mode === 'empty') return s.end('{}\0');
      if (mode === 'error')
        return s.end(
          '{"STATUS":[{"STATUS":"E","Code":14,"Msg":"Invalid command","Description":""}],"id":1}\0',
        );
      const body: Record<string, unknown> = { id: 1 };
      for (const c of mode === 'partial' ? cmds.slice(0, 1) : cmds) body[c] = [sub(c)];
      return s.end(`${JSON.stringify(body)}\0`);
    });
    return { port, requests };
  }

  test('joined in one request when supported', async () => {
    const { port, requests } = await joinServer('joined');
    const res = await rpcJoined({ host: HOST, port }, ['summary', 'pools', 'stats']);
    expect(requests).toEqual(['summary+pools+stats']);
    expect(res.joined).toBe(true);
    expect(Object.keys(res.replies).sort()).toEqual(['pools', 'stats', 'summary']);
    expect(res.replies.pools?.body.POOLS).toEqual([{ c: 'pools' }]);
  });

  test.each(['empty', 'error'] as const)(
    'falls back per command on %s, and remembers the host',
    async (mode) => {
      const { port, requests } = await joinServer(mode);
      const opts = { host: HOST, port };
      const res = await rpcJoined(opts, ['summary', 'pools']);
      expect(requests).toEqual(['summary+pools', 'summary', 'pools']);
      expect(res.joined).toBe(false);
      expect(res.replies.summary?.body.SUMMARY).toEqual([{ c: 'summary' }]);
      expect(joinUnsupported(opts)).toBe(true);
      await rpcJoined(opts, ['summary', 'pools']);
      expect(requests.slice(3)).toEqual(['summary', 'pools']);
    },
  );

  test('commands missing from a joined reply are asked for one by one', async () => {
    const { port, requests } = await joinServer('partial');
    const res = await rpcJoined({ host: HOST, port }, ['summary', 'pools', 'devs']);
    expect(requests).toEqual(['summary+pools+devs', 'pools', 'devs']);
    expect(Object.keys(res.replies).sort()).toEqual(['devs', 'pools', 'summary']);
  });

  test('a per-command error is reported beside the other replies', async () => {
    const port = await tcp((s) =>
      s.end(
        `${JSON.stringify({
          summary: [JSON.parse(OK('SUMMARY', {}))],
          devs: [{ STATUS: [{ STATUS: 'E', Code: 14, Msg: 'Invalid command' }] }],
          id: 1,
        })}\0`,
      ),
    );
    const res = await rpcJoined({ host: HOST, port }, ['summary', 'devs']);
    expect(res.replies.summary).toBeDefined();
    expect(res.errors.devs?.code).toBe('unsupported');
  });

  test('a transport failure of the joined request rejects without fallback', async () => {
    const port = await tcp(() => {});
    expect(await codeOf(rpcJoined({ host: HOST, port, timeoutMs: 200 }, ['summary', 'pools']))).toBe(
      'timeout',
    );
    expect(joinUnsupported({ host: HOST, port })).toBe(false);
  });
});
