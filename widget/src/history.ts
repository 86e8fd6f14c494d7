/**
 * One of this browser's generations, as stored in `localStorage` (controllers/history.ts keeps
 * them): the task's token, so a task still running when the page reloads is picked up again, and
 * its inputs, so "use these settings again" works from history.
 */
import type { WiroOutput } from '../../shared/protocol';

export interface HistoryEntry {
  taskid: string;
  /** The task's capability token: reads, streams and stops this task. */
  token: string;
  status: string;
  pexit?: string;
  debugerror?: string;
  /** The inputs the Run was sent with. */
  inputs: Record<string, unknown>;
  outputs: Pick<WiroOutput, 'name' | 'url'>[];
  /** ms since the epoch. */
  createdAt: number;
}

export const STORAGE_PREFIX = 'wiro-flux:';

/** A stored value that is an entry (storage may hold anything: an older version's, a page's). */
export function isEntry(value: unknown): value is HistoryEntry {
  const entry = value as HistoryEntry | null;
  return (
    typeof entry?.taskid === 'string' &&
    typeof entry.token === 'string' &&
    typeof entry.status === 'string' &&
    Array.isArray(entry.outputs)
  );
}
