/**
 * `GET /v1` with `Upgrade: websocket`: Wiro's own realtime socket protocol, so Wiro's socket
 * clients work against the Worker. The client names its task only in its first message
 * (`{"type":"task_info","tasktoken":"…"}`), so the Worker accepts the socket, reads that one
 * message, and then joins the client to the task object's hibernatable socket, relaying both ways.
 */
import { Hono } from 'hono';
import type { Bindings } from '../env';
import { ApiError } from '../errors';
import type { SocketMessage, SocketRequest } from '../protocol';
import { taskByToken } from '../task/token';

export const socket = new Hono<{ Bindings: Bindings }>();

/** How long a client may stay silent before naming its task. */
const FIRST_MESSAGE_MS = 10_000;

function refusal(message: string): string {
  return JSON.stringify({ type: 'error', id: '', message, result: false } satisfies SocketMessage);
}

function parseRequest(data: unknown): SocketRequest | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    const value = JSON.parse(data) as Partial<SocketRequest>;
    return value.type === 'task_info' && typeof value.tasktoken === 'string' ? (value as SocketRequest) : undefined;
  } catch {
    return undefined;
  }
}

socket.get('/', async (c) => {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
    throw new ApiError(426, 'This is the task WebSocket: connect with Upgrade: websocket, then send task_info');
  }
  const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
  server.accept();
  const timer = setTimeout(() => server.close(1008, 'no task_info'), FIRST_MESSAGE_MS);
  const join = async (event: MessageEvent) => {
    clearTimeout(timer);
    const request = parseRequest(event.data);
    let upstream: WebSocket | null = null;
    try {
      if (!request) throw new ApiError(400, 'Send {"type":"task_info","tasktoken":"…"} first');
      const answer = await taskByToken(c.env, request.tasktoken).fetch('https://task/socket', {
        headers: { upgrade: 'websocket' },
      });
      upstream = answer.webSocket;
      if (!upstream) throw new ApiError(answer.status, 'Task not found: this token was not issued by this Worker');
    } catch (error) {
      server.send(refusal(error instanceof ApiError ? error.message : 'The task could not be opened'));
      server.close(1008, 'refused');
      return;
    }
    const task = upstream;
    task.accept();
    task.addEventListener('message', (message) => {
      server.send(message.data);
    });
    task.addEventListener('close', (close) => {
      server.close(close.code === 1005 ? 1000 : close.code, close.reason);
    });
    server.addEventListener('message', (message) => {
      task.send(message.data);
    });
    server.addEventListener('close', () => {
      task.close(1000, 'client left');
    });
  };
  server.addEventListener(
    'message',
    (event) => {
      void join(event);
    },
    { once: true },
  );
  return new Response(null, { status: 101, webSocket: client });
});
