/**
 * Follows one task at a time, in the shape of Lit's task controller: an explicit `status`, one
 * `AbortController` per run, and a guard so that only the latest run's answers land (a late
 * event of a task the user has moved on from changes nothing).
 *
 * It starts a task (`run`) or picks up a known one (`attach`, after a reload), then listens to
 * the Worker's Server-Sent Events; EventSource resumes with `Last-Event-ID` by itself. When the
 * stream keeps failing (or EventSource is missing or blocked) it polls `Task/Detail` instead.
 * While a task is alive it re-renders its host every second, for the elapsed time.
 *
 * @example
 *   stream = new TaskStreamController(this, { api: () => this.api, onStatus: (task) => ... });
 *   await stream.run(body, uuid());
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { isTerminal, RUNNING_STATUSES, TERMINAL_STATUSES, type WiroTask } from '../../../shared/protocol';
import { ApiRequestError, type WiroApi } from '../api';
import { stopKind } from '../status';

/** idle: nothing yet; starting: the Run request is out; running: the task lives; ended; error: a request failed. */
export type StreamStatus = 'idle' | 'starting' | 'running' | 'ended' | 'error';

export interface TaskStreamOptions {
  api: () => WiroApi;
  /** The Run was accepted. */
  onTask?: (task: WiroTask) => void;
  /** A newer state of the task arrived (status or progress). */
  onStatus?: (task: WiroTask) => void;
  /** The task reached a terminal status. */
  onEnd?: (task: WiroTask) => void;
  /** A request failed: the Run (`run`), following the task (`follow`: the Worker does not know it), or stopping it (`stop`). */
  onError?: (error: ApiRequestError, during: 'run' | 'follow' | 'stop') => void;
  /** Polling interval when streaming is not possible; default 2500 ms. */
  pollMs?: number;
}

/** Consecutive stream failures, without an event in between, before switching to polling. */
const STREAM_FAILURES = 3;
const EVENT_NAMES: readonly string[] = [...RUNNING_STATUSES, ...TERMINAL_STATUSES];

export class TaskStreamController implements ReactiveController {
  status: StreamStatus = 'idle';
  task: WiroTask | undefined;
  token: string | undefined;
  error: ApiRequestError | undefined;
  /** How the task is being followed right now. */
  transport: 'stream' | 'poll' | undefined;
  /** ms since the epoch when this task started, for the elapsed time. */
  startedAt = 0;

  readonly #host: ReactiveControllerHost;
  readonly #options: TaskStreamOptions;
  #abort: AbortController | undefined;
  #source: EventSource | undefined;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #clock: ReturnType<typeof setInterval> | undefined;
  #connected = false;

  constructor(host: ReactiveControllerHost, options: TaskStreamOptions) {
    this.#host = host;
    this.#options = options;
    host.addController(this);
  }

  get active(): boolean {
    return this.status === 'starting' || this.status === 'running';
  }

  hostConnected(): void {
    this.#connected = true;
    // Back in the page: follow the task again (the stream replays what was missed).
    if (this.status === 'running' && this.token && this.#abort && !this.transport) this.#follow(this.#abort.signal);
  }

  hostDisconnected(): void {
    this.#connected = false;
    // Stop listening, but keep the task: a Run in flight still lands, and reconnecting resumes.
    this.#closeTransport();
  }

  /** Starts a task (`headers` go with the Run request). Whatever was followed before is dropped. */
  async run(body: Record<string, unknown>, idempotencyKey: string, headers?: Record<string, string>): Promise<void> {
    const signal = this.#begin();
    this.status = 'starting';
    this.startedAt = Date.now();
    this.#host.requestUpdate();
    try {
      const answer = await this.#options.api().run(body, idempotencyKey, signal, headers);
      if (signal.aborted) return;
      const task: WiroTask = {
        id: answer.taskid,
        socketaccesstoken: answer.socketaccesstoken,
        status: 'task_queue',
        outputs: [],
      };
      this.token = answer.socketaccesstoken;
      this.task = task;
      this.status = 'running';
      this.#options.onTask?.(task);
      this.#options.onStatus?.(task);
      this.#follow(signal);
    } catch (error) {
      if (signal.aborted) return;
      this.#fail(error, 'run');
    }
    this.#host.requestUpdate();
  }

  /** Follows a task that already exists (a reload while it ran). */
  attach(token: string, task: WiroTask, startedAt = Date.now()): void {
    const signal = this.#begin();
    this.token = token;
    this.task = task;
    this.startedAt = startedAt;
    this.status = isTerminal(task.status) ? 'ended' : 'running';
    if (this.status === 'running') this.#follow(signal);
    this.#host.requestUpdate();
  }

  /** Forgets the current task (the host shows something else now). */
  reset(): void {
    this.#begin();
    this.#stopClock();
    this.status = 'idle';
    this.task = undefined;
    this.token = undefined;
    this.error = undefined;
    this.#host.requestUpdate();
  }

  /** Cancels a queued task or kills a running one. */
  async stop(): Promise<void> {
    const { token, task } = this;
    const signal = this.#abort?.signal;
    if (!token || !task || !signal || isTerminal(task.status)) return;
    const api = this.#options.api();
    try {
      const stopped = await api.stop(token, stopKind(task.status));
      if (stopped) this.#apply(stopped, signal);
    } catch (error) {
      if (signal.aborted) return;
      // 409: it ended meanwhile, or moved on from the queue; the truth is one read away.
      const fresh = await api.detail(token).catch(() => undefined);
      if (fresh) this.#apply(fresh, signal);
      if (fresh && !isTerminal(fresh.status) && stopKind(fresh.status) !== stopKind(task.status)) return this.stop();
      if (!(error instanceof ApiRequestError && error.status === 409))
        this.#options.onError?.(toApiError(error), 'stop');
    }
  }

  #begin(): AbortSignal {
    this.#abort?.abort();
    this.#closeTransport();
    this.error = undefined;
    this.#abort = new AbortController();
    return this.#abort.signal;
  }

