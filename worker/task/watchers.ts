/**
 * The watchers of one task: every open Server-Sent Events stream. A new watcher first gets the
 * history it has not seen (after its `Last-Event-ID`), then every event as it happens; all
 * streams end after the terminal event. While nothing happens a comment line keeps proxies
 * from closing idle streams.
 */
import type { TaskEvent } from './task-object';

const KEEPALIVE_MS = 15_000;
/** Tells EventSource how long to wait before reconnecting after a drop. */
const RETRY_MS = 2000;
const encoder = new TextEncoder();
const KEEPALIVE = encoder.encode(': keep-alive\n\n');

export function formatEvent(event: TaskEvent): string {
  return `id: ${event.id}\nevent: ${event.status}\ndata: ${JSON.stringify(event.task)}\n\n`;
}

export class Watchers {
  readonly #streams = new Set<WritableStreamDefaultWriter<Uint8Array>>();
  #keepalive: ReturnType<typeof setInterval> | undefined;

  get size(): number {
    return this.#streams.size;
  }

  /** Opens a stream that replays `history`; it closes at once if the task has already ended. */
  stream(history: TaskEvent[], ended: boolean): Response {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    let text = `retry: ${RETRY_MS}\n\n`;
    for (const event of history) text += formatEvent(event);
    this.#write(writer, encoder.encode(text));
    if (ended) {
      writer.close().catch(() => {});
    } else {
      this.#streams.add(writer);
      this.#startKeepalive();
    }
    return new Response(readable, {
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
      },
    });
  }

  /** Sends one event to everyone; after the terminal event, closes every stream. */
  send(event: TaskEvent, terminal: boolean): void {
    // Encoded once for everyone: with a thousand watchers the copies add up.
    const bytes = encoder.encode(formatEvent(event));
    for (const writer of this.#streams) {
      this.#write(writer, bytes);
      if (terminal) writer.close().catch(() => {});
    }
    if (terminal) this.#streams.clear();
    this.#stopKeepaliveIfIdle();
  }

  #write(writer: WritableStreamDefaultWriter<Uint8Array>, bytes: Uint8Array): void {
    // Not awaited: a slow reader must not hold up the others. A gone reader fails the write.
    writer.write(bytes).catch(() => {
      this.#streams.delete(writer);
      this.#stopKeepaliveIfIdle();
    });
  }

  #startKeepalive(): void {
    this.#keepalive ??= setInterval(() => {
      for (const writer of this.#streams) this.#write(writer, KEEPALIVE);
    }, KEEPALIVE_MS);
  }

  #stopKeepaliveIfIdle(): void {
    if (this.#streams.size === 0 && this.#keepalive !== undefined) {
      clearInterval(this.#keepalive);
      this.#keepalive = undefined;
    }
  }
}
