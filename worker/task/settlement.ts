/**
 * What a task owes the guards when it ends: its client's running slot goes back to the client's
 * limiter, and its real cost replaces the reservation the budget made when the Run was admitted.
 * Each is done once (the record remembers), and each may happen at its own time: a task the
 * Worker stopped waiting for frees its slot at once, but its cost is known only when Wiro says.
 * A guard that cannot be reached is logged, not thrown: the task's end must still reach its
 * watchers, and the budget books a forgotten reservation as spent anyway.
 */
import type { WiroTask } from '../../shared/protocol';
import type { Bindings } from '../env';
import type { TaskRecord } from './record';

/**
 * Whether the task shows what a whole Run costs: it ended normally (exit code 0), and neither
 * the client nor the deadline stopped it.
 */
export function ranToTheEnd(task: Pick<WiroTask, 'status' | 'pexit'>, record: TaskRecord): boolean {
  const stopped = record.stopRequestedAt !== undefined || record.stoppedWaitingAt !== undefined;
  return task.status === 'task_postprocess_end' && task.pexit === '0' && !stopped;
}

export class Settlement {
  readonly #env: Bindings;
  readonly #log: (what: string, error: unknown) => void;

  constructor(env: Bindings, log: (what: string, error: unknown) => void) {
    this.#env = env;
    this.#log = log;
  }

  /** The task no longer counts as running for its client. */
  async releaseSlot(record: TaskRecord): Promise<void> {
    if (record.slotReleased) return;
    try {
      await this.#env.LIMITER.get(this.#env.LIMITER.idFromName(record.client.key)).release(record.ticket);
      record.slotReleased = true;
    } catch (error) {
      this.#log('could not release the running slot', error);
    }
  }

  /**
   * `cost` in US dollars as Wiro reports it replaces the reservation (undefined keeps the
   * reservation as the cost); the budget's estimate `learn`s from it only for a whole Run.
   */
  async settleCost(record: TaskRecord, cost: number | undefined, learn = false): Promise<void> {
    if (record.costSettled) return;
    try {
      await this.#env.BUDGET.get(this.#env.BUDGET.idFromName('global')).settle(record.ticket, cost, learn);
      record.costSettled = true;
    } catch (error) {
      this.#log('could not book the cost', error);
    }
  }
}
