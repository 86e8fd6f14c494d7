/**
 * The benchmark's clients: calls through the Worker (as a browser or server would make them),
 * the same calls signed and sent straight to the emulator (as Wiro's own clients make them), and
 * the two kinds of task watchers, Server-Sent Events and Wiro's WebSocket protocol. Watchers
 * timestamp what they receive with `Date.now()`, the clock the in-process emulator uses too.
 */
import http from 'node:http';
import NodeWebSocket from 'ws';
import { authHeaders, TERMINAL_STATUSES } from '../emulator/emulator.ts';
import { BENCH_KEY, BENCH_SECRET } from './servers.ts';

/** A small, valid Run: 256×256 keeps the emulator's PNG work negligible. */
export const RUN_BODY = {
  prompt: 'wp4p, bench: a lion under a starry sky',
  selectedLoraModel: '1328',
  steps: 20,
  width: 256,
  height: 256,
  samples: 1,
};

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  /** The `Server-Timing` header, when the answer had one (the Worker's Run does). */
  timing?: string;
}

async function answerOf(response: Response): Promise<Answer> {
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { result: false, raw: text.slice(0, 200) };
  }
  const timing = response.headers.get('server-timing');
  return timing ? { status: response.status, body, timing } : { status: response.status, body };
}

function ok(answer: Answer): boolean {
  return answer.status === 200 && answer.body.result === true;
}

export function assertOk(answer: Answer, what: string): void {
  if (!ok(answer)) throw new Error(`${what} answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`);
}

// ---------------------------------------------------------------------------------------------
// Straight to the emulator, signed

let lastNonce = 0;
/** Every nonce this process signed, so the emulator's call log can tell them from the Worker's. */
export const directNonces = new Set<string>();

/**
 * Nonces in a space of their own: microsecond-scaled (16 digits), so they never collide with the
 * Worker's millisecond nonces (13 digits): the emulator, like Wiro, refuses any nonce it has seen.
 */
function directNonce(): string {
  lastNonce = Math.max(lastNonce + 1, Date.now() * 1000);
  const nonce = String(lastNonce);
  directNonces.add(nonce);
  return nonce;
}

