/**
 * The task object's line to Wiro's realtime socket: it subscribes with Wiro's token for the
 * task (`task_info`) and hands every message to the object, so statuses and step progress
 * arrive as they happen instead of at the next poll. Any failure just closes the line; the
 * object's polling carries on without it.
 */
import type { SocketMessage } from '../../shared/protocol';

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

function parse(data: unknown): SocketMessage | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    const message = JSON.parse(data) as Partial<SocketMessage>;
    return typeof message.type === 'string' ? (message as SocketMessage) : undefined;
  } catch {
    return undefined;
  }
}
