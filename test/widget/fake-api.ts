/**
 * A fake of the Worker's API for component tests, installed over `fetch` in the test page. It
 * serves the real published schema (`describeTool()`), creates tasks on Run, and lets a test
 * move a task along (`push`, `finish`, `fail`), which its open event streams (`GET
 * /v1/Task/Events`, read with fetch as the widget does) receive as the Worker's Server-Sent
 * Events would: `id:` numbered per task, `event:` the status, a reconnect with `lastEventId`
 * getting only what came after. Every request is recorded.
 *
 * @example
 *   const api = new FakeApi().install();
 *   const el = await mount(api);
 *   api.push(api.lastToken(), 'task_start');
 */
import type { WiroTask } from '../../shared/protocol';
import { describeTool } from '../../shared/tool';

export const ENDPOINT = 'https://wiro-flux.test';

/** A 4×4 PNG, so result images load without any network. */
export const PNG =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAYAAACp8Z5+AAAAEklEQVR42mNkYPhfz0AEYBxVSF8FAM1fBAFXdE4xAAAAAElFTkSuQmCC';

export interface FakeCall {
  method: string;
  path: string;
  body: any;
  headers: Headers;
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const realFetch = globalThis.fetch;

export class FakeApi {
  readonly calls: FakeCall[] = [];
  readonly tasks = new Map<string, WiroTask>();
  /** The event streams open now. */
  readonly sources: FakeStream[] = [];
  /** What `GET /v1/Tool` says under `upstream.emulator`. */
  emulator = false;
  /** A Turnstile site key for `GET /v1/Tool` to publish (as the Worker does with `TURNSTILE_SITE_KEY`). */
  sitekey: string | undefined;
  /** Answers the next Run with this instead of creating a task. */
  runReply: Reply | undefined;
  /** Answers every `GET /v1/Tool` with this. */
  toolReply: Reply | undefined;
  /** When true, every event stream is refused (a proxy that blocks streams: a 502 page). */
  blockStreams = false;
  /** When true, event streams are answered without a body (a proxy that strips it). */
  bodilessStreams = false;
  #nextId = 2221;
  /** Each task's latest event id, as the Worker numbers its event log. */
  readonly #eventIds = new Map<string, number>();
  #held: Promise<void> | undefined;

  install(): this {
    globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => this.fetch(input, init);
    return this;
  }

  uninstall(): void {
    globalThis.fetch = realFetch;
  }

  /** Holds Run requests until the returned function is called (a Run "in flight"). */
  holdRuns(): () => void {
    let release = () => {};
    this.#held = new Promise<void>((resolve) => {
      release = resolve;
    });
    return () => {
      release();
      this.#held = undefined;
    };
  }

  callsTo(path: string): FakeCall[] {
    return this.calls.filter((call) => call.path === path || call.path.startsWith(`${path}?`));
  }

  runs(): FakeCall[] {
    return this.callsTo('/v1/Run/wiro/text-to-image-flux-lora-fast');
  }

  lastToken(): string {
    const last = [...this.tasks.keys()].at(-1);
    if (!last) throw new Error('no task yet');
    return last;
  }

  /** Adds a task the widget did not start (one left running before a reload). */
  addTask(status = 'task_start'): WiroTask {
    const id = String(this.#nextId++);
    const task: WiroTask = { id, socketaccesstoken: `token-${id}`, status, outputs: [] };
    this.tasks.set(task.socketaccesstoken, task);
    this.#eventIds.set(task.socketaccesstoken, 1);
    return task;
  }

  /** Moves a task to `status` and sends the event to its open streams. */
  push(token: string, status: string, patch: Partial<WiroTask> = {}): WiroTask {
    const task = { ...this.#task(token), ...patch, status };
    this.tasks.set(token, task);
    const id = (this.#eventIds.get(token) ?? 1) + 1;
    this.#eventIds.set(token, id);
    for (const source of this.sources) if (source.token === token) source.send(task, id);
    return task;
  }

  finish(token: string, images = 1): WiroTask {
    const outputs = Array.from({ length: images }, (_, i) => ({
      name: `${i}.png`,
      contenttype: 'image/png',
      size: '75',
      url: `${PNG}#${token}-${i}`,
    }));
    return this.push(token, 'task_postprocess_end', { pexit: '0', outputs, elapsedseconds: '6.2' });
  }

  fail(token: string, debugerror = 'RuntimeError: CUDA out of memory'): WiroTask {
    return this.push(token, 'task_postprocess_end', { pexit: '1', debugerror, outputs: [] });
  }

  #task(token: string): WiroTask {
    const task = this.tasks.get(token);
    if (!task) throw new Error(`no task ${token}`);
    return task;
  }

  async fetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
    const url = new URL(input instanceof Request ? input.url : String(input), location.href);
    if (url.origin !== ENDPOINT) return realFetch(input, init);
    const method = init.method ?? 'GET';
    const text = typeof init.body === 'string' ? init.body : '';
    const body = text ? JSON.parse(text) : undefined;
    this.calls.push({ method, path: url.pathname + url.search, body, headers: new Headers(init.headers) });
    const path = url.pathname;
    // Opened at once, as a real request is sent at once: a test sees the stream right after the call.
    if (path === '/v1/Task/Events') return this.#events(url, init.signal);
    await Promise.resolve();
    if (path === '/v1/Tool') {
      return this.toolReply
        ? reply(this.toolReply)
        : json({
            result: true,
            errors: [],
            tool: describeTool(),
            upstream: { emulator: this.emulator },
            ...(this.sitekey ? { turnstile: { sitekey: this.sitekey } } : {}),
          });
    }
    if (path === '/v1/Run/wiro/text-to-image-flux-lora-fast') {
      await this.#held;
      if (init.signal?.aborted) throw new DOMException('aborted', 'AbortError');
      if (this.runReply) {
        const answer = this.runReply;
        this.runReply = undefined;
        return reply(answer);
      }
      const task = this.addTask('task_queue');
      return json({ result: true, errors: [], taskid: task.id, socketaccesstoken: task.socketaccesstoken });
    }
    const task = this.tasks.get(body?.tasktoken);
    if (!task) return reply({ status: 404, body: { result: false, errors: [{ code: 1, message: 'Task not found' }] } });
    if (path === '/v1/Task/Detail') return json({ result: true, errors: [], total: '1', tasklist: [task] });
    if (path === '/v1/Task/Cancel' || path === '/v1/Task/Kill') {
      if (task.status === 'task_postprocess_end' || task.status === 'task_cancel') {
        return reply({ status: 409, body: { result: false, errors: [{ code: 0, message: 'already ended' }] } });
      }
      const stopped = this.push(task.socketaccesstoken, 'task_cancel');
      return json({ result: true, errors: [], tasklist: [stopped] });
    }
    return reply({ status: 404, body: { result: false, errors: [{ code: 1, message: 'No such route' }] } });
  }

  #events(url: URL, signal: AbortSignal | null | undefined): Promise<Response> {
    if (this.blockStreams) return Promise.resolve(new Response('<html>Bad gateway</html>', { status: 502 }));
    const token = url.searchParams.get('tasktoken') ?? '';
    const task = this.tasks.get(token);
    if (!task) {
      return Promise.resolve(
        reply({ status: 404, body: { result: false, errors: [{ code: 1, message: 'Task not found' }] } }),
      );
    }
    if (this.bodilessStreams) return Promise.resolve(new Response(null, { status: 200 }));
    const source = new FakeStream(this, url.href, token, signal);
    // The Worker replays what came after the client's last event: here, the latest state.
    const id = this.#eventIds.get(token) ?? 1;
    if (id > Number(url.searchParams.get('lastEventId') ?? 0)) source.send(task, id);
    return Promise.resolve(
      new Response(source.body, { status: 200, headers: { 'content-type': 'text/event-stream' } }),
    );
  }
}

