/**
 * A task's history in its object's SQLite storage: one row per status change, with increasing
 * ids (the SSE `id:`), so a watcher that reconnects with `Last-Event-ID` gets exactly what it
 * missed. The table is made when a task starts, so an object opened by a made-up id writes nothing.
 */
import type { WiroTask } from '../../shared/protocol';
import type { TaskEvent } from './record';

export class EventLog {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  create(): void {
    this.#sql.exec(
      `CREATE TABLE IF NOT EXISTS events (
         id INTEGER PRIMARY KEY, status TEXT NOT NULL, at INTEGER NOT NULL, task TEXT NOT NULL)`,
    );
  }

  append(task: WiroTask, at = Date.now()): TaskEvent {
    const row = this.#sql
      .exec<{ id: number }>(
        'INSERT INTO events (status, at, task) VALUES (?, ?, ?) RETURNING id',
        task.status,
        at,
        JSON.stringify(task),
      )
      .one();
    return { id: row.id, status: task.status, at, task };
  }

  /** Events after `afterId`, oldest first. */
  after(afterId: number): TaskEvent[] {
    return this.#sql
      .exec<{ id: number; status: string; at: number; task: string }>(
        'SELECT id, status, at, task FROM events WHERE id > ? ORDER BY id',
        afterId,
      )
      .toArray()
      .map((row) => ({ id: row.id, status: row.status, at: row.at, task: JSON.parse(row.task) as WiroTask }));
  }
}
