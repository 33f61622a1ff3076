// Where webhooks may point. A broker chooses the URL and the worker calls it from inside the farm's
// network, so the rules keep a webhook from reaching anything but the broker's public receiver
// (server-side request forgery):
//
//   - https:// to a public host; no credentials in the URL and no fragment;
//   - http:// (or https://) to a loopback host (localhost, 127.0.0.0/8, [::1]) only when the
//     policy's allowLoopback is set: tests, and a receiver on the same machine in standalone mode;
//   - https:// to a private, link-local, shared or reserved address only when the policy's
//     allowPrivateNetworks is set.
//
// The URL is checked when a webhook is registered, and again when it is called: host names are
// resolved by a guarded lookup that refuses any address the policy does not allow, so a name that
// resolves (or later re-resolves) to an internal address is refused at connection time.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

export interface WebhookTargetPolicy {
  /** Allow loopback hosts, over http or https (default false). */
  allowLoopback?: boolean | undefined;
  /** Allow private, link-local and other non-public addresses, over https (default false). */
  allowPrivateNetworks?: boolean | undefined;
}

export const MAX_WEBHOOK_URL_CHARS = 2048;

export type AddressClass = 'public' | 'loopback' | 'private';

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** Addresses that are not on the public internet (RFC 6890 and friends), loopback aside. */
const nonPublic = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  nonPublic.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  nonPublic.addSubnet(net, bits, 'ipv6');

/**
 * Whether an IP address is loopback, private (any other non-public range) or public. An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is classed as its IPv4 address (BlockList does so).
 */
export function classifyAddress(address: string): AddressClass {
  const family = isIP(address);
  if (family === 0) throw new TypeError(`${JSON.stringify(address)} is not an IP address`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (loopback.check(address, type)) return 'loopback';
  return nonPublic.check(address, type) ? 'private' : 'public';
}

function classAllowed(c: AddressClass, policy: WebhookTargetPolicy): boolean {
  if (c === 'loopback') return policy.allowLoopback === true;
  if (c === 'private') return policy.allowPrivateNetworks === true;
  return true;
}

const isLoopbackName = (host: string) => host === 'localhost' || host.endsWith('.localhost');

export type WebhookUrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/** Whether a webhook may point at `url` under the policy, and why not. */
export function checkWebhookUrl(url: string, policy: WebhookTargetPolicy = {}): WebhookUrlCheck {
  if (typeof url !== 'string' || url.length === 0 || url.length > MAX_WEBHOOK_URL_CHARS)
    return { ok: false, reason: `must be 1 to ${MAX_WEBHOOK_URL_CHARS} characters` };
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, reason: 'is not an absolute URL' };
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return { ok: false, reason: 'must be https://' };
  if (u.username !== '' || u.password !== '')
    return { ok: false, reason: 'must not carry credentials (user:password@)' };
  if (u.hash !== '' || url.includes('#')) return { ok: false, reason: 'must not have a fragment (#...)' };
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === '') return { ok: false, reason: 'must name a host' };
  const cls: AddressClass = isIP(host) ? classifyAddress(host) : isLoopbackName(host) ? 'loopback' : 'public';
  if (cls === 'loopback') {
    return policy.allowLoopback
      ? { ok: true, url: u }
      : { ok: false, reason: 'must not point at a loopback host (localhost, 127.0.0.0/8, ::1)' };
  }
  if (u.protocol !== 'https:')
    return { ok: false, reason: 'must be https:// (http:// is allowed to loopback hosts only)' };
  if (cls === 'private' && !policy.allowPrivateNetworks)
    return { ok: false, reason: 'must not point at a private, link-local or reserved address' };
  return { ok: true, url: u };
}

/** The error a guarded lookup fails with: a permanent refusal, not a network fault. */
export class WebhookTargetError extends Error {
  readonly code = 'EWEBHOOKTARGET';
  constructor(message: string) {
    super(message);
    this.name = 'WebhookTargetError';
  }
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for node:http(s) and node:net that resolves like dns.lookup but refuses a host any
 * of whose addresses the policy does not allow.
 */
export function guardedLookup(
  policy: WebhookTargetPolicy,
): (hostname: string, options: LookupOptions, callback: LookupCallback) => void {
  return (hostname, options, callback) => {
    const all: LookupAllOptions = { ...options, all: true };
    dnsLookup(hostname, all, (err, addresses) => {
      if (err) return callback(err, []);
      const refused = addresses.find((a) => !classAllowed(classifyAddress(a.address), policy));
      if (refused || addresses.length === 0)
        return callback(
          new WebhookTargetError(
            refused
              ? `${hostname} resolves to a ${classifyAddress(refused.address)} address, which webhooks may not reach`
              : `${hostname} resolves to no address`,
          ),
          [],
        );
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      return callback(null, first.address, first.family);
    });
  };
}