  #fail(error: unknown, during: 'run' | 'follow'): void {
    this.status = 'error';
    this.error = toApiError(error);
    this.#stopClock();
    this.#options.onError?.(this.error, during);
  }

  #follow(signal: AbortSignal): void {
    this.#startClock();
    if (!this.#connected) return;
    if (typeof EventSource === 'function') this.#stream(signal);
    else this.#poll(signal);
  }

  #stream(signal: AbortSignal): void {
    const token = this.token;
    if (!token) return;
    let source: EventSource;
    try {
      source = new EventSource(this.#options.api().eventsUrl(token));
    } catch {
      this.#poll(signal);
      return;
    }
    this.#source = source;
    this.transport = 'stream';
    let failures = 0;
    const onEvent = (event: MessageEvent<string>) => {
      failures = 0;
      try {
        this.#apply(JSON.parse(event.data) as WiroTask, signal);
      } catch {
        // A malformed event is skipped; the next one carries the whole task again.
      }
    };
    for (const name of EVENT_NAMES) source.addEventListener(name, onEvent);
    source.addEventListener('error', () => {
      failures++;
      // CLOSED means the browser gave up (a refused or non-stream answer); repeated errors
      // without any event mean a proxy is in the way. Either way, polling still works.
      if (source.readyState === EventSource.CLOSED || failures >= STREAM_FAILURES) {
        this.#closeTransport();
        if (!signal.aborted && this.status === 'running') this.#poll(signal);
      }
    });
  }

  #poll(signal: AbortSignal): void {
    const token = this.token;
    if (!token) return;
    this.transport = 'poll';
    const tick = async () => {
      let task: WiroTask | undefined;
      try {
        task = await this.#options.api().detail(token, signal);
      } catch (error) {
        if (signal.aborted || this.transport !== 'poll') return;
        // The Worker does not know this token (another Worker, or its storage was reset): give
        // up. Any other trouble (offline, 5xx) is passing: keep polling.
        if (error instanceof ApiRequestError && (error.status === 404 || error.status === 400)) {
          this.#closeTransport();
          this.#fail(error, 'follow');
          this.#host.requestUpdate();
          return;
        }
      }
      if (signal.aborted || this.transport !== 'poll') return;
      if (task) this.#apply(task, signal);
      if (this.status === 'running') this.#pollTimer = setTimeout(tick, this.#options.pollMs ?? 2500);
    };
    void tick();
  }

  /** Takes a newer state of the task, if it belongs to the latest run. */
  #apply(task: WiroTask, signal: AbortSignal): void {
    if (signal.aborted || this.status !== 'running') return;
    const previous = this.task;
    if (
      previous &&
      previous.status === task.status &&
      previous.progress?.percentage === task.progress?.percentage &&
      previous.outputs.length === task.outputs.length
    ) {
      return;
    }
    this.task = task;
    this.#options.onStatus?.(task);
    if (isTerminal(task.status)) {
      this.status = 'ended';
      this.#closeTransport();
      this.#stopClock();
      this.#options.onEnd?.(task);
    }
    this.#host.requestUpdate();
  }

  #closeTransport(): void {
    this.#source?.close();
    this.#source = undefined;
    clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
    this.transport = undefined;
    if (!this.#connected) this.#stopClock();
  }

  #startClock(): void {
    this.#clock ??= setInterval(() => this.#host.requestUpdate(), 1000);
  }

  #stopClock(): void {
    clearInterval(this.#clock);
    this.#clock = undefined;
  }
}

function toApiError(error: unknown): ApiRequestError {
  return error instanceof ApiRequestError ? error : new ApiRequestError(0, []);
}
