import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  endpointCount,
  expandEndpoints,
  intToIpv4,
  ipv4ToInt,
  isIpv4,
  parseAddress,
  parseCidr,
  type Cidr,
  type Endpoint,
} from './endpoints.ts';
import type { MinerFleetSpec } from './resource-schema.ts';

const ip = ipv4ToInt;

describe('ipv4ToInt / intToIpv4', () => {
  it.each([
    ['0.0.0.0', 0],
    ['0.0.0.255', 255],
    ['0.0.1.0', 256],
    ['10.11.0.0', 0x0a0b0000],
    ['192.168.1.1', 0xc0a80101],
    ['255.255.255.255', 0xffffffff],
  ])('%s <-> %i', (text, n) => {
    expect(ipv4ToInt(text)).toBe(n);
    expect(intToIpv4(n)).toBe(text);
  });

  it('round-trips every 32-bit address', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => ipv4ToInt(intToIpv4(n)) === n));
  });
});

describe('isIpv4', () => {
  it.each(['0.0.0.0', '10.0.0.1', '255.255.255.255', '192.168.10.99'])('accepts %s', (s) =>
    expect(isIpv4(s)).toBe(true),
  );
  it.each(['256.0.0.1', '10.0.0', '10.0.0.1.2', '010.0.0.1', '10.0.0.-1', ' 10.0.0.1', 'a.b.c.d', ''])(
    'rejects %j',
    (s) => expect(isIpv4(s)).toBe(false),
  );
});

describe('parseCidr', () => {
  it.each<[string, Cidr]>([
    ['10.11.0.0/22', { base: ip('10.11.0.0'), prefix: 22, firstHost: ip('10.11.0.1'), hostCount: 1022 }],
    ['192.168.1.0/24', { base: ip('192.168.1.0'), prefix: 24, firstHost: ip('192.168.1.1'), hostCount: 254 }],
    ['10.0.0.4/30', { base: ip('10.0.0.4'), prefix: 30, firstHost: ip('10.0.0.5'), hostCount: 2 }],
    // Point-to-point /31 (RFC 3021) and single-host /32 have no network or broadcast address.
    ['10.0.0.6/31', { base: ip('10.0.0.6'), prefix: 31, firstHost: ip('10.0.0.6'), hostCount: 2 }],
    ['10.0.0.7/32', { base: ip('10.0.0.7'), prefix: 32, firstHost: ip('10.0.0.7'), hostCount: 1 }],
    ['0.0.0.0/0', { base: 0, prefix: 0, firstHost: 1, hostCount: 2 ** 32 - 2 }],
  ])('parses %s', (s, expected) => {
    expect(parseCidr(s)).toEqual(expected);
  });

  it.each([
    ['10.11.1.0/22', '"10.11.1.0/22" has host bits set (the block starts at 10.11.0.0/22)'],
    ['10.0.0.5/24', '"10.0.0.5/24" has host bits set (the block starts at 10.0.0.0/24)'],
    ['10.0.0.1/31', '"10.0.0.1/31" has host bits set (the block starts at 10.0.0.0/31)'],
    ['10.0.0.0/33', 'prefix /33 is out of range 0-32'],
    ['10.0.0.0/99', 'prefix /99 is out of range 0-32'],
    ['10.0.0.0/123', '"10.0.0.0/123" is not a CIDR block (expected a.b.c.d/prefix)'],
    ['10.0.0.0/-1', '"10.0.0.0/-1" is not a CIDR block (expected a.b.c.d/prefix)'],
    ['10.0.0.0/', '"10.0.0.0/" is not a CIDR block (expected a.b.c.d/prefix)'],
    ['10.0.0.0', '"10.0.0.0" is not a CIDR block (expected a.b.c.d/prefix)'],
    ['10.0.0.0/24/8', '"10.0.0.0/24/8" is not a CIDR block (expected a.b.c.d/prefix)'],
    ['miners/24', '"miners" is not an IPv4 address'],
    ['10.0.256.0/24', '"10.0.256.0" is not an IPv4 address'],
    ['10.0.0/24', '"10.0.0" is not an IPv4 address'],
  ])('rejects %s', (s, message) => {
    expect(parseCidr(s)).toBe(message);
  });
});

