/**
 * A fake of the Worker's API for component tests, installed over `fetch` and `EventSource` in
 * the test page. It serves the real published schema (`describeTool()`), creates tasks on Run,
 * and lets a test move a task along (`push`, `finish`, `fail`), which its open event streams
 * receive as the Worker's Server-Sent Events would. Every request is recorded.
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
const realEventSource = globalThis.EventSource;

export class FakeApi {
  readonly calls: FakeCall[] = [];
  readonly tasks = new Map<string, WiroTask>();
  readonly sources: FakeEventSource[] = [];
  /** What `GET /v1/Tool` says under `upstream.emulator`. */
  emulator = false;
  /** A Turnstile site key for `GET /v1/Tool` to publish (as the Worker does with `TURNSTILE_SITE_KEY`). */
  sitekey: string | undefined;
  /** Answers the next Run with this instead of creating a task. */
  runReply: Reply | undefined;
  /** Answers every `GET /v1/Tool` with this. */
  toolReply: Reply | undefined;
  /** When true, every EventSource fails at once (a proxy that blocks streams). */
  blockStreams = false;
  #nextId = 2221;
  #held: Promise<void> | undefined;

  install(): this {
    const api = this;
    globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => api.fetch(input, init);
    globalThis.EventSource = class extends FakeEventSource {
      constructor(url: string | URL) {
        super(api, String(url));
      }
    } as unknown as typeof EventSource;
    return this;
  }

  uninstall(): void {
    globalThis.fetch = realFetch;
    globalThis.EventSource = realEventSource;
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
    return task;
  }

  /** Moves a task to `status` and sends the event to its open streams. */
  push(token: string, status: string, patch: Partial<WiroTask> = {}): WiroTask {
    const task = { ...this.#task(token), ...patch, status };
    this.tasks.set(token, task);
    for (const source of this.sources) if (source.token === token) source.send(task);
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
    await Promise.resolve();
    const path = url.pathname;
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
}

function json(body: unknown): Response {
  return reply({ status: 200, body });
}

function reply({ status, body, headers = {} }: Reply): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

/** Speaks like the Worker's stream: on connect it replays the task's latest state. */
export class FakeEventSource extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  readonly url: string;
  readonly token: string;
  readyState = 0;
  #id = 0;
  readonly #api: FakeApi;

  constructor(api: FakeApi, url: string) {
    super();
    this.#api = api;
    this.url = url;
    this.token = new URL(url).searchParams.get('tasktoken') ?? '';
    api.sources.push(this);
    queueMicrotask(() => {
      if (this.readyState === 2) return;
      if (api.blockStreams) {
        this.readyState = 2;
        this.dispatchEvent(new Event('error'));
        return;
      }
      this.readyState = 1;
      this.dispatchEvent(new Event('open'));
      const task = api.tasks.get(this.token);
      if (task) this.send(task);
    });
  }

  get open(): boolean {
    return this.readyState === 1;
  }

  send(task: WiroTask): void {
    if (this.readyState !== 1) return;
    this.#id++;
    this.dispatchEvent(new MessageEvent(task.status, { data: JSON.stringify(task), lastEventId: String(this.#id) }));
  }

  /** A dropped connection: the browser would retry. */
  drop(): void {
    this.dispatchEvent(new Event('error'));
  }

  close(): void {
    this.readyState = 2;
    const index = this.#api.sources.indexOf(this);
    if (index !== -1) this.#api.sources.splice(index, 1);
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
