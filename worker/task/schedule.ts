/**
 * When a task object next looks at Wiro, as pure functions of how many times it has looked:
 * quick while a task is likely to move, slower later. A 6 s task costs about 4 polls; an
 * hour-long one about 130. After the Worker has stopped waiting for a task (its deadline), it
 * still looks now and then, so a result Wiro delivers late is kept and its cost is booked. The
 * alarm's other time decisions (when it fires, when the deadline has passed) live here too, so
 * they are tested without a Durable Object.
 */
import { isPending, type WebhookState } from './webhook';

/** Multiples of the first delay (1 s by default). */
const POLL_BACKOFF = [1, 1, 2, 2, 3, 3, 5, 5, 5, 10];
const LATE_POLL_BACKOFF = 30;

/** After the deadline: how often, and for how long, a stopped task is still read. */
export const AFTERLIFE_POLL_MS = 5 * 60_000;
const AFTERLIFE_MS = 24 * 60 * 60_000;

/** The wait before poll number `polls` (0-based). */
export function pollDelay(polls: number, firstMs: number): number {
  return (POLL_BACKOFF[polls] ?? (polls < 40 ? 10 : LATE_POLL_BACKOFF)) * firstMs;
}

/** When the next poll is due: never past the deadline while the client still waits. */
export function nextPollAt(now: number, polls: number, firstMs: number, deadlineAt: number): number {
  return Math.min(now + pollDelay(polls, firstMs), Math.max(deadlineAt, now));
}

/** When the alarm must fire next: the next poll or the relay's next attempt, whichever is first. */
export function nextAlarmAt(pollAt: number | undefined, webhook: WebhookState | undefined): number | undefined {
  const due: number[] = [];
  if (pollAt !== undefined) due.push(pollAt);
  if (webhook && isPending(webhook)) due.push(webhook.nextAt);
  return due.length > 0 ? Math.min(...due) : undefined;
}

/** Stops sent to Wiro for one task are at least this far apart. */
export const STOP_INTERVAL_MS = 5000;

/** A stop asked for soon after the last one reaches no Wiro: double clicks and retries cost nothing. */
export function stopIsTooSoon(now: number, stopRequestedAt: number | undefined): boolean {
  return stopRequestedAt !== undefined && now - stopRequestedAt < STOP_INTERVAL_MS;
}

/** The client has waited as long as the Worker lets it: the task is given up on. */
export function deadlinePassed(now: number, deadlineAt: number): boolean {
  return now >= deadlineAt;
}

/**
 * The next read of a task the Worker stopped waiting for at `stoppedWaitingAt`, or undefined once
 * it has been read for long enough (Wiro will not report its end any more).
 */
export function nextLateReadAt(now: number, stoppedWaitingAt: number): number | undefined {
  return now - stoppedWaitingAt >= AFTERLIFE_MS ? undefined : now + AFTERLIFE_POLL_MS;
}