describe('parseAddress', () => {
  it.each<[string, Endpoint]>([
    ['10.0.0.1', { host: '10.0.0.1', port: 4028 }],
    ['10.0.0.1:80', { host: '10.0.0.1', port: 80 }],
    ['10.0.0.1:65535', { host: '10.0.0.1', port: 65535 }],
    ['10.0.0.1:1', { host: '10.0.0.1', port: 1 }],
    ['miner-01', { host: 'miner-01', port: 4028 }],
    ['miner-01.hall-a.lan', { host: 'miner-01.hall-a.lan', port: 4028 }],
    ['miner-01.hall-a.lan:8080', { host: 'miner-01.hall-a.lan', port: 8080 }],
  ])('parses %s', (s, expected) => {
    expect(parseAddress(s, 4028)).toEqual(expected);
  });

  it('uses the default port it is given', () => {
    expect(parseAddress('10.0.0.1', 80)).toEqual({ host: '10.0.0.1', port: 80 });
  });

  it.each([
    ['10.0.0.1:0', 'port 0 is out of range 1-65535'],
    ['10.0.0.1:70000', 'port 70000 is out of range 1-65535'],
    ['miner-01:65536', 'port 65536 is out of range 1-65535'],
    ['10.0.0.1:123456', '"10.0.0.1:123456" is not host or host:port'],
    ['10.0.0.1:http', '"10.0.0.1:http" is not host or host:port'],
    ['10.0.0.1:', '"10.0.0.1:" is not host or host:port'],
    ['http://10.0.0.1', '"http://10.0.0.1" is not host or host:port'],
    ['[::1]:4028', '"[::1]:4028" is not host or host:port'],
    ['', '"" is not host or host:port'],
    ['10.0.0.256', '"10.0.0.256" is neither an IPv4 address nor a hostname'],
    ['10.0.0', '"10.0.0" is neither an IPv4 address nor a hostname'],
    ['miner 01', '"miner 01" is neither an IPv4 address nor a hostname'],
    ['-miner', '"-miner" is neither an IPv4 address nor a hostname'],
    ['miner_01', '"miner_01" is neither an IPv4 address nor a hostname'],
    ['miner..lan', '"miner..lan" is neither an IPv4 address nor a hostname'],
  ])('rejects %j', (s, message) => {
    expect(parseAddress(s, 4028)).toBe(message);
  });
});

function spec(driver: MinerFleetSpec['driver'], endpoints: MinerFleetSpec['endpoints']): MinerFleetSpec {
  return { site: 'west', feed: 'pdu-1', coolingZone: 'zone-a', model: 'S19 Pro', driver, endpoints };
}

const hosts = (es: Endpoint[]) => es.map((e) => `${e.host}:${e.port}`);

