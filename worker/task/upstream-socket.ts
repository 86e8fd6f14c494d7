/**
 * The task object's line to Wiro's realtime socket: `UpstreamSocket` subscribes with Wiro's token
 * for the task (`task_info`) and hands every message on; `UpstreamFollower` owns that
 * subscription for the object (how often to try, what a message means) and tells the object only
 * what it learned, so statuses and step progress arrive as they happen instead of at the next
 * poll. Any failure just closes the line; the object's polling carries on without it.
 */
import { isTerminal, rankOf, type SocketMessage, type WiroTask } from '../../shared/protocol';
import type { TaskRecord } from './record';
import { parseProgress } from './state';

const CONNECT_TIMEOUT_MS = 5000;

export class UpstreamSocket {
  #socket: WebSocket | undefined;
  /** When the last message came; polling stays quiet while the socket is lively. */
  lastMessageAt = 0;

  get connected(): boolean {
    return this.#socket !== undefined;
  }

  /** Connects and subscribes; resolves false when Wiro's socket cannot be reached. */
  async open(url: string, upstreamToken: string, onMessage: (message: SocketMessage) => void): Promise<boolean> {
    if (this.#socket) return true;
    let socket: WebSocket | null;
    // A timeout signal would stay tied to the upgraded socket and cut it when it fires, so the
    // connect timeout is a timer that is cleared once the upgrade has answered.
    const connecting = new AbortController();
    const timer = setTimeout(() => connecting.abort(), CONNECT_TIMEOUT_MS);
    try {
      const response = await fetch(url.replace(/^ws/, 'http'), {
        headers: { upgrade: 'websocket' },
        signal: connecting.signal,
      });
      socket = response.webSocket;
      if (!socket) {
        await response.body?.cancel();
        return false;
      }
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
    socket.accept();
    this.#socket = socket;
    const forget = () => {
      if (this.#socket === socket) this.#socket = undefined;
    };
    socket.addEventListener('message', (event) => {
      this.lastMessageAt = Date.now();
      const message = parse(event.data);
      if (message) onMessage(message);
    });
    socket.addEventListener('close', forget);
    socket.addEventListener('error', forget);
    socket.send(JSON.stringify({ type: 'task_info', tasktoken: upstreamToken }));
    return true;
  }

  close(): void {
    try {
      this.#socket?.close(1000, 'done');
    } catch {
      // Already closed.
    }
    this.#socket = undefined;
  }
}

/** A poll is skipped when Wiro's socket spoke more recently than this. */
const SOCKET_QUIET_MS = 15_000;
/** Connections tried per task before it is left to polling alone. */
const SOCKET_ATTEMPTS = 3;

/** What the follower needs from its task object. */
export interface FollowerHost {
  record(): TaskRecord | undefined;
  save(): void;
  /** The socket said where the task is (a running status, progress): taken as it comes. */
  moved(task: WiroTask): Promise<void>;
  /** The socket said the task ended: to be confirmed with Detail, which brings outputs and exit code. */
  ended(): Promise<void>;
  log(what: string, error: unknown): void;
}

export class UpstreamFollower {
  readonly #socket = new UpstreamSocket();
  readonly #host: FollowerHost;
  /** Messages are handled one at a time, in order. */
  #queue: Promise<void> = Promise.resolve();

  constructor(host: FollowerHost) {
    this.#host = host;
  }

  /** The socket spoke recently: a poll would only repeat what it said. */
  lively(now: number): boolean {
    return this.#socket.connected && now - this.#socket.lastMessageAt < SOCKET_QUIET_MS;
  }

  close(): void {
    this.#socket.close();
  }

  /** Follows the task on Wiro's socket, when there is one, it is not connected, and tries are left. */
  async follow(): Promise<void> {
    const record = this.#host.record();
    if (!record?.socketUrl || !record.wiro || isTerminal(record.task.status) || this.#socket.connected) return;
    if ((record.socketAttempts ?? 0) >= SOCKET_ATTEMPTS) return;
    record.socketAttempts = (record.socketAttempts ?? 0) + 1;
    this.#host.save();
    const opened = await this.#socket.open(record.socketUrl, record.wiro.token, (message) => {
      this.#queue = this.#queue.then(() => this.#onMessage(message));
    });
    if (!opened) this.#host.log('Wiro socket unavailable; polling', `attempt ${record.socketAttempts}`);
  }

  /**
   * A frame from Wiro's socket. Running statuses and progress are taken as they come (the socket
   * is Wiro's, reached with Wiro's token for this task, which only the object holds); an ending
   * is confirmed with Detail. `task_error` on the socket is a line of stderr, not a status: it
   * changes nothing.
   */
  async #onMessage(message: SocketMessage): Promise<void> {
    const record = this.#host.record();
    if (!record || isTerminal(record.task.status) || message.type === 'task_error') return;
    try {
      if (message.type === 'error') {
        this.close();
      } else if (isTerminal(message.type)) {
        this.close();
        await this.#host.ended();
      } else if (rankOf(message.type) !== undefined) {
        // Wiro just told us where the task is: Detail can answer from here without asking again.
        record.readAt = Date.now();
        const next: WiroTask = { ...record.task, status: message.type };
        const progress = parseProgress(message.message);
        if (progress) next.progress = progress;
        else if (typeof message.message === 'string' && message.message) next.debugoutput = message.message;
        await this.#host.moved(next);
      }
    } catch (error) {
      this.#host.log('socket message failed', error);
    }
  }
}

function parse(data: unknown): SocketMessage | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    const message = JSON.parse(data) as Partial<SocketMessage>;
    return typeof message.type === 'string' ? (message as SocketMessage) : undefined;
  } catch {
    return undefined;
  }
}
