/**
 * `/client.js`: the typed client of wiro-flux-edge, one dependency-free ES module for browsers,
 * Node 20+ and Workers. Its public types are `client.d.ts`, which this file implements.
 *
 * @example
 *   const wiro = createClient({ endpoint: 'https://YOUR-WORKER' });
 *   const task = await wiro.generate({ prompt: 'wp4p, a lion', selectedLoraModel: '1328' }, { onStatus, signal });
 */
import { isTerminal, QUEUED_STATUSES, RUNNING_STATUSES, TERMINAL_STATUSES } from '../shared/protocol';
import type {
  ClientOptions,
  GenerateInput,
  RunAnswer,
  ToolAnswer,
  WatchOptions,
  WiroAnswer,
  WiroClient,
  WiroErrorItem,
  WiroTask,
} from './client';

export type * from './client';

export class WiroError extends Error {
  override readonly name = 'WiroError';
  readonly status: number;
  readonly errors: WiroErrorItem[];
  readonly retryAfter: number | undefined;
  readonly task: WiroTask | undefined;

  constructor(status: number, errors: WiroErrorItem[], retryAfter?: number, task?: WiroTask) {
    super(errors[0]?.message ?? `HTTP ${status}`);
    this.status = status;
    this.errors = errors;
    this.retryAfter = retryAfter;
    this.task = task;
  }
}

/** Stream failures in a row, without an event between them, before polling instead. */
const STREAM_FAILURES = 3;
const POLL_MS = 2000;
const EVENT_NAMES = [...RUNNING_STATUSES, ...TERMINAL_STATUSES];

interface StreamEvent {
  id: string;
  data: string;
}

/** A fresh Idempotency-Key; `crypto.randomUUID` is missing on pages served over plain http. */
const newKey = () => crypto.randomUUID?.() ?? `${Date.now()}-${Math.random().toString(36).slice(2)}`;

const aborted = () => new DOMException('The operation was aborted', 'AbortError');

/** Waits, or stops waiting as soon as the signal aborts (the caller then checks it). */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/** A state worth telling: the status, the progress or the outputs changed. */
const changed = (a: WiroTask | undefined, b: WiroTask) =>
  a?.status !== b.status || a.progress?.percentage !== b.progress?.percentage || a.outputs.length !== b.outputs.length;

