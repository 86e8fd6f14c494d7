/**
 * Which URLs the Worker forwards (LoRA file URLs) or calls (webhook callbackUrl): the bypasses an
 * attacker tried, each refused, ordinary public URLs accepted, and the URL handed back normalised
 * (so what is forwarded is exactly what was checked). Pure, but run in workerd: its URL parser is
 * the one that matters.
 */
import { describe, expect, it } from 'vitest';
import { checkPublicHttpsUrl, isPublicHttpsUrl } from '../../worker/tool/url';

function reasonOf(text: string): string {
  const check = checkPublicHttpsUrl(text);
  if (check.ok) throw new Error(`${text} was let through as ${check.url}`);
  return check.reason;
}

describe('checkPublicHttpsUrl refuses', () => {
  it.each([
    // Loopback and internal names, with the trailing dot that used to slip past the suffix check.
    'https://localhost/x',
    'https://localhost./x',
    'https://a.localhost./x',
    'https://metadata.google.internal./computeMetadata/v1/',
    'https://metadata.google.internal/computeMetadata/v1/',
    'https://metadata/x',
    'https://printer/x',
    'https://nas.local/x',
    'https://nas.local./x',
    'https://db.internal/x',
    'https://router.lan/x',
    'https://nas.home.arpa/x',
    'https://1.0.0.127.in-addr.arpa/x',
    'https://wiki.corp/x',
    'https://api.default.svc/x',
    'https://api.default.svc.cluster.local/x',
    'https://portal.intranet/x',
    'https://git.private/x',
    'https://box.localdomain/x',
    'https://router.home/x',
    'https://site.test/x',
    'https://site.example/x',
    'https://site.invalid/x',
    'https://abc.onion/x',
    'https://site.alt/x',
    // The same suffixes spelt with dots WHATWG folds: ideographic, fullwidth, percent-encoded.
    'https://nas。local/x',
    'https://db．internal/x',
    'https://router%2Elan/x',
    'https://nas%2ehome%2earpa./x',
    'https://wiki。corp。/x',
    'https://api%2Esvc/x',
    'https://metadata。google。internal。/x',
    // Wildcard-DNS rebinding services and their subdomains.
    'https://127.0.0.1.nip.io/x',
    'https://app.nip.io/x',
    'https://10-0-0-1.sslip.io/x',
    'https://x.xip.io/x',
    'https://localtest.me/x',
    'https://a.localtest.me/x',
    'https://lvh.me/x',
    'https://app.vcap.me/x',
    'https://lacolhost.com/x',
    'https://www.lacolhost.com./x',
  ])('%s (internal or rebinding name)', (text) => {
    expect(reasonOf(text)).toMatch(/^must name a public host, not /);
  });

  it.each([
    'https://127.0.0.1/x',
    'https://10.0.0.5/hook',
    'https://192.168.1.2/a.safetensors',
    'https://169.254.169.254/latest/meta-data/',
    'https://198.18.0.1/x',
    'https://198.19.255.254/x',
    'https://192.0.0.8/x',
    'https://192.0.2.1/x',
    // Public addresses too: a file or a webhook lives behind a name.
    'https://8.8.8.8/x',
    // Every notation WHATWG reads as 127.0.0.1.
    'https://2130706433/x',
    'https://0x7f.1/x',
    'https://0177.0.0.1/x',
    'https://127.1/x',
    'https://127.0.0.1./x',
    'https://[::1]/x',
    'https://[::ffff:127.0.0.1]/x',
    'https://[2606:4700::1111]/x',
  ])('%s (an IP address)', (text) => {
    expect(reasonOf(text)).toMatch(/^must name a host, not the IP address /);
  });

  it.each([
    ['127.0.0.1.example.com', '127.0.0.1'],
    ['api.10.1.2.3.example.com', '10.1.2.3'],
    ['10-0-0-1.example.com', '10.0.0.1'],
    ['app-192-168-0-10.example.com', '192.168.0.10'],
    ['169-254-169-254.example.com', '169.254.169.254'],
    ['0.0.0.0.example.com', '0.0.0.0'],
    ['100.64.0.1.example.com', '100.64.0.0/10'],
    ['100-127-255-255.example.com', '100.64.0.0/10'],
    ['172.16.0.1.example.com', '172.16.0.0/12'],
    ['172-31-255-255.example.com', '172.16.0.0/12'],
    ['192.0.0.1.example.com', '192.0.0.0/24'],
    ['192-0-2-1.example.com', '192.0.2.0/24'],
    ['198.18.0.1.example.com', '198.18.0.0/15'],
    ['198-19-1-1.example.com', '198.18.0.0/15'],
    ['198.51.100.7.example.com', '198.51.100.0/24'],
    ['203-0-113-7.example.com', '203.0.113.0/24'],
    ['224.0.0.1.example.com', 'multicast'],
    ['239-255-255-250.example.com', 'multicast'],
    ['255.255.255.255.example.com', 'reserved'],
  ])('%s (embeds %s)', (host) => {
    expect(reasonOf(`https://${host}/x`)).toBe(`must name a public host, not ${host}`);
  });

  it.each([
    ['http://example.com/a.safetensors', 'must use https'],
    ['ftp://example.com/a', 'must use https'],
    ['file:///etc/passwd', 'must use https'],
    ['not a url', 'must be a valid URL'],
    ['', 'must be a valid URL'],
    ['https://u:p@files.example.com/a', 'must not carry a user name or password'],
    ['https://u@files.example.com/a', 'must not carry a user name or password'],
    ['https://:p@files.example.com/a', 'must not carry a user name or password'],
    ['https://example.com:8443/x', 'must not name a port'],
    ['https://example.com:80/x', 'must not name a port'],
    ['https://hooks.example.com:1/x', 'must not name a port'],
  ])('%s', (text, reason) => {
    expect(reasonOf(text)).toBe(reason);
  });

  it('a backslash anywhere, saying why', () => {
    // WHATWG: host example.com, path /@127.0.0.1:8080/x. Python's urlsplit: host 127.0.0.1:8080.
    expect(reasonOf('https://example.com\\@127.0.0.1:8080/x')).toMatch(/backslash/);
    expect(reasonOf('https://example.com/a\\b')).toMatch(/backslash/);
  });

  it('names that are no DNS name: empty labels, numeric top level', () => {
    expect(reasonOf('https://a..com/x')).toMatch(/^must name a public host/);
    expect(reasonOf('https://example.com../x')).toMatch(/^must name a public host/);
    // A numeric last label makes WHATWG read the host as an IPv4 address, which these are not.
    expect(reasonOf('https://example.123/x')).toBe('must be a valid URL');
  });
});

