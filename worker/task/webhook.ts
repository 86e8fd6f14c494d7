/**
 * The webhook relay: when a task ends, the Worker POSTs the verified final task to the client's
 * own `callbackUrl`, signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), so the receiver can
 * check it came from this Worker. Retries are driven by the task object's alarm.
 *
 * @example receiver side (the standardwebhooks package does the same):
 *   expected = base64(HMAC_SHA256(base64decode(secret without "whsec_"), `${id}.${timestamp}.${body}`))
 */
import { isFailed, type WiroTask } from '../protocol';

export interface WebhookState {
  url: string;
  /** Stable across retries, so receivers can drop duplicates. */
  id: string;
  attempts: number;
  nextAt: number;
  delivered: boolean;
  gaveUp: boolean;
  last?: string;
}

/** Waits before each retry; after the last, the relay gives up (about 1 h 15 min in all). */
export const WEBHOOK_RETRY_DELAYS_MS = [5_000, 30_000, 120_000, 600_000, 3_600_000];
const DELIVERY_TIMEOUT_MS = 10_000;

function secretBytes(secret: string): Uint8Array<ArrayBuffer> {
  if (secret.startsWith('whsec_')) {
    const binary = atob(secret.slice('whsec_'.length));
    return Uint8Array.from(binary, (char) => char.charCodeAt(0));
  }
  return new Uint8Array(new TextEncoder().encode(secret));
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
