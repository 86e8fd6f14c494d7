/**
 * Wiro's dozen statuses, told in five plain steps (Queued, Starting, Generating, Finishing,
 * Done) with a progress value for the bar: Wiro's own step count while it generates, and an
 * honest estimate around it.
 */
import {
  isCancelled,
  isFailed,
  isTerminal,
  QUEUED_STATUSES,
  STATUSES,
  type Stage,
  type TaskStatus,
  type WiroTask,
} from '../../shared/protocol';

export type { Stage };
/** The stages in order, as the stepper shows them. */
export const STAGES: readonly Stage[] = [...new Set(Object.values(STATUSES))];
/** How a task ended, when it has. */
export type Ending = 'done' | 'failed' | 'cancelled';

/** A status Wiro added after our table is shown, not dropped: in the stage it came after (else as under way). */
export function stageOf(status: string, previous: Stage = 'starting'): Stage {
  return STATUSES[status as TaskStatus] ?? previous;
}

/** A status Wiro added after our table is shown by its own name (no words of ours for it); undefined for a known one. */
export function unknownLabel(status: string): string | undefined {
  return status in STATUSES ? undefined : status;
}

/** Also for a history entry, which keeps a task's status and exit code. */
export function endingOf(task: Pick<WiroTask, 'status' | 'pexit'>): Ending | undefined {
  if (isCancelled(task)) return 'cancelled';
  if (!isTerminal(task.status)) return undefined;
  return isFailed(task) ? 'failed' : 'done';
}

/** Whether stopping it now is Wiro's `Cancel` (queued) or `Kill` (running). */
export function stopKind(status: string): 'Cancel' | 'Kill' {
  return QUEUED_STATUSES.includes(status) ? 'Cancel' : 'Kill';
}

/** 0–100 for the progress bar: the stage's share, with Wiro's step progress inside "Generating". */
export function percentOf(task: WiroTask, stage: Stage): number {
  const reported = task.progress?.percentage;
  if (stage === 'running' && typeof reported === 'number') return Math.round(10 + reported * 0.85);
  return { queued: 2, starting: 6, running: 10, finishing: 95, done: 100 }[stage];
}

/** `m:ss` for a number of seconds. */
export function clock(seconds: number): string {
  const s = seconds > 0 ? Math.floor(seconds) : 0;
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
