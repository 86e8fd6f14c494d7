/**
 * `GET /v1` with `Upgrade: websocket`: Wiro's own realtime socket protocol, so Wiro's socket
 * clients (its SDKs' `socketUrl`) work against the Worker. A client names a task in a message
 * (`{"type":"task_info","tasktoken":"…"}`, the token or the taskid the Worker handed out), and
 * may name several on one connection: each joins the client to that task object's hibernatable
 * socket, and the object's frames are relayed as they come. The connection closes once every task
 * it follows has ended.
 */
import { Hono } from 'hono';
import type { SocketMessage, SocketRequest } from '../../shared/protocol';
import { type Bindings, readConfig } from '../env';
import { ApiError } from '../errors';
import { NOT_FOUND_MESSAGE, objectKeyOf, taskObjectId } from '../task/token';

export const socket = new Hono<{ Bindings: Bindings }>();

/** How long a client may stay silent before naming its first task. */
const FIRST_MESSAGE_MS = 10_000;
const TASK_INFO_HELP = 'send {"type":"task_info","tasktoken":"<the Run\'s socketaccesstoken or taskid>"}';

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
    throw new ApiError(426, `This is the task WebSocket: connect with Upgrade: websocket, then ${TASK_INFO_HELP}`);
  }
  const secret = readConfig(c.env).callbackSecret;
  const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
  server.accept();
  /** The task objects this connection follows, by object key, while their sockets are open. */
  const followed = new Map<string, WebSocket>();
  let ended = 0;
  const timer = setTimeout(() => server.close(1008, 'no task_info'), FIRST_MESSAGE_MS);

  const send = (data: string | ArrayBuffer) => {
    try {
      server.send(data);
    } catch {
      // The client is gone; its close handler lets go of the tasks.
    }
  };
  const refuse = (message: string) => {
    send(refusal(message));
    // A connection that already follows tasks keeps them; one that follows none is done.
    if (followed.size === 0 && ended === 0) server.close(1008, 'refused');
  };

  const follow = async (request: SocketRequest | undefined) => {
    if (!request) return refuse(`Unexpected message: ${TASK_INFO_HELP}`);
    const key = await objectKeyOf(secret, request.tasktoken);
    if (key === undefined) return refuse(NOT_FOUND_MESSAGE);
    const open = followed.get(key);
    if (open) return open.send(JSON.stringify(request));
    const answer = await c.env.TASK.get(taskObjectId(c.env, key)).fetch('https://task/socket', {
      headers: { upgrade: 'websocket' },
    });
    const task = answer.webSocket;
    if (!task) return refuse(NOT_FOUND_MESSAGE);
    task.accept();
    followed.set(key, task);
    task.addEventListener('message', (message) => send(message.data));
    task.addEventListener('close', () => {
      followed.delete(key);
      ended++;
      if (followed.size === 0) server.close(1000, 'task ended');
    });
  };

  let queue = Promise.resolve();
  server.addEventListener('message', (event) => {
    clearTimeout(timer);
    // One at a time, so two quick subscriptions to one task share one join.
    queue = queue.then(() => follow(parseRequest(event.data))).catch(() => refuse('The task could not be opened'));
  });
  server.addEventListener('close', () => {
    clearTimeout(timer);
    for (const task of followed.values()) task.close(1000, 'client left');
  });
  return new Response(null, { status: 101, webSocket: client });
});
