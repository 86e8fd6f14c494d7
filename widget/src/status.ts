/**
 * Wiro's dozen statuses, told in five plain steps (Queued, Starting, Generating, Finishing,
 * Done) with a progress value for the bar: Wiro's own step count while it generates, and an
 * honest estimate around it.
 */
import { isFailed, QUEUED_STATUSES, type WiroTask } from '../../worker/protocol';

export const STAGES = ['queued', 'starting', 'running', 'finishing', 'done'] as const;
export type Stage = (typeof STAGES)[number];
/** How a task ended, when it has. */
export type Ending = 'done' | 'failed' | 'cancelled';

const STAGE_OF: Record<string, Stage> = {
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
};

export function stageOf(status: string): Stage {
  return QUEUED_STATUSES.includes(status) ? 'queued' : (STAGE_OF[status] ?? 'starting');
}

/** Also for a history entry, which keeps a task's status and exit code. */
export function endingOf(task: Pick<WiroTask, 'status' | 'pexit'>): Ending | undefined {
  if (task.status === 'task_cancel') return 'cancelled';
  if (task.status !== 'task_postprocess_end') return undefined;
  return isFailed(task) ? 'failed' : 'done';
}

/** Whether stopping it now is Wiro's `Cancel` (queued) or `Kill` (running). */
export function stopKind(status: string): 'Cancel' | 'Kill' {
  return QUEUED_STATUSES.includes(status) ? 'Cancel' : 'Kill';
}

/** 0–100 for the progress bar: the stage's share, with Wiro's step progress inside "Generating". */
export function percentOf(task: WiroTask): number {
  const stage = stageOf(task.status);
  if (stage === 'done') return 100;
  if (stage === 'finishing') return 95;
  const reported = task.progress?.percentage;
  if (stage === 'running' && typeof reported === 'number') return Math.round(10 + reported * 0.85);
  return { queued: 2, starting: 6, running: 10 }[stage];
}

/** `m:ss` for a number of seconds. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
