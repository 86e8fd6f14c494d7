/**
 * The webhook relay: when a task ends, the Worker POSTs the verified final task to the client's
 * own `callbackUrl`, signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), so the receiver can
 * check it came from this Worker. Retries are driven by the task object's alarm.
 *
 * WEBHOOK_SECRET is `whsec_` + base64, as the standardwebhooks libraries take it (generate one with
 * `echo "whsec_$(openssl rand -base64 32)"`); the prefix is optional, the base64 is not.
 *
 * @example receiver side (the standardwebhooks package does the same):
 *   expected = base64(HMAC_SHA256(base64decode(secret without "whsec_"), `${id}.${timestamp}.${body}`))
 */
import { isFailed, type WiroTask } from '../../shared/protocol';

export interface WebhookState {
  url: string;
  /** Stable across retries, so receivers can drop duplicates. */
  id: string;
  attempts: number;
  nextAt: number;
  delivered: boolean;
  gaveUp: boolean;
}

/** Waits before each retry; after the last, the relay gives up (about 1 h 15 min in all). */
export const WEBHOOK_RETRY_DELAYS_MS = [5_000, 30_000, 120_000, 600_000, 3_600_000];

/** The relay of a task that has just ended: due at once. */
export function newWebhook(url: string, id: string, now = Date.now()): WebhookState {
  return { url, id, attempts: 0, nextAt: now, delivered: false, gaveUp: false };
}

/** Still to deliver: neither delivered nor given up. */
export function isPending(state: WebhookState): boolean {
  return !state.delivered && !state.gaveUp;
}

export function isDue(state: WebhookState, dueBy: number): boolean {
  return isPending(state) && state.nextAt <= dueBy;
}

/**
 * The relay after one attempt: delivered on success; otherwise the next retry, or given up after
 * the last one (at once when there is no secret to sign with: no retry could succeed).
 */
export function afterAttempt(state: WebhookState, ok: boolean, canSign: boolean, now: number): WebhookState {
  const attempts = state.attempts + 1;
  if (ok) return { ...state, attempts, delivered: true };
  const delay = WEBHOOK_RETRY_DELAYS_MS[attempts - 1];
  if (delay === undefined || !canSign) return { ...state, attempts, gaveUp: true };
  return { ...state, attempts, nextAt: now + delay };
}

/**
 * One attempt of the relay that is due: delivered, or its next retry set. `failed` says why an
 * attempt failed, for the log. Without a secret nothing is sent (nothing could be verified).
 */
export async function relayOnce(
  state: WebhookState,
  secret: string | undefined,
  task: WiroTask,
): Promise<{ state: WebhookState; failed?: string }> {
  const result = secret ? await deliverWebhook(state, secret, task) : { ok: false, outcome: 'no WEBHOOK_SECRET' };
  const next = afterAttempt(state, result.ok, Boolean(secret), Date.now());
  return result.ok ? { state: next } : { state: next, failed: result.outcome };
}

const DELIVERY_TIMEOUT_MS = 10_000;

const SECRET_PREFIX = 'whsec_';
const SECRET_FORMAT =
  'WEBHOOK_SECRET must be "whsec_" followed by base64, e.g. "whsec_" and the output of `openssl rand -base64 32`';

/**
 * Base64 as the standardwebhooks libraries decode it: the standard alphabet, padding optional but
 * correct, at least 4 characters. Stricter than `atob`, which would also take spaces and newlines
 * and so sign with a key no receiver derives from the same text.
 */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/** The secret's base64 text: an optional `whsec_` prefix dropped, as `new Webhook(secret)` does. */
function secretBase64(secret: string): string {
  return secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
}

/** Why a WEBHOOK_SECRET cannot sign deliveries receivers can verify, or undefined if it can. */
export function webhookSecretProblem(secret: string): string | undefined {
  const base64 = secretBase64(secret);
  if (base64.length < 4 || !BASE64.test(base64)) return SECRET_FORMAT;
  return undefined;
}

/**
 * The HMAC key, exactly as the Standard Webhooks libraries derive it from the same text (they
 * base64-decode with or without the prefix), so every receiver verifies what this signs.
 */
function secretBytes(secret: string): Uint8Array<ArrayBuffer> {
  const problem = webhookSecretProblem(secret);
  if (problem) throw new Error(problem);
  return Uint8Array.from(atob(secretBase64(secret)), (char) => char.charCodeAt(0));
}

export async function signWebhook(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', secretBytes(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
  return `v1,${btoa(String.fromCharCode(...new Uint8Array(mac)))}`;
}

export function webhookPayload(task: WiroTask) {
  const type = task.status === 'task_cancel' ? 'task.cancelled' : isFailed(task) ? 'task.failed' : 'task.completed';
  return { type, timestamp: new Date().toISOString(), data: task };
}

/** One delivery attempt; a 2xx is success, anything else (or no answer in 10 s) is retried. */
export async function deliverWebhook(
  state: WebhookState,
  secret: string,
  task: WiroTask,
): Promise<{ ok: boolean; outcome: string }> {
  // Unsignable: say why in the record, rather than post something no receiver can verify.
  const problem = webhookSecretProblem(secret);
  if (problem) return { ok: false, outcome: problem };
  const body = JSON.stringify(webhookPayload(task));
  const timestamp = Math.floor(Date.now() / 1000);
  try {
    const response = await fetch(state.url, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'wiro-flux-edge webhook relay',
        'webhook-id': state.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': await signWebhook(secret, state.id, timestamp, body),
      },
      body,
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    await response.body?.cancel();
    return { ok: response.status >= 200 && response.status < 300, outcome: `HTTP ${response.status}` };
  } catch (error) {
    return { ok: false, outcome: error instanceof Error ? error.name : 'error' };
  }
}
