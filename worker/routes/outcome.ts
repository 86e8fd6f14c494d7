/** Turns a task object's `Outcome` into the route's value, or into the one error path. */
import { ApiError } from '../errors';
import type { Failure, Outcome } from '../task/record';

export function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.body;
  return fail(outcome);
}

/**
 * Wiro's concurrency refusal (code 96, passed on as 429) says nothing about when to retry; a
 * running task frees its slot within seconds, so clients are told to wait as long as for the
 * Worker's own running-tasks cap.
 */
const UPSTREAM_BUSY_RETRY_SECONDS = '5';

export function fail(failure: Failure): never {
  throw new ApiError(failure.status, failure.errors, {
    ...(failure.extra ? { extra: failure.extra } : {}),
    ...(failure.status === 429 ? { headers: { 'retry-after': UPSTREAM_BUSY_RETRY_SECONDS } } : {}),
  });
}
