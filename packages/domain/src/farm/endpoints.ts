// Expanding a fleet's endpoints (explicit list or CIDR + count) into host:port pairs.
// IPv4 only: miner LANs are IPv4 in practice, and the simulator maps them onto 127/8.
import type { MinerFleetSpec } from './resource-schema.ts';
import { DEFAULT_PORTS } from './miner-models.ts';

export interface Endpoint {
  host: string;
  port: number;
}

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME_RE =
  /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

export function isIpv4(s: string): boolean {
  return IPV4_RE.test(s);
}

export function ipv4ToInt(s: string): number {
  return s.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Cidr {
  base: number;
  prefix: number;
  /** Usable host addresses: all but network and broadcast for prefixes up to /30. */
  firstHost: number;
  hostCount: number;
}

/** Parses "a.b.c.d/n"; returns an error message instead of throwing. */
export function parseCidr(s: string): Cidr | string {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
  if (!m) return `"${s}" is not a CIDR block (expected a.b.c.d/prefix)`;
  const [, ip, p] = m as unknown as [string, string, string];
  if (!isIpv4(ip)) return `"${ip}" is not an IPv4 address`;
  const prefix = Number(p);
  if (prefix > 32) return `prefix /${prefix} is out of range 0-32`;
  const size = 2 ** (32 - prefix);
  const addr = ipv4ToInt(ip);
  const base = addr - (addr % size);
  if (base !== addr) return `"${s}" has host bits set (the block starts at ${intToIpv4(base)}/${prefix})`;
  const reserved = prefix <= 30 ? 2 : 0;
  return { base, prefix, firstHost: base + (reserved ? 1 : 0), hostCount: size - reserved };
}

/** Parses "host" or "host:port"; returns an error message instead of throwing. */
export function parseAddress(s: string, defaultPort: number): Endpoint | string {
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(s);
  if (!m) return `"${s}" is not host or host:port`;
  const host = m[1] as string;
  if (!isIpv4(host) && (!HOSTNAME_RE.test(host) || /^[\d.]+$/.test(host))) {
    return `"${host}" is neither an IPv4 address nor a hostname`;
  }
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) return `port ${port} is out of range 1-65535`;
  return { host, port };
}

/**
 * The fleet's miners, in order. Assumes the spec passed validation; invalid entries are skipped.
 */
export function expandEndpoints(spec: MinerFleetSpec): Endpoint[] {
  const port = spec.endpoints.port ?? DEFAULT_PORTS[spec.driver];
  const out: Endpoint[] = [];
  for (const a of spec.endpoints.addresses ?? []) {
    const e = parseAddress(a, port);
    if (typeof e !== 'string') out.push(e);
  }
  if (spec.endpoints.cidr !== undefined) {
    const c = parseCidr(spec.endpoints.cidr);
    if (typeof c !== 'string') {
      const n = Math.min(spec.endpoints.count ?? c.hostCount, c.hostCount);
      for (let i = 0; i < n; i++) out.push({ host: intToIpv4(c.firstHost + i), port });
    }
  }
  return out;
}

/** Number of miners in a fleet without materialising the list. */
export function endpointCount(spec: MinerFleetSpec): number {
  let n = spec.endpoints.addresses?.length ?? 0;
  if (spec.endpoints.cidr !== undefined) {
    const c = parseCidr(spec.endpoints.cidr);
    if (typeof c !== 'string') n += Math.min(spec.endpoints.count ?? c.hostCount, c.hostCount);
  }
  return n;
}
