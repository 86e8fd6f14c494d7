/**
 * Who a request comes from. For limits a client is one visitor: one IP address, or one IPv6 /64
 * (a home or phone usually gets a whole /64, so counting single IPv6 addresses would let one
 * visitor be millions of clients). The `Origin` header is the page's word, not the visitor's,
 * so it never makes a second client; it only picks the per-origin budget.
 *
 * On Cloudflare, `CF-Connecting-IP` is set by Cloudflare's edge and cannot be forged by the
 * visitor; behind another proxy it is that proxy's address.
 */

export interface Client {
  /** The address as limits see it: an IPv4 address, or an IPv6 /64 prefix. */
  ip: string;
  /** The page's `Origin` header, or undefined for requests without one (servers, curl). */
  origin: string | undefined;
  /** Names the client's limiter object and scopes its idempotency keys. */
  key: string;
}

/** The eight 16-bit groups of an IPv6 address, or undefined when it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  const text = address
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '')
    .toLowerCase();
  if (!text.includes(':') || !/^[0-9a-f:.]+$/.test(text)) return undefined;
  const [head = '', tail, extra] = text.split('::');
  if (extra !== undefined) return undefined;
  const parse = (part: string) => (part === '' ? [] : part.split(':'));
  const toGroups = (parts: string[]) =>
    parts.flatMap((part) => {
      // An embedded IPv4 address (::ffff:1.2.3.4) is the last two groups.
      if (part.includes('.')) {
        const bytes = part.split('.').map(Number);
        return [((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0), ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)];
      }
      return [Number.parseInt(part, 16)];
    });
  const left = toGroups(parse(head));
  const right = tail === undefined ? [] : toGroups(parse(tail));
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 0) return undefined;
  const groups = [...left, ...Array<number>(missing).fill(0), ...right];
  return groups.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff) ? groups : undefined;
}

/** The limits' view of an address: IPv4 as it is, IPv6 as its /64 (IPv4-mapped IPv6 as IPv4). */
export function clientAddress(address: string): string {
  const groups = ipv6Groups(address);
  if (!groups) return address;
  const mapped = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
  if (mapped) {
    const [high = 0, low = 0] = groups.slice(6);
    return [high >> 8, high & 255, low >> 8, low & 255].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

export function clientOf(request: Request): Client {
  const ip = clientAddress(request.headers.get('cf-connecting-ip') ?? 'unknown');
  return { ip, origin: request.headers.get('origin') ?? undefined, key: ip };
}
