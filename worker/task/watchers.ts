/**
 * The watchers of one task, and the one place that talks to them: Server-Sent Events streams and
 * hibernatable WebSockets (Wiro's socket protocol; an idle task costs nothing while its sockets
 * wait). A new SSE watcher first gets the history it has not seen (after its `Last-Event-ID`), a
 * new socket the current state; then every event reaches everyone, each encoded once, and every
 * stream and socket ends after the terminal event. While nothing happens a comment line keeps
 * proxies from closing idle streams.
 *
 * A thousand watchers are a thousand writes or sends per fan-out, so there are as few fan-outs as
 * can be: the events of one turn, or of a burst (BATCH_WAIT_MS_PER_WATCHER), go out together,
 * encoded once: one write per stream, and per socket one frame per status (Wiro's protocol), a
 * progress report dropped when a later one follows it. A stream whose reader is behind gets what
 * came meanwhile in one write. Each stream is workerd's own byte stream (`IdentityTransformStream`,
 * no JS between writer and reader), and streams end a moment after the terminal event rather
 * than in the same turn, where closing a thousand would hold up delivering the event itself.
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
/** How long the task's bookkeeping after its end waits for the end to reach the streams. */
const DELIVERY_WAIT_MS = 1000;

type Writer = WritableStreamDefaultWriter<ArrayBuffer | ArrayBufferView>;

/**
 * A reader this far behind is dropped rather than buffered for without end (it reconnects with
 * `Last-Event-ID` and gets the history it missed).
 */
const MAX_QUEUED_BYTES = 1 << 20;

/**
 * How long a status waits for the ones right behind it, per watcher: 10 ms for a thousand, under
 * half of what their fan-out costs the object's one thread (a thousand writes or sends took
 * 20–25 ms here), and nothing for a few. Wiro sends a run's progress and last statuses back to
 * back; sent one by one to a thousand watchers, each kept the thread busy while the next waited
 * (burst to 1,000 SSE watchers, p50: 390 → 115 ms; WebSocket: 1,080 → 390 ms). The end never waits.
 */
const BATCH_WAIT_MS_PER_WATCHER = 0.01;
const MAX_BATCH_WAIT_MS = 50;

/**
 * One SSE watcher. While a write is on its way to the reader, what comes next waits here and goes
 * out as one write when it lands: a slow reader holds up no one but itself.
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

/**
 * The frames for a batch of events, each with the id of its event. A progress report followed
 * by another of the same status is dropped: the later one says all it did.
 */
function framesOf(events: TaskEvent[]): Array<{ id: number; frame: string }> {
  const frames: Array<{ id: number; frame: string }> = [];
  events.forEach((event, index) => {
    if (events[index + 1]?.status === event.status) return;
    frames.push({ id: event.id, frame: JSON.stringify(toSocketMessage(event.task)) });
  });
  return frames;
}

