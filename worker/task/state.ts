/**
 * The task's state machine, as pure functions: which upstream snapshot moves a task forward,
 * and how Wiro's task becomes the task a client sees. Transitions never go backwards and never
 * leave a terminal status, so replays, late polls and repeated callbacks are harmless.
 */
import {
  FATAL_PEXIT,
  FATAL_STATUS,
  isTerminal,
  type Progress,
  rankOf,
  TIMEOUT_PEXIT,
  type WiroTask,
} from '../../shared/protocol';

/**
 * Whether `next` (a fresh upstream read) should replace `current`. Unknown statuses are taken at
 * the current rank, so a status Wiro adds one day shows up instead of stalling the task.
 */
export function shouldApply(current: WiroTask, next: WiroTask): boolean {
  if (isTerminal(current.status)) return false;
  const from = rankOf(current.status) ?? 0;
  const to = rankOf(next.status) ?? from;
  if (to < from) return false;
  return (
    next.status !== current.status ||
    next.progress?.percentage !== current.progress?.percentage ||
    next.outputs.length !== current.outputs.length ||
    next.debugerror !== current.debugerror
  );
}

/** Reads Wiro's progress, which arrives as an object or a JSON string (`progressGenerate`). */
export function parseProgress(raw: unknown): Progress | undefined {
  let value = raw;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const percentage = Number(record.percentage);
  if (!Number.isFinite(percentage)) return undefined;
  const progress: Progress = { percentage: Math.max(0, Math.min(100, percentage)) };
  const stepCurrent = Number(record.stepCurrent);
  const stepTotal = Number(record.stepTotal);
  if (Number.isFinite(stepCurrent)) progress.stepCurrent = stepCurrent;
  if (Number.isFinite(stepTotal)) progress.stepTotal = stepTotal;
  if (typeof record.remainingTime === 'string') progress.remainingTime = record.remainingTime;
  return progress;
}

/** The identifiers a client knows the task by: the Worker's own, never Wiro's. */
export interface ClientIds {
  taskid: string;
  token: string;
}

/**
 * Wiro's task (a `Task/Detail` read) as the client sees it: the Worker's id and token instead of
 * Wiro's, no trace of the Worker's signed callback URL (it would let anyone poke the task
 * object), and a fatal `task_error` (Detail's status for a task that died before it ran, which
 * never changes again) ended as a failure every Wiro client stops at.
 */
export function toClientTask(upstream: Record<string, unknown>, ids: ClientIds, clientCallbackUrl = ''): WiroTask {
  const { callbackurl: _ignored, progress, parameters, ...rest } = upstream;
  const task: WiroTask = {
    ...withoutAccountFields(rest),
    id: ids.taskid,
    status: String(upstream.status ?? 'task_queue'),
    socketaccesstoken: ids.token,
    callbackurl: clientCallbackUrl,
    outputs: Array.isArray(upstream.outputs) ? (upstream.outputs.map(withoutAccountFields) as WiroTask['outputs']) : [],
  };
  if (typeof parameters === 'object' && parameters !== null) {
    const { callbackUrl: _callback, ...inputs } = parameters as Record<string, unknown>;
    task.parameters = inputs;
  }
  if (task.status === FATAL_STATUS) {
    task.status = 'task_postprocess_end';
    task.pexit = task.pexit && task.pexit !== '0' ? task.pexit : FATAL_PEXIT;
    task.debugerror = task.debugerror || 'Wiro could not start this task';
    task.outputs = [];
  }
  const parsed = parseProgress(progress);
  if (parsed) task.progress = parsed;
  else if (task.status === 'task_postprocess_end' || task.status === 'task_end') task.progress = { percentage: 100 };
  return task;
}

/**
 * Fields of Wiro's task and outputs that name the owner's Wiro account, project and files' keys:
 * anyone holding a task's token would read them, and no Wiro client uses them.
 */
const ACCOUNT_FIELDS = ['uuid', 'guestid', 'projectid', 'accesskey', 'parentid'];

function withoutAccountFields(fields: Record<string, unknown>): Record<string, unknown> {
  const kept = { ...fields };
  for (const name of ACCOUNT_FIELDS) delete kept[name];
  return kept;
}

/** The task as it ends when the Worker gives up waiting for Wiro. */
export function timedOut(task: WiroTask, waitedMs: number): WiroTask {
  const minutes = Math.round(waitedMs / 60_000);
  return {
    ...task,
    status: 'task_postprocess_end',
    pexit: TIMEOUT_PEXIT,
    debugerror: `Wiro did not finish this task within ${minutes} minute${minutes === 1 ? '' : 's'}, so the Worker stopped it and stopped waiting.`,
    endtime: String(Math.floor(Date.now() / 1000)),
  };
}
