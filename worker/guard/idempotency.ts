/**
 * `Idempotency-Key` on Run: repeats of one request start one task. The key, scoped to the client
 * (one visitor: nobody else's request can replay your task), decides the task object's name
 * through an HMAC under the Worker's secret, so a repeat reaches the same task object, which
 * answers the first task instead of starting a second paid one. Without the secret nobody can
 * turn a key into a task.
 */
import { ApiError } from '../errors';
import { derivedKey } from '../task/token';

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

/** The task object's name for this client's key. */
export function idempotentObjectKey(secret: string, clientKey: string, key: string): Promise<string> {
  return derivedKey(secret, `idempotency\n${clientKey}\n${key}`);
}

/** A fingerprint of the request's inputs: a repeat with other inputs is a mistake, not a retry. */
export async function requestFingerprint(body: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}
