/**
 * This browser's generations for one widget, as a controller: kept in `localStorage` under
 * `wiro-flux:history:<name>` (the name is the endpoint unless the page gives the widget a
 * `history-key`), which entry the gallery shows, and each task's life written into its entry:
 * started with its inputs, then its status, and how it ended. An entry keeps the task's token,
 * so a task still running when the page reloads is picked up again, and its inputs, so "use
 * these settings again" works from history. Storage that throws (private modes, sandboxed
 * frames) only means no history.
 *
 * @example
 *   history = new HistoryController(this);
 *   history.use('https://YOUR-WORKER');
 *   history.started(task, body, Date.now());
 */
import type { ReactiveControllerHost } from 'lit';
import type { WiroTask } from '../../../shared/protocol';
import { type HistoryEntry, isEntry, STORAGE_PREFIX } from '../history';

/** Entries kept, newest first. */
const LIMIT = 24;

export class HistoryController {
  /** Newest first. */
  entries: HistoryEntry[] = [];
  /** The entry the gallery shows instead of the current task's, when the user picked one. */
  shownId: string | undefined;
  #key = '';
  readonly #host: ReactiveControllerHost;

  constructor(host: ReactiveControllerHost) {
    this.#host = host;
  }

  /** Reads the history kept under this name. */
  use(name: string): void {
    this.#key = `${STORAGE_PREFIX}history:${name}`;
    this.#set(this.#read());
  }

  find(taskid: string | undefined): HistoryEntry | undefined {
    return this.entries.find((entry) => entry.taskid === taskid);
  }

  /** A Run was accepted: its entry, with what it was sent. */
  started(task: WiroTask, inputs: Record<string, unknown>, createdAt: number): void {
    const { id: taskid, socketaccesstoken: token, status } = task;
    this.#put({ taskid, token, status, inputs, outputs: [], createdAt });
  }

  /** A newer state of a task: its entry keeps the status, and once it ended, its outputs and exit. */
  update(task: WiroTask): void {
    const entry = this.find(task.id);
    if (!entry || entry.status === task.status) return;
    const { status, pexit, debugerror, outputs } = task;
    // Stored as JSON, which leaves out the ones that are undefined (all but status, until it ends).
    this.#put({ ...entry, status, pexit, debugerror, outputs: outputs.map(({ name, url }) => ({ name, url })) });
  }

  /** Forgets one task (the Worker no longer knows it). */
  remove(taskid: string): void {
    this.#write(this.#read().filter((entry) => entry.taskid !== taskid));
  }

  clear(): void {
    try {
      localStorage.removeItem(this.#key);
    } catch {
      // Nothing stored, nothing to clear.
    }
    this.shownId = undefined;
    this.#set([]);
  }

  /** Adds the entry, or replaces the one of its task; read afresh, as another widget may share the key. */
  #put(entry: HistoryEntry): void {
    const rest = this.#read().filter((old) => old.taskid !== entry.taskid || old.token !== entry.token);
    this.#write([entry, ...rest].sort((a, b) => b.createdAt - a.createdAt).slice(0, LIMIT));
  }

  #read(): HistoryEntry[] {
    try {
      const stored: unknown = JSON.parse(localStorage.getItem(this.#key) ?? '[]');
      return Array.isArray(stored) ? stored.filter(isEntry) : [];
    } catch {
      return [];
    }
  }

  #write(entries: HistoryEntry[]): void {
    try {
      localStorage.setItem(this.#key, JSON.stringify(entries));
    } catch {
      // Full or forbidden: the widget works without history.
    }
    this.#set(entries);
  }

  #set(entries: HistoryEntry[]): void {
    this.entries = entries;
    this.#host.requestUpdate();
  }
}
