/**
 * The protocol of wiro-flux-edge, once: the core of `/client.js` and of the `<wiro-flux>` widget
 * (its stream controller follows tasks with `follow`). Every
 * call (Run, Task/Detail, Cancel, Kill, Tool) with Wiro's envelope turned into one `WiroError`,
 * and `follow`, which follows a task through callbacks. It reads the task's event stream with
 * `fetch`, so every event arrives, also one named for a status Wiro adds after this was written
 * (an EventSource hears only the names it listens for); a dropped stream is resumed from the last
 * event id, and a stream that is refused or keeps failing gives way to `Task/Detail` polling.
 * No iterator machinery here: `watch()` in index.ts wraps `follow` for apps that want one, and a
 * component can follow a task with callbacks and `close()`, without it.
 *
 * @example
 *   const api = connect('https://YOUR-WORKER');
 *   const { socketaccesstoken } = await api.run({ prompt: 'a lion' });
 *   const following = api.follow(socketaccesstoken, { onState: render, onError: show });
 *   following.close();
 */
import { isTerminal } from '../shared/protocol';
import type { GenerateInput, RunAnswer, ToolAnswer, WiroAnswer, WiroErrorItem, WiroTask } from './client';

export class WiroError extends Error {
  override readonly name = 'WiroError';
  // Declared, not defined: class fields would be emitted (and shipped) only to be overwritten.
  declare readonly status: number;
  declare readonly errors: WiroErrorItem[];
  declare readonly retryAfter: number | undefined;
  declare readonly task: WiroTask | undefined;

  constructor(status: number, errors: WiroErrorItem[], retryAfter?: number, task?: WiroTask) {
    super(errors[0]?.message ?? `HTTP ${status}`);
    this.status = status;
    this.errors = errors;
    this.retryAfter = retryAfter;
    this.task = task;
  }
}

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/** What `follow` calls: each new state of the task, or the one error that ends following it. */
export interface Follower {
  onState(task: WiroTask): void;
  /** The Worker does not know the task (a 4xx): waiting will not change that. */
  onError(error: WiroError): void;
  /** Resume after this event id. */
  lastEventId?: string | undefined;
}

export interface Following {
  /** How the task is followed now: its event stream or `Task/Detail` polling; undefined once closed or ended. */
  via: 'stream' | 'poll' | undefined;
  close(): void;
}

/** Stream failures in a row, without an event between them, before polling instead. */
const STREAM_FAILURES = 3;
const POLL_MS = 2000;

/** The one Run route; the Worker publishes the same slug in `GET /v1/Tool`. */
const RUN_PATH = '/v1/Run/wiro/text-to-image-flux-lora-fast';

export const aborted = () => new DOMException('The operation was aborted', 'AbortError');

/** Waits, or stops waiting as soon as the signal aborts (the caller then checks it). */
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
    signal.addEventListener('abort', resolve);
  });

/** A refusal that waiting will not change (a 4xx): the Worker does not know the task, or the input is bad. */
const final = (error: unknown) => (((error as WiroError).status / 100) | 0) === 4;

/** A state worth telling: the status, the progress or the outputs changed. */
export const changed = (a: WiroTask | undefined, b: WiroTask) =>
  a?.status !== b.status || a.progress?.percentage !== b.progress?.percentage || a.outputs.length !== b.outputs.length;

/**
 * Reads `text/event-stream`, calling `onEvent` with each event's `data` and `id`, whatever its
 * `event:` name. The Worker ends lines with `\n`; comments (the keep-alive) and `retry:` are skipped.
 */
async function readStream(body: ReadableStream<BufferSource>, onEvent: (data: string, id: string) => void) {
  // No cancel in a finally: following ends by aborting the fetch, which ends its body too.
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const events = (buffer + value).split('\n\n');
    buffer = events.pop() as string; // split() gives at least one
    for (const event of events) {
      let id = '';
      const data: string[] = [];
      for (const [, field, text = ''] of event.matchAll(/^(data|id): ?(.*)$/gm)) {
        if (field === 'id') id = text;
        else data.push(text);
      }
      if (data.length) onEvent(data.join('\n'), id);
    }
  }
}