describe('expandEndpoints', () => {
  it('lists addresses in order, then the first `count` hosts of the block', () => {
    const s = spec('antminer', { addresses: ['10.9.9.9', 'miner-a:4029'], cidr: '10.0.0.0/24', count: 3 });
    expect(hosts(expandEndpoints(s))).toEqual([
      '10.9.9.9:4028',
      'miner-a:4029',
      '10.0.0.1:4028',
      '10.0.0.2:4028',
      '10.0.0.3:4028',
    ]);
    expect(endpointCount(s)).toBe(5);
  });

  it.each<[MinerFleetSpec['driver'], number]>([
    ['antminer', 4028],
    ['luxos', 4028],
    ['whatsminer', 4028],
    ['braiins', 80],
  ])('uses the %s default port %i', (driver, port) => {
    expect(expandEndpoints(spec(driver, { cidr: '10.0.0.0/30' }))).toEqual([
      { host: '10.0.0.1', port },
      { host: '10.0.0.2', port },
    ]);
  });

  it('lets endpoints.port override the driver default, but not a port given in an address', () => {
    const s = spec('braiins', { addresses: ['10.1.0.1', '10.1.0.2:8081'], cidr: '10.0.0.8/31', port: 8080 });
    expect(hosts(expandEndpoints(s))).toEqual([
      '10.1.0.1:8080',
      '10.1.0.2:8081',
      '10.0.0.8:8080',
      '10.0.0.9:8080',
    ]);
  });

  it('takes the whole block without a count', () => {
    const all = expandEndpoints(spec('antminer', { cidr: '10.11.0.0/22' }));
    expect(all).toHaveLength(1022);
    expect(all[0]?.host).toBe('10.11.0.1');
    expect(all.at(-1)?.host).toBe('10.11.3.254');
    expect(endpointCount(spec('antminer', { cidr: '10.11.0.0/22' }))).toBe(1022);
  });

  it('crosses octet boundaries in order', () => {
    const all = expandEndpoints(spec('antminer', { cidr: '10.11.0.0/22', count: 300 }));
    expect(all.slice(253, 258).map((e) => e.host)).toEqual([
      '10.11.0.254',
      '10.11.0.255',
      '10.11.1.0',
      '10.11.1.1',
      '10.11.1.2',
    ]);
  });

  it('uses every address of a /31 and the single address of a /32', () => {
    expect(hosts(expandEndpoints(spec('antminer', { cidr: '10.0.0.6/31' })))).toEqual([
      '10.0.0.6:4028',
      '10.0.0.7:4028',
    ]);
    expect(hosts(expandEndpoints(spec('antminer', { cidr: '10.0.0.7/32' })))).toEqual(['10.0.0.7:4028']);
  });

  it('caps a count larger than the block at its host count', () => {
    const s = spec('antminer', { cidr: '10.0.0.0/29', count: 50 });
    expect(expandEndpoints(s)).toHaveLength(6);
    expect(endpointCount(s)).toBe(6);
  });

  it('skips invalid entries (validation reports them)', () => {
    const s = spec('antminer', {
      addresses: ['10.0.0.1', 'not an address', '10.0.0.2:0'],
      cidr: '10.0.0.5/24',
      count: 3,
    });
    expect(hosts(expandEndpoints(s))).toEqual(['10.0.0.1:4028']);
    expect(endpointCount(s)).toBe(3); // counts list entries as given; only the bad block adds nothing
  });
});

describe('expandEndpoints on any CIDR block (property)', () => {
  const block = fc
    .record({ prefix: fc.integer({ min: 16, max: 30 }), addr: fc.integer({ min: 0, max: 0xffffffff }) })
    .chain(({ prefix, addr }) => {
      const size = 2 ** (32 - prefix);
      const base = addr - (addr % size);
      return fc.record({
        prefix: fc.constant(prefix),
        base: fc.constant(base),
        size: fc.constant(size),
        count: fc.integer({ min: 1, max: size - 2 }),
      });
    });

  it('yields exactly `count` unique hosts inside the block, never its network or broadcast address', () => {
    fc.assert(
      fc.property(block, ({ prefix, base, size, count }) => {
        const cidr = `${intToIpv4(base)}/${prefix}`;
        const parsed = parseCidr(cidr);
        expect(parsed).toEqual({ base, prefix, firstHost: base + 1, hostCount: size - 2 });
        const s = spec('antminer', { cidr, count });
        const out = expandEndpoints(s);
        expect(out).toHaveLength(count);
        expect(endpointCount(s)).toBe(count);
        const ints = out.map((e) => ipv4ToInt(e.host));
        expect(new Set(ints).size).toBe(count);
        // Strictly inside the block: above the network address, below the broadcast address.
        expect(ints.reduce((a, b) => Math.min(a, b))).toBeGreaterThan(base);
        expect(ints.reduce((a, b) => Math.max(a, b))).toBeLessThan(base + size - 1);
        expect(out.every((e) => e.port === 4028 && isIpv4(e.host))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects the same block written with any host bit set', () => {
    fc.assert(
      fc.property(block, fc.integer({ min: 1, max: 2 ** 16 - 1 }), ({ prefix, base, size }, offset) => {
        const inside = base + (offset % size);
        fc.pre(inside !== base);
        expect(parseCidr(`${intToIpv4(inside)}/${prefix}`)).toBe(
          `"${intToIpv4(inside)}/${prefix}" has host bits set (the block starts at ${intToIpv4(base)}/${prefix})`,
        );
      }),
    );
  });
});
