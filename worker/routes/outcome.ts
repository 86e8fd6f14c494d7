/** Turns a task object's `Outcome` into the route's value, or into the one error path. */
import { ApiError } from '../errors';
import type { Outcome } from '../task/task-object';

export function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.body;
  throw new ApiError(outcome.status, outcome.errors);
}
