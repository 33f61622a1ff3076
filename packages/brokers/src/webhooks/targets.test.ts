// Where webhooks may point: https to public hosts; loopback and private addresses only when the
// policy allows them; and a guarded lookup that refuses names resolving to such addresses.
import { describe, expect, it } from '@jest/globals';
import type { LookupAddress } from 'node:dns';
import { checkWebhookUrl, classifyAddress, guardedLookup, WebhookTargetError } from './targets.ts';

const reason = (url: string, policy = {}) => {
  const r = checkWebhookUrl(url, policy);
  return r.ok ? 'ok' : r.reason;
};

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'private'],
    ['100.64.0.1', 'private'],
    ['0.0.0.0', 'private'],
    ['224.0.0.1', 'private'],
    ['255.255.255.255', 'private'],
    ['::', 'private'],
    ['fd00::1', 'private'],
    ['fe80::1', 'private'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:8.8.8.8', 'public'],
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public'],
    ['2606:4700:4700::1111', 'public'],
  ])('%s is %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });

  it('refuses what is not an address', () => {
    expect(() => classifyAddress('example.com')).toThrow(TypeError);
  });
});

describe('checkWebhookUrl', () => {
  it('accepts https to public hosts, with ports, paths and queries', () => {
    for (const url of [
      'https://broker.example/hooks',
      'https://broker.example:8443/a/b?token=x',
      'https://8.8.8.8/hook',
      'https://[2606:4700:4700::1111]/hook',
    ])
      expect(reason(url)).toBe('ok');
  });

  it('refuses other schemes, http to public hosts, credentials, fragments and long URLs', () => {
    expect(reason('http://broker.example/hooks')).toMatch(/https/);
    expect(reason('ftp://broker.example/')).toMatch(/https/);
    expect(reason('file:///etc/passwd')).toMatch(/https/);
    expect(reason('javascript:alert(1)')).toMatch(/https/);
    expect(reason('https://user:pw@broker.example/')).toMatch(/credentials/);
    expect(reason('https://broker.example/#x')).toMatch(/fragment/);
    expect(reason('https://broker.example/#')).toMatch(/fragment/);
    expect(reason('/relative')).toMatch(/absolute/);
    expect(reason('')).toMatch(/characters/);
    expect(reason(`https://broker.example/${'a'.repeat(2048)}`)).toMatch(/characters/);
  });

  it('refuses loopback hosts unless allowed, and then over http too', () => {
    for (const url of [
      'http://127.0.0.1:8080/hook',
      'https://localhost/hook',
      'http://api.localhost/hook',
      'http://[::1]:9000/',
    ]) {
      expect(reason(url)).toMatch(/loopback/);
      expect(reason(url, { allowLoopback: true })).toBe('ok');
    }
  });

  it('refuses private and link-local addresses unless allowed, and never over http', () => {
    for (const url of ['https://10.0.0.5/hook', 'https://169.254.169.254/latest', 'https://[fd00::5]/']) {
      expect(reason(url)).toMatch(/private/);
      expect(reason(url, { allowLoopback: true })).toMatch(/private/);
      expect(reason(url, { allowPrivateNetworks: true })).toBe('ok');
    }
    expect(reason('http://10.0.0.5/hook', { allowPrivateNetworks: true, allowLoopback: true })).toMatch(
      /https/,
    );
  });
});

describe('guardedLookup', () => {
  const resolve = (policy: object, host: string, all: boolean) =>
    new Promise<{ err: Error | null; address: string | LookupAddress[] }>((done) =>
      guardedLookup(policy)(host, { all }, (err, address) => done({ err, address })),
    );

  it('resolves a loopback name when the policy allows loopback, in both callback shapes', async () => {
    const one = await resolve({ allowLoopback: true }, 'localhost', false);
    expect(one.err).toBeNull();
    expect(classifyAddress(one.address as string)).toBe('loopback');
    const all = await resolve({ allowLoopback: true }, 'localhost', true);
    expect(all.err).toBeNull();
    expect((all.address as LookupAddress[]).length).toBeGreaterThan(0);
  });

  it('refuses a name that resolves to an address the policy does not allow', async () => {
    const r = await resolve({}, 'localhost', false);
    expect(r.err).toBeInstanceOf(WebhookTargetError);
    expect(r.err?.message).toMatch(/loopback address/);
  });
});