export function connect(endpoint: string, fetcher: Fetch = (input, init) => fetch(input, init)) {
  const base = endpoint.replace(/\/+$/, '');

  async function call<T>(path: string, body?: unknown, init: RequestInit = {}): Promise<T> {
    let response: Response;
    try {
      response = await fetcher(
        base + path,
        // A body is JSON, POSTed; without one, a GET (with no content-type: no CORS preflight).
        body === undefined
          ? init
          : {
              ...init,
              method: 'POST',
              headers: { 'content-type': 'application/json', ...init.headers },
              body: JSON.stringify(body),
            },
      );
    } catch (error) {
      // Aborted: fetch's own AbortError, as the caller expects.
      if (init.signal?.aborted) throw error;
      throw new WiroError(0, [{ code: 0, message: `Could not reach the Worker: ${error}` }]);
    }
    // Not JSON (a proxy's error page, say): the status still tells what happened.
    const answer = await response.json().catch(() => undefined);
    if (!response.ok || answer?.result !== true) {
      const retryAfter = Number(response.headers.get('retry-after'));
      throw new WiroError(response.status, answer?.errors ?? [], retryAfter > 0 ? retryAfter : undefined);
    }
    return answer;
  }

  const detail = async (token: string, { signal }: { signal?: AbortSignal | undefined } = {}) =>
    (await call<{ tasklist: WiroTask[] }>('/v1/Task/Detail', { tasktoken: token }, { signal })).tasklist[0] as WiroTask;

  /** Wiro's `Task/Cancel` (only while queued) or `Task/Kill` (once running). */
  const stop = (how: 'Cancel' | 'Kill', token: string) => call<WiroAnswer>(`/v1/Task/${how}`, { tasktoken: token });

  /** Starts a task; `headers` go with it (a Turnstile token, when the Worker asks for one). */
  const run = (
    input: GenerateInput | Record<string, unknown>,
    {
      // A fresh key per Run; `crypto.randomUUID` is missing on pages served over plain http.
      idempotencyKey = crypto.randomUUID?.() ?? `${Math.random()}`,
      signal,
      headers,
    }: { idempotencyKey?: string; signal?: AbortSignal | undefined; headers?: Record<string, string> | undefined } = {},
  ) => call<RunAnswer>(RUN_PATH, input, { headers: { 'idempotency-key': idempotencyKey, ...headers }, signal });

  /** `GET /v1/Tool`; the widget reads more of the answer than the client types, hence `T`. */
  const tool = <T = ToolAnswer>({ signal }: { signal?: AbortSignal } = {}) =>
    call<T>('/v1/Tool', undefined, { signal });

  /** Follows a task until it ends or `close()`: each new state to `onState`, a final refusal to `onError`. */
  function follow(token: string, { onState, onError, lastEventId = '' }: Follower): Following {
    const abort = new AbortController();
    const { signal } = abort;
    let last: WiroTask | undefined;
    const following: Following = {
      via: 'stream',
      close() {
        abort.abort();
        following.via = undefined;
      },
    };
    const take = (task: WiroTask | undefined) => {
      if (!task || signal.aborted || !changed(last, task)) return;
      last = task;
      if (isTerminal(task.status)) following.close();
      onState(task);
    };
    void (async () => {
      // Streams that failed in a row, without an event between them; from STREAM_FAILURES on, poll.
      for (let failures = 0; !signal.aborted; ) {
        try {
          if (failures < STREAM_FAILURES) {
            // The id goes in the query, not a Last-Event-ID header: no CORS preflight.
            // No Accept header: the Worker streams without one, and none is one less thing to send.
            const response = await fetcher(
              `${base}/v1/Task/Events?tasktoken=${encodeURIComponent(token)}${lastEventId && `&lastEventId=${lastEventId}`}`,
              { signal },
            );
            if (!response.ok || !response.body) throw new WiroError(response.status, []);
            await readStream(response.body, (data, id) => {
              failures = 0;
              lastEventId = id || lastEventId;
              try {
                take(JSON.parse(data));
              } catch {
                // A malformed event is skipped; the next one carries the whole task again.
              }
            });
            // A stream that ended before the task did was dropped (a proxy, a redeploy): resume.
            failures++;
          } else take(await detail(token, { signal }));
        } catch (error) {
          if (signal.aborted) return;
          if (final(error)) {
            following.close();
            return onError(error as WiroError);
          }
          // Refused, or not a stream at all (a proxy in the way): poll now. Any other trouble
          // (offline, a 5xx while polling) is passing: try again.
          failures = error instanceof WiroError ? Math.max(failures, STREAM_FAILURES) : failures + 1;
        }
        // Backing off between streams; polling at once when it starts, then every POLL_MS.
        const wait = failures < STREAM_FAILURES ? 500 * failures : following.via === 'poll' ? POLL_MS : 0;
        following.via = failures < STREAM_FAILURES ? 'stream' : 'poll';
        await sleep(wait, signal);
      }
    })();
    return following;
  }

  return { endpoint: base, run, detail, stop, tool, follow };
}

export type Api = ReturnType<typeof connect>;