describe('checkPublicHttpsUrl accepts', () => {
  it.each([
    'https://huggingface.co/user/repo/resolve/main/lora.safetensors',
    'https://example.org/hook?x=1',
    'https://hooks.example.com/wiro',
    'https://files.example.com/a.safetensors#part',
    'https://cdn.civitai.com/models/123/lora.safetensors?token=abc',
    // Numbers in a name that are no private address.
    'https://8.8.8.8.example.com/x',
    'https://198-20-0-1.example.com/x',
    'https://release-2024-10-01.example.com/x',
    'https://v1.2.example.com/x',
    // Names that merely contain a refused word.
    'https://localhost.example.com/x',
    'https://local.example.com/x',
    'https://internal-tools.example.com/x',
    'https://mynip.io/x',
  ])('%s', (text) => {
    expect(checkPublicHttpsUrl(text)).toEqual({ ok: true, url: new URL(text).href });
    expect(isPublicHttpsUrl(text)).toBe(true);
  });
});

describe('the URL handed back', () => {
  it.each([
    ['https://EXAMPLE.org/a/../b', 'https://example.org/b'],
    ['https://example.org', 'https://example.org/'],
    ['https://example.org:443/hook', 'https://example.org/hook'],
    ['https://@example.org/hook', 'https://example.org/hook'],
    ['  https://example.org/a b\n', 'https://example.org/a%20b'],
    ['https://exam\tple.org/x', 'https://example.org/x'],
    ['https://bücher.de/lora', 'https://xn--bcher-kva.de/lora'],
    ['https://example。org/x', 'https://example.org/x'],
  ])('%j is forwarded as %s, what new URL() makes of it', (text, href) => {
    expect(checkPublicHttpsUrl(text)).toEqual({ ok: true, url: href });
    expect(new URL(text).href).toBe(href);
  });

  it('isPublicHttpsUrl is the same yes or no', () => {
    expect(isPublicHttpsUrl('https://localhost./x')).toBe(false);
    expect(isPublicHttpsUrl('https://example.org/hook?x=1')).toBe(true);
  });
});
