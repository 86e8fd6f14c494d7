/**
 * Every call a task object makes to Wiro: the Run, the Detail re-read, a stop, and the search for
 * a Run whose answer was lost. Each goes through one counter, so the record's `upstreamCalls`
 * (what a task cost on Wiro, for operators and benchmarks) counts every call, failed ones too.
 */
import type { RunAnswer, WiroEnvelope, WiroTask } from '../../shared/protocol';
import { type Bindings, readConfig } from '../env';
import { UpstreamError, WiroClient } from '../wiro/client';
import { findLostRun } from './lost-run';
import { failure, type Outcome, refusal, type TaskRecord } from './record';

export type StopHow = 'cancel' | 'kill';

export class UpstreamCalls {
  readonly #env: Bindings;

  constructor(env: Bindings) {
    this.#env = env;
  }

  /**
   * Sends the Run, never retried (a Run that timed out may still have been billed). A failure
   * says whether Wiro `refused` it (nothing started) or its answer was `lost` (a task may run).
   */
  async run(record: TaskRecord, slug: string, body: Record<string, unknown>): Promise<Outcome<RunAnswer>> {
    try {
      return { ok: true, body: await this.#counted(record, (wiro) => wiro.run(slug, body)) };
    } catch (error) {
      const failed = failure(error);
      return { ...failed, run: error instanceof UpstreamError && !error.refused ? 'lost' : 'refused' };
    }
  }

  /** Reads the task on Wiro by Wiro's token, which can never name another task. */
  async read(record: TaskRecord): Promise<WiroTask> {
    const ids = record.wiro;
    if (!ids) throw new Error('Wiro has not confirmed this task yet: it cannot be read');
    return this.#counted(record, (wiro) => wiro.detail(ids.token));
  }

  /**
   * Asks Wiro to stop the task, named by its id and by Wiro's token for it (Wiro's documents name
   * it both ways); Wiro's refusal is an outcome, not an error. The time is kept on the record
   * before the call leaves, so repeats that arrive while it is on its way see it.
   */
  async stop(record: TaskRecord, how: StopHow): Promise<Outcome<WiroEnvelope>> {
    const ids = record.wiro;
    if (!ids) return refusal(409, 'Wiro has not confirmed this task yet: try again in a few seconds');
    record.stopRequestedAt = Date.now();
    try {
      const body = await this.#counted(record, (wiro) =>
        how === 'cancel' ? wiro.cancel(ids.taskid, ids.token) : wiro.kill(ids.taskid, ids.token),
      );
      return { ok: true, body };
    } catch (error) {
      return failure(error);
    }
  }

  /** Looks on Wiro for the task of a Run whose answer was lost (see lost-run.ts). */
  findLost(record: TaskRecord, callbackBody?: unknown): Promise<WiroTask | undefined> {
    return this.#counted(record, (wiro) => findLostRun(wiro, record.callbackUrl, callbackBody));
  }

  /** Runs one job with a fresh client and books its calls on the record, whatever the outcome. */
  async #counted<T>(record: TaskRecord, job: (wiro: WiroClient) => Promise<T>): Promise<T> {
    const wiro = new WiroClient(readConfig(this.#env));
    try {
      return await job(wiro);
    } finally {
      record.upstreamCalls += wiro.calls;
    }
  }
}

/** A lost Run's task, found on Wiro: from now on the record follows it by Wiro's id and token. */
export function attach(record: TaskRecord, task: WiroTask, now = Date.now()): void {
  record.wiro = { taskid: String(task.id), token: String(task.socketaccesstoken) };
  record.readAt = now;
}