export class Watchers {
  readonly #streams = new Set<Stream>();
  /** Events sent but not yet fanned out, oldest first. */
  #batch: TaskEvent[] = [];
  /** When the batch goes out, once there is one. */
  #fanOutAt: 'end of turn' | 'timer' | undefined;
  #batchTimer: ReturnType<typeof setTimeout> | undefined;
  /** The id of the last event sent: what a watcher that joins now already has. */
  #lastId = 0;
  /**
   * Watchers that joined while a batch waited, with the last event id they already have (from
   * the history, or the current state): the batch gives them only what came after it.
   */
  readonly #joinedMidBatch = new Map<Stream | WebSocket, number>();
  /** The writes of the last fan-out, for `delivered`. */
  #lastWrites: Array<Promise<void> | undefined> = [];
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
      this.sendCurrent(server, task);
      if (ended) server.close(1000, 'task ended');
      return new Response(null, { status: 101, webSocket: client });
    }
    const lastId = Number(request.headers.get('last-event-id') ?? new URL(request.url).searchParams.get('lastEventId'));
    return this.stream(history(Number.isFinite(lastId) ? lastId : 0), ended);
  }

  /** The task's current state, to one socket: on connecting, and whenever it asks (`task_info`). */
  sendCurrent(ws: WebSocket, task: WiroTask): void {
    ws.send(JSON.stringify(toSocketMessage(task)));
    if (this.#batch.length > 0) this.#joinedMidBatch.set(ws, this.#lastId);
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
      if (this.#batch.length > 0) this.#joinedMidBatch.set(stream, history.at(-1)?.id ?? 0);
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
   * Sends one event to everyone; after the terminal event, every stream and socket ends. It goes
   * out with the others of its batch: at the end of the current turn, or for many watchers a
   * moment later (BATCH_WAIT_MS_PER_WATCHER). A watcher that joins meanwhile gets only what it does
   * not have yet.
   */
  send(event: TaskEvent): void {
    this.#batch.push(event);
    this.#lastId = event.id;
    const terminal = isTerminal(event.status);
    if (this.#fanOutAt === 'end of turn' || (this.#fanOutAt === 'timer' && !terminal)) return;
    const wait = terminal ? 0 : Math.min(MAX_BATCH_WAIT_MS, Math.floor(this.size * BATCH_WAIT_MS_PER_WATCHER));
    if (wait > 0) {
      this.#fanOutAt = 'timer';
      this.#batchTimer = setTimeout(() => this.#fanOut(), wait);
    } else {
      this.#fanOutAt = 'end of turn';
      queueMicrotask(() => this.#fanOut());
    }
  }

  /**
   * Resolves once the terminal event just sent has left for every stream, or after a second for
   * a reader that does not read. The caller's bookkeeping waits for it: storage writes and calls
   * to other objects made while the streams' bytes were still leaving held them up.
   */
  async delivered(): Promise<void> {
    if (this.#streams.size === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
    await Promise.race([
      Promise.allSettled(this.#lastWrites),
      new Promise((resolve) => setTimeout(resolve, DELIVERY_WAIT_MS)),
    ]);
  }

  /** The batch, encoded once for everyone: one write per stream, one frame per status per socket. */
  #fanOut(): void {
    const batch = this.#batch;
    this.#batch = [];
    this.#fanOutAt = undefined;
    // The end may come while a batch waits for its timer: it takes the batch with it.
    if (this.#batchTimer !== undefined) clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    if (batch.length === 0) return;
    const ends = batch.some((event) => isTerminal(event.status));
    if (this.#streams.size > 0) {
      const bytes = encoder.encode(batch.map(formatEvent).join(''));
      const writes: Array<Promise<void> | undefined> = [];
      this.#lastWrites = writes;
      for (const stream of this.#streams) {
        const has = this.#joinedMidBatch.get(stream);
        if (has === undefined) {
          writes.push(this.#write(stream, bytes));
        } else {
          const missing = batch.filter((event) => event.id > has);
          if (missing.length > 0) writes.push(this.#write(stream, encoder.encode(missing.map(formatEvent).join(''))));
        }
      }
      if (ends) {
        const ending = [...this.#streams];
        this.#streams.clear();
        setTimeout(() => {
          for (const stream of ending) this.#close(stream);
        }, CLOSE_AFTER_MS);
      }
      this.#stopKeepaliveIfIdle();
    }
    const sockets = this.#ctx.getWebSockets();
    if (sockets.length > 0) {
      const frames = framesOf(batch);
      for (const ws of sockets) {
        const has = this.#joinedMidBatch.get(ws) ?? 0;
        try {
          for (const { id, frame } of frames) if (id > has) ws.send(frame);
          if (ends) ws.close(1000, 'task ended');
        } catch {
          // A socket that is already gone has nothing to miss.
        }
      }
    }
    this.#joinedMidBatch.clear();
  }

  /** Writes now, or after the write in flight with whatever else has come by then. */
  #write(stream: Stream, bytes: Uint8Array): Promise<void> | undefined {
    if (stream.writing) {
      stream.queued.push(bytes);
      stream.queuedBytes += bytes.byteLength;
      if (stream.queuedBytes > MAX_QUEUED_BYTES) this.#drop(stream);
      return undefined;
    }
    stream.writing = true;
    // Not awaited: a slow reader must not hold up the others. A gone reader fails the write.
    return stream.writer.write(bytes).then(
      () => {
        stream.writing = false;
        if (stream.queued.length > 0) this.#write(stream, this.#takeQueued(stream));
      },
      () => this.#drop(stream),
    );
  }

  /** What waits for a stream, as one chunk. */
  #takeQueued(stream: Stream): Uint8Array {
    let bytes = stream.queued[0] ?? new Uint8Array();
    if (stream.queued.length > 1) {
      bytes = new Uint8Array(stream.queuedBytes);
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
