/** Turns a task object's `Outcome` into the route's value, or into the one error path. */
import { ApiError } from '../errors';
import type { Failure, Outcome } from '../task/record';

export function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.body;
  return fail(outcome);
}

export function fail(failure: Failure): never {
  throw new ApiError(failure.status, failure.errors, failure.extra ? { extra: failure.extra } : {});
}
