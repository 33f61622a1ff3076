import { afterEach, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { MinerError } from '../driver.ts';
import { chooseChallenge, DigestClient, digestAuthorization, parseDigestChallenges } from './digest-auth.ts';
import type { DigestChallenge } from './digest-auth.ts';

function params(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of header.replace(/^Digest /, '').matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) {
    out[m[1] as string] = (m[2] ?? m[3]) as string;
  }
  return out;
}

describe('digestAuthorization: published test vectors', () => {
  test('RFC 2617 §3.5 (MD5, qop=auth)', () => {
    const ch: DigestChallenge = {
      realm: 'testrealm@host.com',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      qop: ['auth', 'auth-int'],
      algorithm: 'MD5',
      opaque: '5ccc069c403ebaf9f0171e9517f40e41',
      stale: false,
      userhash: false,
    };
    const h = digestAuthorization(ch, {
      username: 'Mufasa',
      password: 'Circle Of Life',
      method: 'GET',
      uri: '/dir/index.html',
      nc: 1,
      cnonce: '0a4f113b',
    });
    const p = params(h);
    expect(p.response).toBe('6629fae49393a05397450978507c4ef1');
    expect(p).toMatchObject({ qop: 'auth', nc: '00000001', opaque: '5ccc069c403ebaf9f0171e9517f40e41' });
  });

  const rfc7616 = (algorithm: string): DigestChallenge => ({
    realm: 'http-auth@example.org',
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    qop: ['auth', 'auth-int'],
    algorithm,
    opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
    stale: false,
    userhash: false,
  });
  const input = {
    username: 'Mufasa',
    password: 'Circle of Life',
    method: 'GET',
    uri: '/dir/index.html',
    nc: 1,
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  };

  test('RFC 7616 §3.9.1 (MD5)', () => {
    expect(params(digestAuthorization(rfc7616('MD5'), input)).response).toBe(
      '8ca523f5e9506fed4657c9700eebdbec',
    );
  });

  test('RFC 7616 §3.9.1 (SHA-256)', () => {
    expect(params(digestAuthorization(rfc7616('SHA-256'), input)).response).toBe(
      '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    );
  });

  test('userhash sends H(user:realm) as the username', () => {
    const h = digestAuthorization({ ...rfc7616('SHA-256'), userhash: true }, input);
    const expected = createHash('sha256').update('Mufasa:http-auth@example.org').digest('hex');
    expect(params(h).username).toBe(expected);
    expect(h).toContain('userhash=true');
  });

  test('RFC 2069 servers (no qop) get the old response form', () => {
    const ch = { ...rfc7616('MD5'), qop: [] };
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const expected = md5(
      `${md5('Mufasa:http-auth@example.org:Circle of Life')}:${ch.nonce}:${md5('GET:/dir/index.html')}`,
    );
    const p = params(digestAuthorization(ch, input));
    expect(p.response).toBe(expected);
    expect(p.qop).toBeUndefined();
  });
});

describe('parseDigestChallenges', () => {
  test('stock Antminer challenge', () => {
    const [ch] = parseDigestChallenges(['Digest realm="antMiner Configuration", nonce="ab12", qop="auth"']);
    expect(ch).toEqual({
      realm: 'antMiner Configuration',
      nonce: 'ab12',
      qop: ['auth'],
      algorithm: 'MD5',
      opaque: null,
      stale: false,
      userhash: false,
    });
  });

  test('several schemes and challenges, quoted commas and escapes', () => {
    const list = parseDigestChallenges([
      'Basic realm="x", Digest realm="a, \\"b\\"", nonce="n1", algorithm=SHA-256, qop="auth,auth-int", stale=TRUE',
      'Digest realm="r", nonce="n2", algorithm=MD5',
    ]);
    expect(list.map((c) => [c.realm, c.nonce, c.algorithm, c.stale])).toEqual([
      ['a, "b"', 'n1', 'SHA-256', true],
      ['r', 'n2', 'MD5', false],
    ]);
    expect(chooseChallenge(list)?.nonce).toBe('n1');
  });

  test('unsupported algorithms and auth-int-less qop lists are not chosen', () => {
    const list = parseDigestChallenges(['Digest realm="r", nonce="n", algorithm=SHA3-512, qop="auth"']);
    expect(chooseChallenge(list)).toBeNull();
    expect(parseDigestChallenges(['Digest nonce="only"'])).toEqual([]);
    expect(parseDigestChallenges([`Digest realm="${'x'.repeat(9000)}", nonce="n"`])).toEqual([]);
  });
});

describe('DigestClient', () => {
  let server: Server | null = null;
  afterEach(async () => {
    const s = server;
    server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  });

  /** A Digest-protected server (MD5, qop=auth), implemented independently of the client. */
  async function protectedServer(password: string, opts: { staleEvery?: number } = {}) {
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const nonces = new Set<string>();
    let counter = 0;
    let requests = 0;
    server = createServer((req, res) => {
      requests++;
      const challenge = (stale: boolean) => {
        const nonce = `n${++counter}`;
        nonces.add(nonce);
        res.writeHead(401, {
          'WWW-Authenticate': `Digest realm="r", nonce="${nonce}", qop="auth", algorithm=MD5${stale ? ', stale=true' : ''}`,
        });
        res.end();
      };
      const auth = req.headers.authorization;
      if (!auth) return challenge(false);
      const p = params(auth);
      const ha1 = md5(`root:r:${password}`);
      const ha2 = md5(`${req.method}:${p.uri}`);
      const ok = p.response === md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`);
      if (!ok) return challenge(false);
      if (!nonces.has(p.nonce as string) || (opts.staleEvery && requests % opts.staleEvery === 0)) {
        nonces.delete(p.nonce as string);
        return challenge(true);
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ nc: p.nc }));
    });
    await new Promise<void>((r) => (server as Server).listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    return { port, count: () => requests };
  }

  test('answers the challenge, then reuses the nonce with nc counting up', async () => {
    const srv = await protectedServer('pw');
    const client = new DigestClient({ username: 'root', password: 'pw' });
    const get = () =>
      client.request({ host: '127.0.0.1', port: srv.port, method: 'GET', path: '/cgi-bin/x.cgi' });
    const first = await get();
    expect(first.status).toBe(200);
    expect(srv.count()).toBe(2);
    const second = await get();
    expect(JSON.parse(second.body)).toEqual({ nc: '00000002' });
    expect(srv.count()).toBe(3);
  });

  test('a stale nonce is answered again', async () => {
    const srv = await protectedServer('pw', { staleEvery: 3 });
    const client = new DigestClient({ username: 'root', password: 'pw' });
    for (let i = 0; i < 4; i++) {
      const res = await client.request({ host: '127.0.0.1', port: srv.port, method: 'GET', path: '/' });
      expect(res.status).toBe(200);
    }
  });

  test('wrong password → MinerError auth', async () => {
    const srv = await protectedServer('pw');
    const client = new DigestClient({ username: 'root', password: 'wrong' });
    const err = await client
      .request({ host: '127.0.0.1', port: srv.port, method: 'POST', path: '/', body: '{}' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MinerError);
    expect((err as MinerError).code).toBe('auth');
    expect((err as MinerError).permanent).toBe(true);
  });
});
