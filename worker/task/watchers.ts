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

/**
 * A reader this far behind is dropped rather than buffered for without end (it reconnects with
 * `Last-Event-ID` and gets the history it missed).
 */
const MAX_QUEUED_BYTES = 1 << 20;

/**
 * One SSE watcher. While a write is on its way to the reader, what comes next waits here and goes
 * out as one write when it lands: a burst of statuses costs a few writes per stream, not one per
 * status, and a slow reader holds up no one but itself.
 */
interface Stream {
  writer: Writer;
  writing: boolean;
  queued: Uint8Array[];
  queuedBytes: number;
}

export function formatEvent(event: TaskEvent): string {
  return `id: ${event.id}\nevent: ${event.status}\ndata: ${JSON.stringify(event.task)}\n\n`;
}

export class Watchers {
  readonly #streams = new Set<Stream>();
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
    const stream: Stream = { writer: writable.getWriter(), writing: false, queued: [], queuedBytes: 0 };
    let text = `retry: ${RETRY_MS}\n\n`;
    for (const event of history) text += formatEvent(event);
    this.#write(stream, encoder.encode(text));
    if (ended) {
      this.#close(stream);
    } else {
      this.#streams.add(stream);
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

  /**
   * Resolves once the events sent so far have left for the streams: their bytes go out after
   * the current turn, so a timer's tick lets them through before slower work the caller awaits.
   */
  delivered(): Promise<void> {
    if (this.#streams.size === 0) return Promise.resolve();
    return new Promise((resolve) => setTimeout(resolve, 0));
  }

  /** The turn's events, encoded once for everyone, in one write per stream. */
  #flush(): void {
    const bytes = encoder.encode(this.#burst.join(''));
    const ends = this.#burstEnds;
    this.#burst = [];
    this.#burstEnds = false;
    for (const stream of this.#streams) this.#write(stream, bytes);
    if (ends) {
      const ending = [...this.#streams];
      this.#streams.clear();
      setTimeout(() => {
        for (const stream of ending) this.#close(stream);
      }, CLOSE_AFTER_MS);
    }
    this.#stopKeepaliveIfIdle();
  }

  /** Writes now, or after the write in flight with whatever else has come by then. */
  #write(stream: Stream, bytes: Uint8Array): void {
    if (stream.writing) {
      stream.queued.push(bytes);
      stream.queuedBytes += bytes.byteLength;
      if (stream.queuedBytes > MAX_QUEUED_BYTES) this.#drop(stream);
      return;
    }
    stream.writing = true;
    // Not awaited: a slow reader must not hold up the others. A gone reader fails the write.
    stream.writer.write(bytes).then(
      () => {
        stream.writing = false;
        if (stream.queued.length > 0) this.#write(stream, this.#takeQueued(stream));
      },
      () => this.#drop(stream),
    );
  }

  #takeQueued(stream: Stream): Uint8Array {
    const [first, ...rest] = stream.queued;
    const bytes = rest.length === 0 && first ? first : new Uint8Array(stream.queuedBytes);
    if (bytes !== first) {
      let offset = 0;
      for (const chunk of stream.queued) {
        bytes.set(chunk, offset);
        offset += chunk.byteLength;
      }
    }
    stream.queued = [];
    stream.queuedBytes = 0;
    return bytes;
  }

  /** Ends a stream once everything written to it has gone out. */
  #close(stream: Stream): void {
    if (stream.queued.length > 0) stream.writer.write(this.#takeQueued(stream)).catch(() => {});
    stream.writer.close().catch(() => {});
  }

  #drop(stream: Stream): void {
    stream.queued = [];
    stream.queuedBytes = 0;
    stream.writer.abort().catch(() => {});
    this.#streams.delete(stream);
    this.#stopKeepaliveIfIdle();
  }

  #startKeepalive(): void {
    this.#keepalive ??= setInterval(() => {
      for (const stream of this.#streams) this.#write(stream, KEEPALIVE);
    }, KEEPALIVE_MS);
  }

  #stopKeepaliveIfIdle(): void {
    if (this.#streams.size === 0 && this.#keepalive !== undefined) {
      clearInterval(this.#keepalive);
      this.#keepalive = undefined;
    }
  }
}
