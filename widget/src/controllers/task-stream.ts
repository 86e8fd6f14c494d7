/**
 * Follows one task at a time, in the shape of Lit's task controller: an explicit `status`, one
 * `AbortController` per run, and a guard so that only the latest run's answers land (a late
 * event of a task the user has moved on from changes nothing).
 *
 * It starts a task (`run`) or picks up a known one (`attach`, after a reload), and follows it
 * with the client's `follow` (client/core.ts: the event stream read with fetch, resumed after a
 * drop, `Task/Detail` polling when streaming keeps failing), the one implementation of the
 * protocol that `/client.js` uses too. While a task is alive it re-renders its host every
 * second, for the elapsed time.
 *
 * @example
 *   stream = new TaskStreamController(this, { api: () => this.api, onStatus: (task) => ... });
 *   await stream.run(body);
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { type Api, changed, type Following, WiroError } from '../../../client/core';
import { isTerminal, STATUS_ORDER, type WiroTask } from '../../../shared/protocol';
import { type Stage, stageOf, stopKind } from '../status';

/** idle: nothing yet; starting: the Run request is out; running: the task lives; ended; error: a request failed. */
export type StreamStatus = 'idle' | 'starting' | 'running' | 'ended' | 'error';

export interface TaskStreamOptions {
  api: () => Api;
  /** The Run was accepted. */
  onTask: (task: WiroTask) => void;
  /** A newer state of the task arrived (status or progress). */
  onStatus: (task: WiroTask) => void;
  /** The task reached a terminal status. */
  onEnd: (task: WiroTask) => void;
  /** A request failed: the Run (`run`), following the task (`follow`: the Worker does not know it), or stopping it (`stop`). */
  onError: (error: WiroError, during: 'run' | 'follow' | 'stop') => void;
}

export class TaskStreamController implements ReactiveController {
  status: StreamStatus = 'idle';
  task: WiroTask | undefined;
  /** The task's stage; a status Wiro added after our table keeps the stage it came after. */
  stage: Stage | undefined;
  token: string | undefined;
  /** ms since the epoch when this task started, for the elapsed time. */
  startedAt = 0;

  readonly #host: ReactiveControllerHost;
  readonly #options: TaskStreamOptions;
  #abort: AbortController | undefined;
  #following: Following | undefined;
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

  /** How the task is being followed right now: its event stream, polling, or not at all. */
  get transport(): 'stream' | 'poll' | undefined {
    return this.#following?.via;
  }

  hostConnected(): void {
    this.#connected = true;
    // Back in the page: follow the task again (the stream replays what was missed).
    if (this.status === 'running' && !this.#following) this.#follow();
  }

  hostDisconnected(): void {
    this.#connected = false;
    // Stop listening, but keep the task: a Run in flight still lands, and reconnecting resumes.
    this.#close();
    this.hostUpdated();
  }

  /** The elapsed time: the host renders every second while a task runs in the page. */
  hostUpdated(): void {
    if (this.#connected && this.status === 'running')
      this.#clock ??= setInterval(() => this.#host.requestUpdate(), 1000);
    else {
      clearInterval(this.#clock);
      this.#clock = undefined;
    }
  }

  /** Starts a task (`headers` go with the Run request). Whatever was followed before is dropped. */
  async run(body: Record<string, unknown>, headers?: Record<string, string>): Promise<void> {
    const signal = this.#begin();
    this.status = 'starting';
    this.startedAt = Date.now();
    this.#host.requestUpdate();
    try {
      const { taskid, socketaccesstoken } = await this.#options.api().run(body, { signal, headers });
      if (signal.aborted) return;
      const task: WiroTask = { id: taskid, socketaccesstoken, status: STATUS_ORDER[0]!, outputs: [] };
      this.#options.onTask(task);
      this.attach(task, this.startedAt);
      this.#options.onStatus(task);
    } catch (error) {
      if (signal.aborted) return;
      this.#fail(error as WiroError, 'run');
    }
  }

  /** Follows a task that already exists (just started, or left running by a reload). */
  attach(task: WiroTask, startedAt = Date.now()): void {
    this.#begin();
    this.token = task.socketaccesstoken;
    this.task = task;
    this.stage = stageOf(task.status);
    this.startedAt = startedAt;
    this.status = isTerminal(task.status) ? 'ended' : 'running';
    if (this.status === 'running') this.#follow();
    this.#host.requestUpdate();
  }

  /** Forgets the current task (the host shows something else now). */
  reset(): void {
    this.#begin();
    this.status = 'idle';
    this.task = undefined;
    this.token = undefined;
    this.#host.requestUpdate();
  }

  /** Cancels a queued task or kills a running one. */
  async stop(): Promise<void> {
    const { token, task } = this;
    const signal = this.#abort?.signal;
    if (!token || !task || !signal || isTerminal(task.status)) return;
    const api = this.#options.api();
    try {
      const answer = await api.stop(stopKind(task.status), token);
      this.#apply((answer.tasklist as WiroTask[] | undefined)?.[0], signal);
    } catch (error) {
      if (signal.aborted) return;
      // 409: it ended meanwhile, or moved on from the queue; the truth is one read away.
      const fresh = await api.detail(token).catch(() => undefined);
      this.#apply(fresh, signal);
      if (fresh && !isTerminal(fresh.status) && stopKind(fresh.status) !== stopKind(task.status)) return this.stop();
      if (!(error instanceof WiroError && error.status === 409)) this.#options.onError(error as WiroError, 'stop');
    }
  }

  #begin(): AbortSignal {
    this.#abort?.abort();
    this.#close();
    this.#abort = new AbortController();
    return this.#abort.signal;
  }

  #fail(error: WiroError, during: 'run' | 'follow'): void {
    this.status = 'error';
    this.#options.onError(error, during);
    this.#host.requestUpdate();
  }

  #follow(): void {
    const { token } = this;
    const signal = this.#abort?.signal;
    if (!this.#connected || !token || !signal) return;
    this.#following = this.#options.api().follow(token, {
      onState: (task) => this.#apply(task, signal),
      onError: (error) => {
        if (signal.aborted) return;
        this.#close();
        this.#fail(error, 'follow');
      },
    });
  }

  /** Takes a newer state of the task, if it belongs to the latest run. */
  #apply(task: WiroTask | undefined, signal: AbortSignal): void {
    if (!task || signal.aborted || this.status !== 'running' || !changed(this.task, task)) return;
    this.task = task;
    this.stage = stageOf(task.status, this.stage);
    this.#options.onStatus(task);
    if (isTerminal(task.status)) {
      this.status = 'ended';
      this.#close();
      this.#options.onEnd(task);
    }
    this.#host.requestUpdate();
  }

  #close(): void {
    this.#following?.close();
    this.#following = undefined;
  }
}
