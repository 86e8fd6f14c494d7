/**
 * Which URLs the Worker lets through: a LoRA file URL that Wiro's servers will fetch, and the
 * client's webhook `callbackUrl` that the Worker itself POSTs to. Only https on a public host
 * name passes, so neither Wiro nor the webhook relay can be pointed at internal services.
 *
 * The check runs on the URL as WHATWG parses it (the same parser that `fetch` uses), not on the
 * text: that parse already folds `。`, `．`, `%2E` into dots, case, and IPv4 written in hex,
 * octal or as one number into dotted decimal. Callers must forward the `url` that
 * `checkPublicHttpsUrl` returns, never the text they were given: another parser (Python's
 * urlsplit, say) can read a different host out of the same text.
 *
 * What this cannot catch: a public name whose DNS answer is a private address (a name the
 * attacker owns, or a rebinding service not on the list below). Only the side that resolves the
 * name can refuse that: Wiro's fetcher must guard it for LoRA URLs; for webhooks the Worker's
 * own `fetch` runs on Cloudflare, which does not reach private networks.
 */

export type UrlCheck = { ok: true; url: string } | { ok: false; reason: string };

/**
 * Names that never lead to a public host: special-use names (RFC 6761, 6762, 7686, 8375, 9476),
 * names used inside clusters, clouds and offices (`metadata.google.internal`, `*.svc`,
 * `*.corp`), and `home`/`mail`, which ICANN will not delegate because of name collisions.
 * Each also covers its subdomains.
 */
const PRIVATE_SUFFIXES = [
  'localhost',
  'local',
  'internal',
  'lan',
  'arpa',
  'corp',
  'svc',
  'intranet',
  'private',
  'localdomain',
  'home',
  'mail',
  'test',
  'example',
  'invalid',
  'onion',
  'alt',
];

/** Public wildcard-DNS names that answer with loopback or an address spelt into the name. */
const REBINDING_DOMAINS = [
  'nip.io',
  'sslip.io',
  'xip.io',
  'traefik.me',
  'localtest.me',
  'lvh.me',
  'vcap.me',
  'lacolhost.com',
  'localhost.direct',
  'local.gd',
  '1u.ms',
  'rbndr.us',
];

/** Private, shared, loopback, link-local, documentation, benchmarking and multicast/reserved space. */
const SPECIAL_IPV4_RANGES: [base: string, bits: number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 3], // 224/4 multicast and 240/4 reserved, up to 255.255.255.255
];

/** Four decimal octets as one unsigned number, or undefined if they are not an IPv4 address. */
function ipv4Number(octets: string[]): number | undefined {
  if (octets.length !== 4 || !octets.every((octet) => /^\d{1,3}$/.test(octet) && Number(octet) <= 255)) {
    return undefined;
  }
  return octets.reduce((sum, octet) => sum * 256 + Number(octet), 0);
}

function isSpecialIPv4(octets: string[]): boolean {
  const address = ipv4Number(octets);
  if (address === undefined) return false;
  return SPECIAL_IPV4_RANGES.some(([base, bits]) => {
    const size = 2 ** (32 - bits);
    const start = ipv4Number(base.split('.'))!;
    return address >= start && address < start + size;
  });
}

function isUnder(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}

/**
 * A private address spelt into the name, as wildcard-DNS services read it: four dotted labels
 * (`127.0.0.1.example.com`) or four dash-separated numbers inside one label (`app-10-0-0-1.example.com`).
 */
function embedsSpecialIPv4(labels: string[]): boolean {
  const windows = (parts: string[]) => parts.slice(0, -3).map((_, i) => parts.slice(i, i + 4));
  return windows(labels).some(isSpecialIPv4) || labels.some((label) => windows(label.split('-')).some(isSpecialIPv4));
}

/** Why a parsed hostname (IP literals already refused) is not a public host name, if it is not. */
function hostProblem(hostname: string): string | undefined {
  // One trailing dot names the same host (`localhost.` is localhost); more than one is no DNS name.
  const host = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  const labels = host.split('.');
  const topLevel = labels.at(-1) ?? '';
  const refused = `must name a public host, not ${hostname}`;
  // Single-label names (`localhost`, `metadata`, `router`) resolve only on a local network.
  if (labels.length < 2 || labels.includes('') || !/[a-z]/.test(topLevel)) return refused;
  if (PRIVATE_SUFFIXES.some((suffix) => isUnder(host, suffix))) return refused;
  if (REBINDING_DOMAINS.some((domain) => isUnder(host, domain))) return refused;
  if (embedsSpecialIPv4(labels)) return refused;
  return undefined;
}

/** The URL as it must be forwarded (normalised), or why it may not be. */
export function checkPublicHttpsUrl(text: string): UrlCheck {
  // WHATWG reads `\` as `/` in https URLs, other parsers do not: `https://a.com\@127.0.0.1/` is two hosts.
  if (text.includes('\\')) {
    return { ok: false, reason: 'must not contain a backslash, which URL parsers read differently' };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: 'must be a valid URL' };
  }
  if (url.protocol !== 'https:') return { ok: false, reason: 'must use https' };
  if (url.username || url.password) return { ok: false, reason: 'must not carry a user name or password' };
  // `url.port` is empty for the default port, which the normalised URL leaves out anyway.
  if (url.port) return { ok: false, reason: 'must not name a port' };
  const hostname = url.hostname;
  // The parser has turned every IPv4 notation into dotted decimal; IPv6 comes in brackets.
  if (hostname.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(hostname)) {
    return { ok: false, reason: `must name a host, not the IP address ${hostname}` };
  }
  const problem = hostProblem(hostname);
  return problem ? { ok: false, reason: problem } : { ok: true, url: url.href };
}

/** Kept for callers that need only yes or no; forward `checkPublicHttpsUrl(text).url`, not `text`. */
export function isPublicHttpsUrl(text: string): boolean {
  return checkPublicHttpsUrl(text).ok;
}
