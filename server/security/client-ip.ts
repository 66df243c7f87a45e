// The address a budget is charged to. Behind `TRUST_PROXY` hops (nginx in the compose
// file), the client is that many entries from the right of X-Forwarded-For: entries
// further left were written by the client and could be anything. IPv6 clients are
// keyed by their /64, which one subscriber usually holds whole.
import { isIPv6 } from 'node:net';

function normalise(address: string): string {
  const a = address.trim().toLowerCase();
  if (a.startsWith('::ffff:') && a.includes('.')) return a.slice(7);
  if (!isIPv6(a)) return a;
  const [head = '', tail = ''] = a.split('::');
  const left = head ? head.split(':') : [];
  const right = a.includes('::') && tail ? tail.split(':') : [];
  const groups = a.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export function clientIp(remoteAddress: string | undefined, forwardedFor: string | string[] | undefined, trustProxy: number): string {
  const remote = remoteAddress ?? 'unknown';
  if (trustProxy <= 0) return normalise(remote);
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor ?? '';
  const hops = [...header.split(',').map((s) => s.trim()).filter(Boolean), remote];
  return normalise(hops[Math.max(0, hops.length - 1 - trustProxy)]!);
}
