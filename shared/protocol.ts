/**
 * The wire protocol shared by the Worker, the widget and the client: Wiro's task shape, its statuses, and
 * the events the task stream sends. Types and tiny pure helpers only, so every side imports it
 * without pulling in another's code.
 */

/**
 * Wiro's statuses, in Wiro's order, each with the stage a person is shown: the one table every
 * other list of statuses is derived from. The first three are queued (Wiro's `Task/Cancel` works
 * only in them; later ones need `Task/Kill`); the last two end the task. Kept flat and small on
 * purpose: the widget bundles it.
 */
export const STATUSES = {
  task_queue: 'queued',
  task_accept: 'queued',
  task_assign: 'queued',
  task_preprocess_start: 'starting',
  task_preprocess_end: 'starting',
  task_start: 'starting',
  task_output: 'running',
  task_error: 'running',
  task_output_full: 'running',
  task_error_full: 'running',
  task_end: 'finishing',
  task_postprocess_start: 'finishing',
  task_postprocess_end: 'done',
  task_cancel: 'done',
} as const;

/** The five plain steps a status is shown as, in order. */
export type Stage = (typeof STATUSES)[TaskStatus];

export const STATUS_ORDER = Object.keys(STATUSES) as TaskStatus[];

export type TaskStatus = keyof typeof STATUSES;
export type TerminalStatus = 'task_postprocess_end' | 'task_cancel';
export type RunningStatus = Exclude<TaskStatus, TerminalStatus>;

/** Statuses a task passes through while it is alive, in Wiro's order. */
export const RUNNING_STATUSES = STATUS_ORDER.slice(0, -2) as readonly RunningStatus[];
/** Statuses after which nothing changes: polling and streaming stop. */
export const TERMINAL_STATUSES = STATUS_ORDER.slice(-2) as readonly TerminalStatus[];
/** Queued statuses: Wiro's `Task/Cancel` works only in these; later ones need `Task/Kill`. */
export const QUEUED_STATUSES: readonly string[] = STATUS_ORDER.slice(0, 3);

/** Statuses that share the rank of the one before them: stderr lines beside stdout, the other ending. */
const SHARES_RANK: readonly string[] = ['task_error', 'task_error_full', 'task_cancel'];

/** A status's place in Wiro's order, or undefined for a status Wiro added after this list. */
export function rankOf(status: string): number | undefined {
  let rank = -1;
  for (const known of STATUS_ORDER) {
    if (!SHARES_RANK.includes(known)) rank++;
    if (known === status) return rank;
  }
  return undefined;
}

export interface WiroOutput {
  id?: string;
  name: string;
  contenttype: string;
  size: string;
  url: string;
  [field: string]: unknown;
}

/** A task in Wiro's shape: every value a string, as Wiro sends it. */
export interface WiroTask {
  id: string;
  socketaccesstoken: string;
  status: string;
  pexit?: string;
  debugerror?: string;
  debugoutput?: string;
  outputs: WiroOutput[];
  createtime?: string;
  starttime?: string;
  endtime?: string;
  elapsedseconds?: string;
  totalcost?: string;
  /** Worker addition: the latest step progress Wiro reported, when it did. */
  progress?: Progress;
  [field: string]: unknown;
}

/** Step progress as Wiro's realtime socket reports it (`progressGenerate`). */
export interface Progress {
  percentage: number;
  stepCurrent?: number;
  stepTotal?: number;
  remainingTime?: string;
}

/** Wiro's envelope around every answer. */
export interface WiroEnvelope {
  result: boolean;
  errors: WiroErrorItem[];
  [field: string]: unknown;
}

export interface WiroErrorItem {
  code: number;
  message: string;
  /** Worker addition: the input field the error is about, for forms. */
  field?: string;
}

export interface RunAnswer extends WiroEnvelope {
  taskid: string;
  socketaccesstoken: string;
}

/**
 * When the Worker gives up waiting for Wiro it ends the task the way Wiro ends a failed one
 * (`task_postprocess_end` with a non-zero `pexit`), so every existing Wiro client stops
 * polling and shows `debugerror`. This `pexit` tells that case apart from Wiro's own exits.
 */
export const TIMEOUT_PEXIT = '-1';

/**
 * Wiro's `Task/Detail` reports a task that died before it ran as `task_error`, and it never
 * changes again. Wiro's MCP client stops there but its React Native SDK does not, so the Worker
 * ends such a task the one way every client stops at: `task_postprocess_end`, with this `pexit`
 * when Wiro gave none, and Wiro's `debugerror`.
 */
export const FATAL_STATUS = 'task_error';
export const FATAL_PEXIT = '1';

export function isTerminal(status: string): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

/** A task stopped by `Task/Cancel` or `Task/Kill` ends in this status, its other ending. */
export function isCancelled(task: Pick<WiroTask, 'status'>): boolean {
  return task.status === 'task_cancel';
}

/** A finished task failed when its process exited non-zero (or the Worker gave up on it). */
export function isFailed(task: Pick<WiroTask, 'status' | 'pexit'>): boolean {
  return task.status === 'task_postprocess_end' && task.pexit !== undefined && task.pexit !== '0';
}

/** What a client sends on Wiro's realtime socket (and on the Worker's `/v1` WebSocket). */
export interface SocketRequest {
  type: 'task_info';
  tasktoken: string;
}

/**
 * What Wiro's realtime socket sends for each status. `message` is null on lifecycle frames; it
 * carries the progress on `task_output`, a log line on `task_error` (on the socket an interim
 * stderr line, never an ending) and the `_full` statuses, and the outputs (or the error) on
 * `task_postprocess_end`.
 */
export interface SocketMessage {
  type: string;
  id: string;
  tasktoken?: string;
  message: unknown;
  result: boolean;
  success?: boolean;
  terminal?: boolean;
  exitCode?: string;
}

/** The socket frame for a task's current state, in Wiro's own shape. */
export function toSocketMessage(task: WiroTask): SocketMessage {
  const terminal = isTerminal(task.status);
  const failed = isFailed(task);
  let message: unknown = null;
  if (task.status === 'task_output' && task.progress) message = { type: 'progressGenerate', ...task.progress };
  else if (task.status === 'task_output_full') message = task.debugoutput ?? '';
  else if (task.status === 'task_error_full') message = task.debugerror ?? '';
  else if (task.status === 'task_postprocess_end') message = failed ? (task.debugerror ?? '') : task.outputs;
  return {
    type: task.status,
    id: task.id,
    tasktoken: task.socketaccesstoken,
    message,
    result: !failed,
    success: !failed,
    terminal,
    ...(terminal && task.pexit !== undefined ? { exitCode: task.pexit } : {}),
  };
}