/** Reads `text/event-stream` from a fetch answer: the `id` and `data` of each event. */
async function* readStream(response: Response): AsyncGenerator<StreamEvent> {
  const reader = (response.body as ReadableStream<BufferSource>).pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let id = '';
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      const lines = (buffer + value).split(/\r\n|\r|\n/);
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (!line) {
          if (data.length) yield { id, data: data.join('\n') };
          data = [];
          continue;
        }
        const colon = line.indexOf(':');
        // A line from a colon on is a comment (the keep-alive).
        if (colon === 0) continue;
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
        if (field === 'data') data.push(text);
        else if (field === 'id') id = text;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * The same events from an `EventSource`. Its own reconnection is not used: an error ends the
 * iteration, and `watch` reconnects from the last event it saw, the same way for both streams.
 */
async function* readEventSource(url: string, signal?: AbortSignal): AsyncGenerator<StreamEvent> {
  const source = new EventSource(url);
  const queue: StreamEvent[] = [];
  let failed = false;
  let wake = () => {};
  const onEvent = (event: MessageEvent<string>) => {
    queue.push({ id: event.lastEventId, data: event.data });
    wake();
  };
  for (const name of EVENT_NAMES) source.addEventListener(name, onEvent);
  source.onerror = () => {
    failed = true;
    wake();
  };
  signal?.addEventListener('abort', () => wake(), { once: true });
  try {
    for (;;) {
      const next = queue.shift();
      if (next) yield next;
      else if (failed || signal?.aborted) throw new WiroError(0, []);
      else await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    source.close();
  }
}

export function createClient(options: ClientOptions): WiroClient {
  const endpoint = options.endpoint.replace(/\/+$/, '');
  const fetcher = options.fetch ?? ((input, init) => fetch(input, init));

  async function call<T>(path: string, body?: unknown, init: RequestInit = {}): Promise<T> {
    let response: Response;
    try {
      response = await fetcher(endpoint + path, {
        ...init,
        method: body === undefined ? 'GET' : 'POST',
        headers: body === undefined ? init.headers : { 'content-type': 'application/json', ...init.headers },
        body: body === undefined ? null : JSON.stringify(body),
      });
    } catch (error) {
      if (init.signal?.aborted) throw aborted();
      throw new WiroError(0, [{ code: 0, message: `The Worker could not be reached: ${error}` }]);
    }
    // Not JSON (a proxy's error page, say): the status still tells what happened.
    const answer = await response.json().catch(() => undefined);
    if (!response.ok || answer?.result !== true) {
      const retryAfter = Number(response.headers.get('retry-after'));
      throw new WiroError(response.status, answer?.errors ?? [], retryAfter > 0 ? retryAfter : undefined);
    }
    return answer;
  }

  const detail = async (token: string, { signal }: { signal?: AbortSignal } = {}) => {
    const answer = await call<{ tasklist: WiroTask[] }>('/v1/Task/Detail', { tasktoken: token }, { signal });
    return answer.tasklist[0] as WiroTask;
  };
  const cancel = (token: string) => call<WiroAnswer>('/v1/Task/Cancel', { tasktoken: token });
  const kill = (token: string) => call<WiroAnswer>('/v1/Task/Kill', { tasktoken: token });
  const run = (
    input: GenerateInput,
    { idempotencyKey = newKey(), signal }: { idempotencyKey?: string; signal?: AbortSignal } = {},
  ) =>
    call<RunAnswer>('/v1/Run/wiro/text-to-image-flux-lora-fast', input, {
      headers: { 'idempotency-key': idempotencyKey },
      signal,
    });

  /** One connection to the task's stream, from after `lastEventId`. */
  async function* connect(token: string, lastEventId: string, signal?: AbortSignal) {
    // The id goes in the query, not a Last-Event-ID header: no CORS preflight, and EventSource can send it.
    const query = new URLSearchParams(lastEventId ? { tasktoken: token, lastEventId } : { tasktoken: token });
    const url = `${endpoint}/v1/Task/Events?${query}`;
    if (typeof EventSource === 'function' && !options.fetch) return yield* readEventSource(url, signal);
    const response = await fetcher(url, { signal, headers: { accept: 'text/event-stream' } });
    if (!response.ok) {
      const answer = await response.json().catch(() => undefined);
      throw new WiroError(response.status, answer?.errors ?? []);
    }
    yield* readStream(response);
  }

  async function* watch(token: string, { signal, lastEventId = '' }: WatchOptions = {}) {
    let last: WiroTask | undefined;
    let failures = 0;
    while (failures < STREAM_FAILURES) {
      try {
        for await (const event of connect(token, lastEventId, signal)) {
          failures = 0;
          lastEventId = event.id || lastEventId;
          const task = JSON.parse(event.data) as WiroTask;
          if (changed(last, task)) {
            last = task;
            yield task;
          }
          if (isTerminal(task.status)) return;
        }
      } catch (error) {
        if (signal?.aborted) throw aborted();
        // The Worker does not know the task: waiting will not change that.
        if (error instanceof WiroError && error.status >= 400 && error.status < 500) throw error;
      }
      // A stream that ended before the task did was dropped (a proxy, a redeploy): resume.
      await sleep(500 * ++failures, signal);
    }
    for (;;) {
      if (signal?.aborted) throw aborted();
      const task = await detail(token, { signal }).catch((error) => {
        if (error instanceof WiroError && error.status >= 400 && error.status < 500) throw error;
      });
      if (task && changed(last, task)) {
        last = task;
        yield task;
      }
      if (task && isTerminal(task.status)) return;
      await sleep(POLL_MS, signal);
    }
  }

  async function generate(
    input: GenerateInput,
    { onStatus, signal, idempotencyKey }: Parameters<WiroClient['generate']>[1] = {},
  ) {
    if (signal?.aborted) throw aborted();
    // The Run itself is not aborted midway: it may have started a task, which must then be stopped.
    const started = await run(input, { idempotencyKey });
    let task: WiroTask = {
      id: started.taskid,
      socketaccesstoken: started.socketaccesstoken,
      status: 'task_queue',
      outputs: [],
    };
    try {
      if (signal?.aborted) throw aborted();
      for await (task of watch(started.socketaccesstoken, { signal })) onStatus?.(task);
    } catch (error) {
      if (signal?.aborted) {
        // Nobody pays for what nobody waits for. Cancel works only while queued; when the task
        // moved on meanwhile (409), Kill.
        await (QUEUED_STATUSES.includes(task.status) ? cancel : kill)(started.socketaccesstoken).catch(() =>
          kill(started.socketaccesstoken).catch(() => {}),
        );
        throw aborted();
      }
      throw error;
    }
    if (task.status === 'task_cancel')
      throw new WiroError(0, [{ code: 0, message: 'The task was cancelled' }], undefined, task);
    if (task.pexit !== '0') {
      throw new WiroError(
        0,
        [{ code: 0, message: task.debugerror || `The task failed (exit ${task.pexit})` }],
        undefined,
        task,
      );
    }
    return task;
  }

  return { generate, run, watch, detail, cancel, kill, tool: () => call<ToolAnswer>('/v1/Tool') };
}
