/**
 * The watchers of one task, and the one place that talks to them: Server-Sent Events streams and
 * hibernatable WebSockets (Wiro's socket protocol; an idle task costs nothing while its sockets
 * wait). A new SSE watcher first gets the history it has not seen (after its `Last-Event-ID`), a
 * new socket the current state; then every event reaches everyone, each encoded once, and every
 * stream and socket ends after the terminal event. While nothing happens a comment line keeps
 * proxies from closing idle streams.
 *
 * SSE is kept as cheap per watcher as a socket send, because a thousand watchers are a thousand
 * writes per event: each stream is workerd's own byte stream (`IdentityTransformStream`, no JS
 * between writer and reader); the events of one turn go out as one write per stream; and the
 * streams end a moment after the terminal event rather than in the same turn, where closing a
 * thousand streams would hold up delivering the event itself.
 */
import { isTerminal, toSocketMessage, type WiroTask } from '../../shared/protocol';
import type { TaskEvent } from './record';

const KEEPALIVE_MS = 15_000;
/** Tells EventSource how long to wait before reconnecting after a drop. */
const RETRY_MS = 2000;
const encoder = new TextEncoder();
const KEEPALIVE = encoder.encode(': keep-alive\n\n');
/**
 * How long the streams stay open after the terminal event. Its bytes are already written, so a
 * watcher reads it at once; the stream then ends. The open streams keep the object alive meanwhile.
 */
const CLOSE_AFTER_MS = 1000;

type Writer = WritableStreamDefaultWriter<ArrayBuffer | ArrayBufferView>;

export function formatEvent(event: TaskEvent): string {
  return `id: ${event.id}\nevent: ${event.status}\ndata: ${JSON.stringify(event.task)}\n\n`;
}

export class Watchers {
  readonly #streams = new Set<Writer>();
  /** The events sent this turn, written to every stream as one chunk when the turn is over. */
  #burst: string[] = [];
  /** The burst holds the terminal event: the streams end after it. */
  #burstEnds = false;
  #keepalive: ReturnType<typeof setInterval> | undefined;
  readonly #ctx: DurableObjectState;

  constructor(ctx: DurableObjectState) {
    this.#ctx = ctx;
  }

  get size(): number {
    return this.#streams.size + this.#ctx.getWebSockets().length;
  }

  /**
   * A new watcher: a WebSocket (`Upgrade: websocket`) that gets the task's current frame, or an
   * SSE stream that replays what came after its `Last-Event-ID` (`history` reads it).
   */
  open(request: Request, task: WiroTask, history: (afterId: number) => TaskEvent[]): Response {
    const ended = isTerminal(task.status);
    if (request.headers.get('upgrade')?.toLowerCase() === 'websocket') {
      const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
      this.#ctx.acceptWebSocket(server);
      server.send(JSON.stringify(toSocketMessage(task)));
      if (ended) server.close(1000, 'task ended');
      return new Response(null, { status: 101, webSocket: client });
    }
    const lastId = Number(request.headers.get('last-event-id') ?? new URL(request.url).searchParams.get('lastEventId'));
    return this.stream(history(Number.isFinite(lastId) ? lastId : 0), ended);
  }

  /** Opens a stream that replays `history`; it closes at once if the task has already ended. */
  stream(history: TaskEvent[], ended: boolean): Response {
    const { readable, writable } = new IdentityTransformStream();
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

  /**
   * Sends one event to everyone; after the terminal event, every stream and socket ends. Streams
   * get it when the current turn is over, with whatever else this turn sends. No new stream can
   * open before then (a request is a new task, and the turn's microtasks run first), so none
   * gets an event twice, once from the history and once from the burst.
   */
  send(event: TaskEvent): void {
    const terminal = isTerminal(event.status);
    if (this.#streams.size > 0) {
      if (this.#burst.length === 0) queueMicrotask(() => this.#flush());
      this.#burst.push(formatEvent(event));
      this.#burstEnds ||= terminal;
    }
    const sockets = this.#ctx.getWebSockets();
    if (sockets.length === 0) return;
    const frame = JSON.stringify(toSocketMessage(event.task));
    for (const ws of sockets) {
      try {
        ws.send(frame);
        if (terminal) ws.close(1000, 'task ended');
      } catch {
        // A socket that is already gone has nothing to miss.
      }
    }
  }

  /** The turn's events, encoded once for everyone, in one write per stream. */
  #flush(): void {
    const bytes = encoder.encode(this.#burst.join(''));
    const ends = this.#burstEnds;
    this.#burst = [];
    this.#burstEnds = false;
    for (const writer of this.#streams) this.#write(writer, bytes);
    if (ends) {
      const ending = [...this.#streams];
      this.#streams.clear();
      setTimeout(() => {
        for (const writer of ending) writer.close().catch(() => {});
      }, CLOSE_AFTER_MS);
    }
    this.#stopKeepaliveIfIdle();
  }

  #write(writer: Writer, bytes: Uint8Array): void {
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
