/**
 * This browser's generations, in `localStorage` under `wiro-flux:history:<name>` (the name is
 * the endpoint unless the page gives the widget a `history-key`). An entry keeps the task's
 * token, so a task still running when the page reloads is picked up again, and its inputs, so
 * "use these settings again" works from history. Storage that throws (private modes, sandboxed
 * frames) only means no history.
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
const LIMIT = 24;

export class HistoryStore {
  readonly key: string;

  constructor(name: string) {
    this.key = `${STORAGE_PREFIX}history:${name}`;
  }

  /** Newest first. */
  list(): HistoryEntry[] {
    try {
      const parsed: unknown = JSON.parse(localStorage.getItem(this.key) ?? '[]');
      return Array.isArray(parsed) ? parsed.filter(isEntry) : [];
    } catch {
      return [];
    }
  }

  /** Adds the entry, or updates the one with its taskid; returns the new list. */
  put(entry: HistoryEntry): HistoryEntry[] {
    const rest = this.list().filter((old) => old.taskid !== entry.taskid || old.token !== entry.token);
    const list = [entry, ...rest].sort((a, b) => b.createdAt - a.createdAt).slice(0, LIMIT);
    this.#write(list);
    return list;
  }

  /** Forgets one task; returns the new list. */
  remove(taskid: string): HistoryEntry[] {
    const list = this.list().filter((entry) => entry.taskid !== taskid);
    this.#write(list);
    return list;
  }

  clear(): void {
    try {
      localStorage.removeItem(this.key);
    } catch {
      // nothing stored, nothing to clear
    }
  }

  #write(list: HistoryEntry[]): void {
    try {
      localStorage.setItem(this.key, JSON.stringify(list));
    } catch {
      // Full or forbidden: the widget works without history.
    }
  }
}

function isEntry(value: unknown): value is HistoryEntry {
  const entry = value as HistoryEntry | null;
  return (
    typeof entry?.taskid === 'string' &&
    typeof entry.token === 'string' &&
    typeof entry.status === 'string' &&
    Array.isArray(entry.outputs)
  );
}
