/**
 * `Idempotency-Key` on Run: repeats of one request start one task. The key (scoped to the
 * page's origin) decides the task's token, an HMAC under the Worker's secret, so a repeat
 * reaches the same task object, which answers the first task instead of starting a second
 * paid one. Without the secret nobody can turn a key into a token.
 */
import { ApiError } from '../errors';
import { hmacHex } from '../wiro/sign';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Repeats within this window get the first task; later ones are refused. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

export function idempotencyKey(request: Request): string | undefined {
  const key = request.headers.get('idempotency-key');
  if (key === null) return undefined;
  if (!/^[\x21-\x7e]{8,255}$/.test(key)) {
    throw new ApiError(400, 'Idempotency-Key must be 8 to 255 visible ASCII characters (a UUID, say)');
  }
  return key;
}

export async function idempotentToken(secret: string, origin: string, key: string): Promise<string> {
  const hex = await hmacHex(secret, `idempotency\n${origin}\n${key}`);
  let token = '';
  for (let i = 0; i < 64; i += 2) token += ALPHABET[Number.parseInt(hex.slice(i, i + 2), 16) % 62];
  return token;
}

/** A fingerprint of the request's inputs: a repeat with other inputs is a mistake, not a retry. */
export async function requestFingerprint(body: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}
