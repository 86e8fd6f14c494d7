/**
 * When a task object next looks at Wiro, as pure functions of how many times it has looked:
 * quick while a task is likely to move, slower later. A 6 s task costs about 4 polls; an
 * hour-long one about 130. After the Worker has stopped waiting for a task (its deadline), it
 * still looks now and then, so a result Wiro delivers late is kept and its cost is booked.
 */

/** Multiples of the first delay (1 s by default). */
const POLL_BACKOFF = [1, 1, 2, 2, 3, 3, 5, 5, 5, 10];
const LATE_POLL_BACKOFF = 30;

/** After the deadline: how often, and for how long, a stopped task is still read. */
export const AFTERLIFE_POLL_MS = 5 * 60_000;
export const AFTERLIFE_MS = 24 * 60 * 60_000;

/** The wait before poll number `polls` (0-based). */
export function pollDelay(polls: number, firstMs: number): number {
  return (POLL_BACKOFF[polls] ?? (polls < 40 ? 10 : LATE_POLL_BACKOFF)) * firstMs;
}

/** When the next poll is due: never past the deadline while the client still waits. */
export function nextPollAt(now: number, polls: number, firstMs: number, deadlineAt: number): number {
  return Math.min(now + pollDelay(polls, firstMs), Math.max(deadlineAt, now));
}
