/**
 * What a task object keeps and answers: the record of one task (the start's settings, less the
 * inputs, which Wiro holds, and the task's life), the events it streams, and the `Outcome` its
 * methods answer across the RPC boundary (an error's fields would not survive it).
 */

import type { RunAnswer, WiroErrorItem, WiroTask } from '../../shared/protocol';
import type { Config } from '../env';
import { ApiError, WiroCode } from '../errors';
import { IDEMPOTENCY_WINDOW_MS } from '../guard/idempotency';
import { type SeededRunInput, upstreamRunBody } from '../tool/schema';
import { pollDelay } from './schedule';
import { type ClientIds, toClientTask } from './state';
import { NOT_FOUND_MESSAGE, type TaskIds } from './token';
import type { WebhookState } from './webhook';

export type StartAnswer = RunAnswer & { replayed?: boolean };

export type Failure = {
  ok: false;
  status: number;
  errors: WiroErrorItem[];
  /**
   * For a Run that failed after it was sent: Wiro `refused` it (nothing started, nothing is
   * owed), or its answer was `lost` (a task may run: it is followed, and its cost counts).
   */
  run?: 'refused' | 'lost';
  /** Fields for the error envelope (a lost Run's identifiers). */
  extra?: Record<string, string>;
};
export type Outcome<T> = { ok: true; body: T } | Failure;

export interface StartArgs {
  ids: TaskIds;
  /** The tool the Run is for, as Wiro names it. */
  slug: string;
  input: SeededRunInput;
  /** The Worker's own signed callback URL for this task, sent to Wiro. */
  callbackUrl: string;
  /** The client's webhook, relayed to when the task ends. */
  clientCallbackUrl?: string;
  /** The Worker's public origin. */
  publicOrigin: string;
  /** Who started it: the limiter to release, and the budget line its cost is booked on. */
  client: { key: string; budgetLine: string };
  /** The Run's admission: its running slot in the limiter and its reservation in the budget. */
  ticket: string;
  /** Set for an `Idempotency-Key` Run: repeats with the same inputs get this task. */
  fingerprint?: string;
  /** Wiro's realtime socket to follow the task on; polling alone when absent. */
  socketUrl?: string;
}

/** What the object keeps: the start's settings (less the inputs, which Wiro holds), and the task's life. */
export interface TaskRecord
  extends Pick<StartArgs, 'callbackUrl' | 'clientCallbackUrl' | 'publicOrigin' | 'client' | 'ticket' | 'fingerprint'> {
  /** The client's identifiers for the task. */
  taskid: string;
  token: string;
  /** Wiro's id and token for the task, once Wiro has confirmed the Run. */
  wiro?: { taskid: string; token: string };
  socketUrl?: string | undefined;
  task: WiroTask;
  createdAt: number;
  /** When Wiro was last read; Detail re-reads only when this is old. */
  readAt: number;
  deadlineAt: number;
  polls: number;
  /** When the next poll is due; none once the task has ended on Wiro. */
  pollAt?: number | undefined;
  /** When the alarm is set for. */
  alarmAt?: number | undefined;
  /** Every call this task cost on Wiro, Run included. */
  upstreamCalls: number;
  /** Connection attempts to Wiro's socket so far; it gives up after a few. */
  socketAttempts?: number;
  /** The relay of the final task to the client's own webhook, once the task has ended. */
  webhook?: WebhookState;
  /** When a stop was last sent to Wiro; repeats soon after it are not sent again. */
  stopRequestedAt?: number;
  /** When the Worker stopped waiting (the deadline): the client saw the end, Wiro may not have. */
  stoppedWaitingAt?: number;
  /** The client's running slot is free again. */
  slotReleased?: boolean;
  /** The budget holds the task's real cost (or the reservation, if it never became known). */
  costSettled?: boolean;
}

export interface TaskEvent {
  id: number;
  status: string;
  at: number;
  task: WiroTask;
}

export function failure(error: unknown): Failure {
  if (error instanceof ApiError) return { ok: false, status: error.status, errors: error.errors };
  throw error;
}

export function refusal(status: number, message: string): Failure {
  return { ok: false, status, errors: [{ code: WiroCode.general, message }] };
}

export function notFound(): Failure {
  return { ok: false, status: 404, errors: [{ code: WiroCode.notFound, message: NOT_FOUND_MESSAGE }] };
}

/** A Run whose answer was lost: its error, with the identifiers to follow the task that may run. */
export function lostRun(failed: Failure, record: Pick<TaskRecord, 'taskid' | 'token'>): Failure {
  const hint =
    'The Run may have started: follow it with this taskid, or repeat the request with the same Idempotency-Key';
  return { ...failed, run: 'lost', extra: { taskid: record.taskid, socketaccesstoken: record.token, hint } };
}

/** A task about to be sent to Wiro: queued, with the parameters Wiro will report for it. */
export function newRecord(
  args: StartArgs,
  config: Pick<Config, 'taskDeadlineMs' | 'pollFirstMs'>,
  now: number,
): TaskRecord {
  const ids: ClientIds = { taskid: args.ids.taskid, token: args.ids.token };
  const { input, ids: _ids, ...kept } = args;
  // What Wiro will report as the task's parameters (strings, as Wiro keeps them), the seed drawn
  // for it included, known before Wiro is asked.
  const parameters = Object.fromEntries(
    Object.entries(upstreamRunBody(input, '')).map(([name, value]) => [name, String(value)]),
  );
  const queued = {
    status: 'task_queue',
    pexit: '',
    debugerror: '',
    createtime: String(Math.floor(now / 1000)),
    outputs: [],
    parameters,
  };
  return {
    ...kept,
    ...ids,
    task: toClientTask(queued, ids, args.clientCallbackUrl),
    createdAt: now,
    readAt: now,
    deadlineAt: now + config.taskDeadlineMs,
    polls: 0,
    pollAt: now + pollDelay(0, config.pollFirstMs),
    upstreamCalls: 0,
  };
}

/**
 * The first task's answer to a repeated `Idempotency-Key` Run, a refusal when the repeat is a
 * mistake (other inputs, a stale key, no key), or undefined when there is no task yet.
 */
export function replayOf(record: TaskRecord | undefined, fingerprint: string | undefined, now = Date.now()) {
  if (!record) return undefined;
  if (!fingerprint || !record.fingerprint) return refusal(409, 'This task was already started');
  if (fingerprint !== record.fingerprint) {
    return refusal(422, 'This Idempotency-Key was already used for a Run with other inputs: use a new key');
  }
  if (now - record.createdAt > IDEMPOTENCY_WINDOW_MS) {
    return refusal(409, 'This Idempotency-Key is more than a day old: use a new key');
  }
  const body = { result: true, errors: [], taskid: record.taskid, socketaccesstoken: record.token, replayed: true };
  return { ok: true as const, body };
}
