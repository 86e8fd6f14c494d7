/**
 * Which URLs the Worker lets through to Wiro or calls itself: https, on a public host. A URL that
 * points into a private network (or at the Worker's own machine) is refused before anyone fetches
 * it, so neither Wiro nor the webhook relay can be used to reach internal services.
 */

const PRIVATE_HOST_SUFFIXES = ['.localhost', '.local', '.internal', '.lan', '.home.arpa'];

function isPrivateIPv4(host: string): boolean {
  const parts = host.split('.').map(Number);
  const [a = -1, b = -1] = parts;
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    a >= 224
  );
}

export function isPublicHttpsUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' || url.username || url.password) return false;
  const host = url.hostname.toLowerCase();
  // IPv6 literals: refuse them all; public files live behind names.
  if (host.startsWith('[')) return false;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) return !isPrivateIPv4(host);
  if (!host.includes('.') || host === 'localhost') return false;
  return !PRIVATE_HOST_SUFFIXES.some((suffix) => host.endsWith(suffix));
}