function json(body: unknown): Response {
  return reply({ status: 200, body });
}

function reply({ status, body, headers = {} }: Reply): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

/** One open event stream, speaking like the Worker's: `id:`, `event:` (the status) and `data:` (the task). */
export class FakeStream {
  readonly url: string;
  readonly token: string;
  readonly body: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  readonly #api: FakeApi;

  constructor(api: FakeApi, url: string, token: string, signal: AbortSignal | null | undefined) {
    this.#api = api;
    this.url = url;
    this.token = token;
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
    });
    api.sources.push(this);
    // The client went away (fetch aborted): the stream ends with it, as a real one does.
    signal?.addEventListener('abort', () => this.#end(new DOMException('aborted', 'AbortError')), { once: true });
  }

  get open(): boolean {
    return this.#api.sources.includes(this);
  }

  /** Sends one event; without an id, the event has no `id:` line. */
  send(task: WiroTask, id?: number): void {
    if (!this.open) return;
    const text = `${id === undefined ? '' : `id: ${id}\n`}event: ${task.status}\ndata: ${JSON.stringify(task)}\n\n`;
    this.#controller.enqueue(new TextEncoder().encode(text));
  }

  /** A dropped connection (a proxy, a redeploy): the stream fails, and the client must reconnect. */
  drop(): void {
    this.#end(new TypeError('network error'));
  }

  #end(reason: unknown): void {
    if (!this.open) return;
    this.#api.sources.splice(this.#api.sources.indexOf(this), 1);
    this.#controller.error(reason);
  }
}

/**
 * A fake of Cloudflare Turnstile's global API (`window.turnstile`): no script, no network.
 * Installed before a widget asks for it, so the widget's loader adds no <script>; a test
 * "solves" the challenge with `solve()`, which calls the widget's callback with a token.
 *
 * @example
 *   const turnstile = new FakeTurnstile().install();
 *   turnstile.solve('token-1');
 */
export class FakeTurnstile {
  /** Every render: the container and the options, in order; the widget id is `w<n>`. */
  readonly rendered: { container: HTMLElement; options: Record<string, any>; id: string }[] = [];
  readonly resets: (string | undefined)[] = [];
  readonly removed: (string | undefined)[] = [];
  /** When set, `render` throws it (a bad site key, say). */
  failRender: Error | undefined;

  install(): this {
    window.turnstile = this;
    return this;
  }

  uninstall(): void {
    if (window.turnstile === this) delete window.turnstile;
  }

  render(container: HTMLElement, options: Record<string, unknown>): string {
    if (this.failRender) throw this.failRender;
    const id = `w${this.rendered.length + 1}`;
    this.rendered.push({ container, options, id });
    return id;
  }

  reset(id?: string): void {
    this.resets.push(id);
  }

  remove(id?: string): void {
    this.removed.push(id);
  }

  /** The latest challenge, as the widget rendered it. */
  get last(): { container: HTMLElement; options: Record<string, any>; id: string } {
    const last = this.rendered.at(-1);
    if (!last) throw new Error('no challenge rendered');
    return last;
  }

  /** The visitor passes the latest challenge: Turnstile calls back with a token. */
  solve(token: string): void {
    this.last.options.callback(token);
  }

  /** The latest challenge's token expired. */
  expire(): void {
    this.last.options['expired-callback']();
  }
}
