/**
 * Wiro's request signing: `x-signature` is the lowercase hex HMAC-SHA256 of `secret + nonce`
 * keyed with the API key. Projects without a secret ("API key only") send `x-api-key` alone.
 *
 * @example
 *   await signature('k', 's', '1'); // '38aeb200…d420', as `printf %s s1 | openssl dgst -sha256 -hmac k`
 */

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
    keys.set(secret, key);
  }
  return key;
}

function toHex(bytes: Uint8Array): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** HMAC-SHA256 of `message` under `key`. */
export async function hmacBytes(key: string, message: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(key), encoder.encode(message)));
}

/** Lowercase hex HMAC-SHA256 of `message` under `key`. */
export async function hmacHex(key: string, message: string): Promise<string> {
  return toHex(await hmacBytes(key, message));
}

/** Constant-time check of a hex HMAC, through `crypto.subtle.verify`. */
export async function verifyHmacHex(key: string, message: string, hex: string): Promise<boolean> {
  if (!/^[0-9a-f]{64}$/.test(hex)) return false;
  const bytes = new Uint8Array(hex.match(/../g)?.map((pair) => Number.parseInt(pair, 16)) ?? []);
  return crypto.subtle.verify('HMAC', await hmacKey(key), bytes, encoder.encode(message));
}

export function signature(apiKey: string, apiSecret: string, nonce: string): Promise<string> {
  return hmacHex(apiKey, apiSecret + nonce);
}

let lastNonce = 0;

/**
 * Milliseconds since the epoch, bumped past the last one handed out, so parallel requests from
 * this isolate never share a nonce and nonces only grow (as Wiro's own clients do).
 */
export function nextNonce(now: number = Date.now()): string {
  lastNonce = Math.max(lastNonce + 1, now);
  return String(lastNonce);
}

export async function authHeaders(apiKey: string, apiSecret: string | undefined): Promise<Record<string, string>> {
  if (!apiSecret) return { 'x-api-key': apiKey };
  const nonce = nextNonce();
  return { 'x-api-key': apiKey, 'x-nonce': nonce, 'x-signature': await signature(apiKey, apiSecret, nonce) };
}