/** POST `${emulatorUrl}/v1/${path}` with Wiro's signature headers, as a direct Wiro client would. */
export async function direct(emulatorUrl: string, path: string, body: unknown): Promise<Answer> {
  const response = await fetch(`${emulatorUrl}/v1/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeaders(BENCH_KEY, BENCH_SECRET, directNonce()) },
    body: JSON.stringify(body),
  });
  return answerOf(response);
}

// ---------------------------------------------------------------------------------------------
// Through the Worker

export async function viaWorker(
  workerUrl: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(`${workerUrl}/v1/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return answerOf(response);
}

export interface Started {
  /** The Worker's capabilities, not Wiro's ids: those stay in the Worker. */
  taskid: string;
  token: string;
  /** This Run's own prompt, which the emulator keeps: how world.ts finds the emulator's task. */
  prompt: string;
  /** The Run answer's `Server-Timing` header. */
  timing?: string;
}

let runs = 0;

/**
 * RUN_BODY with a prompt no other Run of this process sends. The Worker hands out its own ids,
 * so the prompt is what ties a Run to the emulator's task, however many Runs are in flight.
 */
export function uniqueRunBody(): typeof RUN_BODY {
  runs++;
  return { ...RUN_BODY, prompt: `${RUN_BODY.prompt} #${runs}` };
}

/** Starts a task through the Worker; throws unless the Worker answered Wiro's success envelope. */
export async function startTask(workerUrl: string, headers: Record<string, string> = {}): Promise<Started> {
  const body = uniqueRunBody();
  const answer = await viaWorker(workerUrl, 'Run/wiro/text-to-image-flux-lora-fast', body, headers);
  assertOk(answer, 'Run through the Worker');
  const started = {
    taskid: String(answer.body.taskid),
    token: String(answer.body.socketaccesstoken),
    prompt: body.prompt,
  };
  return answer.timing ? { ...started, timing: answer.timing } : started;
}

export async function workerDetail(workerUrl: string, token: string): Promise<Record<string, unknown> | undefined> {
  const answer = await viaWorker(workerUrl, 'Task/Detail', { tasktoken: token });
  assertOk(answer, 'Task/Detail through the Worker');
  return (answer.body.tasklist as Record<string, unknown>[] | undefined)?.[0];
}

export function isTerminal(status: unknown): boolean {
  return typeof status === 'string' && TERMINAL_STATUSES.includes(status);
}

// ---------------------------------------------------------------------------------------------
// Watchers

export interface Received {
  status: string;
  /** Date.now() when the bytes carrying the event arrived. */
  at: number;
  task?: Record<string, unknown>;
}

export interface Watcher {
  /** Resolves once the watcher is connected and has the task's current state. */
  ready: Promise<void>;
  /** Resolves with the terminal event; rejects if the stream ends or fails first. */
  terminal: Promise<Received>;
  /** When each status was first received (Date.now()), by status name. */
  seen: Map<string, number>;
  /** Every status received, repeats included, in the order they arrived. */
  order: string[];
  close(): void;
}

/** A promise with its resolvers, marked handled so an unobserved rejection can't crash the run. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** What both kinds of watcher keep: the statuses received, in order, and the two promises. */
function watcherRecord(close: () => void) {
  const ready = deferred<void>();
  const terminal = deferred<Received>();
  const seen = new Map<string, number>();
  const order: string[] = [];
  return {
    watcher: { ready: ready.promise, terminal: terminal.promise, seen, order, close } satisfies Watcher,
    receive(status: string, at: number, task?: () => Record<string, unknown>): void {
      order.push(status);
      if (!seen.has(status)) seen.set(status, at);
      ready.resolve();
      if (isTerminal(status)) terminal.resolve(task ? { status, at, task: task() } : { status, at });
    },
    fail(error: Error): void {
      ready.reject(error);
      terminal.reject(error);
    },
  };
}

/**
 * `GET /v1/Task/Events?tasktoken=` read with node:http; the SSE framing is parsed here. node:http
 * hands over each chunk as it lands, with none of fetch's web-stream steps in between (a
 * browser's EventSource is native code too), so with a thousand watchers in this one process the
 * figure is the Worker's, not the client's.
 */
export function watchSse(workerUrl: string, token: string): Watcher {
  const record = watcherRecord(() => request.destroy());
  const request = http.get(
    `${workerUrl}/v1/Task/Events?tasktoken=${encodeURIComponent(token)}`,
    { headers: { accept: 'text/event-stream' }, agent: false },
    (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        record.fail(new Error(`Task/Events answered ${response.statusCode}`));
        return;
      }
      response.setEncoding('utf8');
      let buffer = '';
      response.on('data', (text: string) => {
        const at = Date.now();
        buffer += text;
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
          let event = '';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
          }
          if (event) record.receive(event, at, () => (data ? (JSON.parse(data) as Record<string, unknown>) : {}));
        }
      });
      response.on('end', () => record.fail(new Error('the event stream ended before a terminal event')));
      response.on('error', (error) => record.fail(error));
    },
  );
  request.on('error', (error) => record.fail(error));
  return record.watcher;
}

/**
 * `GET /v1` upgraded to a WebSocket, Wiro's protocol: send `task_info`, then receive messages.
 * Read with the `ws` package: Node's own WebSocket (undici) spent so long on each frame that with
 * a thousand sockets in this one process it doubled the figures (end of task to 1,000 sockets,
 * p50: 147 → 71 ms; a burst of four statuses: 634 → 259 ms, in back-to-back runs).
 */
export function watchSocket(workerUrl: string, token: string): Watcher {
  const socket = new NodeWebSocket(`${workerUrl.replace(/^http/, 'ws')}/v1`, { perMessageDeflate: false });
  const record = watcherRecord(() => socket.close(1000));
  socket.on('open', () => socket.send(JSON.stringify({ type: 'task_info', tasktoken: token })));
  socket.on('message', (data) => {
    const at = Date.now();
    const text = String(data);
    let message: { type?: unknown };
    try {
      message = JSON.parse(text) as { type?: unknown };
    } catch {
      return;
    }
    if (message.type === 'error') record.fail(new Error(`socket refused: ${text.slice(0, 200)}`));
    else record.receive(String(message.type), at);
  });
  socket.on('error', () => record.fail(new Error('socket error')));
  socket.on('close', (code) => record.fail(new Error(`socket closed (${code}) before a terminal message`)));
  return record.watcher;
}
