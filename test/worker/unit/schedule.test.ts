/** The poll schedule and the webhook relay's retries, as pure functions. */
import { describe, expect, it } from 'vitest';
import {
  AFTERLIFE_POLL_MS,
  deadlinePassed,
  nextAlarmAt,
  nextLateReadAt,
  nextPollAt,
  pollDelay,
  STOP_INTERVAL_MS,
  stopIsTooSoon,
} from '../../../worker/task/schedule';
import { afterAttempt, isDue, newWebhook, WEBHOOK_RETRY_DELAYS_MS } from '../../../worker/task/webhook';

describe('polling', () => {
  it('backs off 1, 1, 2, 2, 3, 3, 5 … then 10 and finally 30 times the first delay', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((polls) => pollDelay(polls, 1000))).toEqual([
      1000, 1000, 2000, 2000, 3000, 3000, 5000,
    ]);
    expect(pollDelay(20, 1000)).toBe(10_000);
    expect(pollDelay(40, 1000)).toBe(30_000);
  });

  it('never schedules a poll past the deadline while the client waits', () => {
    expect(nextPollAt(1000, 0, 1000, 1500)).toBe(1500);
    expect(nextPollAt(1000, 0, 1000, 10_000)).toBe(2000);
    // A deadline already past: poll now, and the poll gives up.
    expect(nextPollAt(5000, 0, 1000, 1000)).toBe(5000);
  });
});

describe('the alarm', () => {
  it('fires for the next poll or the relay’s next attempt, whichever is first, and not at all when neither is due', () => {
    const webhook = { ...newWebhook('u', 'i', 0), nextAt: 5000 };
    expect(nextAlarmAt(3000, webhook)).toBe(3000);
    expect(nextAlarmAt(9000, webhook)).toBe(5000);
    expect(nextAlarmAt(undefined, webhook)).toBe(5000);
    expect(nextAlarmAt(3000, undefined)).toBe(3000);
    // A relay that was delivered or given up on wakes nobody.
    expect(nextAlarmAt(undefined, { ...webhook, delivered: true })).toBeUndefined();
    expect(nextAlarmAt(undefined, { ...webhook, gaveUp: true })).toBeUndefined();
    expect(nextAlarmAt(undefined, undefined)).toBeUndefined();
  });

  it('gives up on a task from its deadline on, not before', () => {
    expect(deadlinePassed(999, 1000)).toBe(false);
    expect(deadlinePassed(1000, 1000)).toBe(true);
    expect(deadlinePassed(1001, 1000)).toBe(true);
  });

  it('reads a task it stopped waiting for every few minutes for a day, then no more', () => {
    const day = 24 * 60 * 60_000;
    expect(nextLateReadAt(0, 0)).toBe(AFTERLIFE_POLL_MS);
    expect(nextLateReadAt(day - 1, 0)).toBe(day - 1 + AFTERLIFE_POLL_MS);
    expect(nextLateReadAt(day, 0)).toBeUndefined();
  });
});

describe('stopping', () => {
  it('lets a stop reach Wiro at most once per interval', () => {
    expect(stopIsTooSoon(1000, undefined)).toBe(false);
    expect(stopIsTooSoon(1000 + STOP_INTERVAL_MS - 1, 1000)).toBe(true);
    expect(stopIsTooSoon(1000 + STOP_INTERVAL_MS, 1000)).toBe(false);
  });
});

describe('the webhook relay’s retries', () => {
  it('is due at once, then after each retry delay, and gives up after the last', () => {
    let state = newWebhook('https://client.example/hook', 'msg_1', 0);
    expect(isDue(state, 0)).toBe(true);
    const times: number[] = [];
    for (const _ of WEBHOOK_RETRY_DELAYS_MS) {
      state = afterAttempt(state, false, true, 0);
      times.push(state.nextAt);
    }
    expect(times).toEqual(WEBHOOK_RETRY_DELAYS_MS);
    state = afterAttempt(state, false, true, 0);
    expect(state).toMatchObject({ gaveUp: true, attempts: WEBHOOK_RETRY_DELAYS_MS.length + 1 });
    expect(isDue(state, Number.MAX_SAFE_INTEGER)).toBe(false);
  });

  it('stops at the first 2xx, and at once when there is no secret to sign with', () => {
    expect(afterAttempt(newWebhook('u', 'i', 0), true, true, 0)).toMatchObject({ delivered: true, attempts: 1 });
    expect(afterAttempt(newWebhook('u', 'i', 0), false, false, 0)).toMatchObject({ gaveUp: true, attempts: 1 });
  });
});
