/**
 * `Idempotency-Key` on Run: repeats of one request start one task. The key, scoped to the client
 * (one visitor: nobody else's request can replay your task), decides the task object's name
 * through an HMAC under the Worker's secret, so a repeat reaches the same task object, which
 * answers the first task instead of starting a second paid one. Without the secret nobody can
 * turn a key into a task.
 */
import { ApiError } from '../errors';
import type { Outcome, StartAnswer } from '../task/record';
import type { TaskObject } from '../task/task-object';
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

/**
 * An `Idempotency-Key` Run asks its task object for the key's claim while its limits are
 * checked, so it too has two object round trips before Wiro, not three. A repeat of a started
 * Run gets that task, and gives back what it was admitted. A Run that holds the claim but was
 * refused may have been refused only because its own repeats, admitted at the same moment,
 * held the slots: it lets the next of them try, and answers that one's task if it starts.
 */
export async function claimWhileAdmitting<Admitted extends { undo(): Promise<unknown> }>(
  task: DurableObjectStub<TaskObject>,
  fingerprint: string,
  admission: Promise<Admitted>,
): Promise<{ replay: Outcome<StartAnswer> } | { admitted: Admitted }> {
  const [claim, admitted] = await Promise.allSettled([task.claim(fingerprint), admission]);
  const giveBack = () => (admitted.status === 'fulfilled' ? admitted.value.undo() : undefined);
  if (claim.status === 'rejected') {
    await giveBack();
    throw claim.reason;
  }
  const replay = claim.value as Outcome<StartAnswer> | undefined;
  if (replay) {
    await giveBack();
    return { replay };
  }
  if (admitted.status === 'fulfilled') return { admitted: admitted.value };
  await task.unclaim();
  const later = (await task.replay(fingerprint)) as Outcome<StartAnswer> | undefined;
  if (later) return { replay: later };
  throw admitted.reason;
}
