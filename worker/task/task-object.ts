/**
 * One Durable Object per task. It starts the task on Wiro, holds its state (the task in Wiro's
 * shape, every status change with its time), follows Wiro's realtime socket, believes callbacks
 * only after re-reading Wiro, polls with alarms when neither speaks, streams every change to its
 * watchers (SSE and hibernatable WebSockets), relays the end to the client's webhook and keeps
 * the outputs in R2. Routes stay thin: they find the object by the task token and call one method.
 *
 * Methods answer an `Outcome` rather than throwing, because an error's fields do not survive the
 * RPC boundary; the Worker turns a failed outcome back into an `ApiError`.
 */
import { DurableObject } from 'cloudflare:workers';
import { type Bindings, readConfig } from '../env';
import { ApiError } from '../errors';
import { IDEMPOTENCY_WINDOW_MS } from '../guard/idempotency';
import {
  isFailed,
  isTerminal,
  type RunAnswer,
  type SocketMessage,
  toSocketMessage,
  type WiroEnvelope,
  type WiroErrorItem,
  type WiroOutput,
  type WiroTask,
} from '../protocol';
import { TOOL_SLUG } from '../tool/catalog';
import { type RunInput, upstreamRunBody } from '../tool/schema';
import { WiroClient } from '../wiro/client';
import { parseProgress, rank, shouldApply, timedOut, toClientTask } from './state';
import { UpstreamSocket } from './upstream-socket';
import { Watchers } from './watchers';
import { deliverWebhook, WEBHOOK_RETRY_DELAYS_MS, type WebhookState } from './webhook';

export type StartAnswer = RunAnswer & { replayed?: boolean };

export type Outcome<T> = { ok: true; body: T } | { ok: false; status: number; errors: WiroErrorItem[] };

export interface StartArgs {
  token: string;
  input: RunInput;
  /** The Worker's own signed callback URL for this task, sent to Wiro. */
  callbackUrl: string;
  /** The client's webhook, relayed to when the task ends. */
  clientCallbackUrl?: string;
  /** The Worker's public origin. */
  publicOrigin: string;
  /** Who started it: the limiter to release and the budget to charge when it ends. */
  client: { key: string; origin: string };
  /** The limiter's admission for this Run. */
  ticket: string;
  /** Set for an `Idempotency-Key` Run: repeats with the same inputs get this task. */
  fingerprint?: string;
  /** Wiro's realtime socket to follow the task on; polling alone when absent. */
  socketUrl?: string;
}

/** What the object keeps: the start's settings (less the inputs, which Wiro holds), and the task's life. */
export interface TaskRecord
  extends Pick<
    StartArgs,
    'token' | 'clientCallbackUrl' | 'publicOrigin' | 'client' | 'ticket' | 'fingerprint' | 'socketUrl'
  > {
  taskid: string;
  /** Wiro's own token for the task: it never leaves this object. */
  upstreamToken: string;
  task: WiroTask;
  createdAt: number;
  /** When Wiro was last read; Detail re-reads only when this is old. */
  readAt: number;
  deadlineAt: number;
  polls: number;
  /** When the next poll is due; none once the task has ended. */
  pollAt?: number | undefined;
  /** When the alarm is set for. */
  alarmAt?: number | undefined;
  /** Every call this task cost on Wiro, Run included. */
  upstreamCalls: number;
  /** Connection attempts to Wiro's socket so far; it gives up after a few. */
  socketAttempts?: number;
  /** The relay of the final task to the client's own webhook, once the task has ended. */
  webhook?: WebhookState;
}

export interface TaskEvent {
  id: number;
  status: string;
  at: number;
  task: WiroTask;
}

/**
 * Polling backoff, in multiples of the first delay (1 s by default): quick while a task is likely
 * to move, slower later. A 6 s task costs about 4 polls; an hour-long one about 130.
 */
const POLL_BACKOFF = [1, 1, 2, 2, 3, 3, 5, 5, 5, 10];
const LATE_POLL_BACKOFF = 30;
/** A poll is skipped when Wiro's socket spoke more recently than this. */
const SOCKET_QUIET_MS = 15_000;
const SOCKET_ATTEMPTS = 3;

export function pollDelay(polls: number, firstMs: number): number {
  return (POLL_BACKOFF[polls] ?? (polls < 40 ? 10 : LATE_POLL_BACKOFF)) * firstMs;
}

function failure(error: unknown): { ok: false; status: number; errors: WiroErrorItem[] } {
  if (error instanceof ApiError) return { ok: false, status: error.status, errors: error.errors };
  throw error;
}

export class TaskObject extends DurableObject<Bindings> {
  #record: TaskRecord | undefined;
  #refreshing: Promise<void> | undefined;
  #starting: Promise<Outcome<StartAnswer>> | undefined;
  readonly #upstream = new UpstreamSocket();
  /** Socket messages are handled one at a time, in order. */
  #socketQueue: Promise<void> = Promise.resolve();
  readonly #watchers: Watchers;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.#watchers = new Watchers();
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(
        `CREATE TABLE IF NOT EXISTS events (
           id INTEGER PRIMARY KEY, status TEXT NOT NULL, at INTEGER NOT NULL, task TEXT NOT NULL)`,
      );
      this.#record = await ctx.storage.get<TaskRecord>('record');
    });
  }

  /**
   * Starts the task on Wiro; Wiro's Run is never retried. A repeat (same `Idempotency-Key`, so
   * same token) gets the first task, even while the first Run is still on its way to Wiro.
   */
  async start(args: StartArgs): Promise<Outcome<StartAnswer>> {
    if (this.#starting) await this.#starting.catch(() => {});
    const replay = this.#replayOf(args.fingerprint);
    if (replay) return replay;
    this.#starting = this.#begin(args);
    try {
      return await this.#starting;
    } finally {
      this.#starting = undefined;
    }
  }

  /** The first task's answer for a repeated `Idempotency-Key`, or undefined when there is none yet. */
  async replay(fingerprint: string | undefined): Promise<Outcome<StartAnswer> | undefined> {
    if (this.#starting) await this.#starting.catch(() => {});
    return this.#replayOf(fingerprint);
  }

  #replayOf(fingerprint: string | undefined): Outcome<StartAnswer> | undefined {
    const record = this.#record;
    if (!record) return undefined;
    const refuse = (status: number, message: string) => ({
      ok: false as const,
      status,
      errors: [{ code: 0, message }],
    });
    if (!fingerprint || !record.fingerprint) return refuse(409, 'This task was already started');
    if (fingerprint !== record.fingerprint) {
      return refuse(422, 'This Idempotency-Key was already used for a Run with other inputs: use a new key');
    }
    if (Date.now() - record.createdAt > IDEMPOTENCY_WINDOW_MS) {
      return refuse(409, 'This Idempotency-Key is more than a day old: use a new key');
    }
    const body = { result: true, errors: [], taskid: record.taskid, socketaccesstoken: record.token, replayed: true };
    return { ok: true, body };
  }

  async #begin(args: StartArgs): Promise<Outcome<StartAnswer>> {
    const config = readConfig(this.env);
    const wiro = new WiroClient(config);
    let answer: RunAnswer;
    try {
      answer = await wiro.run(TOOL_SLUG, upstreamRunBody(args.input, args.callbackUrl));
    } catch (error) {
      return failure(error);
    }
    const now = Date.now();
    const task = toClientTask(
      {
        id: answer.taskid,
        status: 'task_queue',
        pexit: '',
        debugerror: '',
        createtime: String(Math.floor(now / 1000)),
        outputs: [],
      },
      args.token,
      args.clientCallbackUrl,
    );
    const { input: _input, callbackUrl: _callbackUrl, ...kept } = args;
    const record: TaskRecord = {
      ...kept,
      taskid: answer.taskid,
      upstreamToken: answer.socketaccesstoken,
      task,
      createdAt: now,
      readAt: now,
      deadlineAt: now + config.taskDeadlineMs,
      polls: 0,
      pollAt: now + pollDelay(0, config.pollFirstMs),
      upstreamCalls: wiro.calls,
    };
    this.#record = record;
    await this.#save();
    this.#append(task);
    await this.#schedule();
    // Not awaited: the client gets its token now; the socket joins in as soon as it can.
    this.ctx.waitUntil(this.#subscribe());
    return { ok: true, body: { result: true, errors: [], taskid: answer.taskid, socketaccesstoken: args.token } };
  }

  /** The task as the Worker knows it, re-read from Wiro first when that knowledge is old. */
  async detail(): Promise<Outcome<WiroTask>> {
    const record = this.#record;
    if (!record) return notFound();
    if (!isTerminal(record.task.status) && Date.now() - record.readAt >= readConfig(this.env).detailMaxAgeMs) {
      // A failed re-read still answers: the last known state beats an error.
      await this.#refresh().catch((error) => this.#log('detail re-read failed', error));
    }
    return { ok: true, body: record.task };
  }

  /** Stops the task: Wiro's `Task/Cancel` while queued, `Task/Kill` once it runs. */
  async stop(how: 'cancel' | 'kill'): Promise<Outcome<WiroTask>> {
    const record = this.#record;
    if (!record) return notFound();
    if (isTerminal(record.task.status)) {
      return {
        ok: false,
        status: 409,
        errors: [
          {
            code: 0,
            message: `Task ${record.taskid} has already ended (${record.task.status}); there is nothing to stop`,
          },
        ],
      };
    }
    const wiro = new WiroClient(readConfig(this.env));
    let answer: WiroEnvelope;
    try {
      answer = how === 'cancel' ? await wiro.cancel(record.taskid) : await wiro.kill(record.taskid);
    } catch (error) {
      return failure(error);
    } finally {
      record.upstreamCalls += wiro.calls;
      await this.#save();
    }
    // Wiro's answer to our own signed call is first-hand; use its task when it sends one.
    const task = Array.isArray(answer.tasklist) ? (answer.tasklist[0] as WiroTask | undefined) : undefined;
    if (task && typeof task.status === 'string') await this.#apply(task);
    else await this.#refresh().catch((error) => this.#log('re-read after stopping failed', error));
    return { ok: true, body: record.task };
  }

  /** A callback from Wiro arrived: a hint only. The task changes only after a fresh read. */
  async hint(): Promise<Outcome<{ status: string }>> {
    const record = this.#record;
    if (!record) return notFound();
    if (!isTerminal(record.task.status)) {
      try {
        await this.#refresh();
      } catch (error) {
        // Keep polling; the alarm will try again.
        this.#log('callback re-read failed', error);
      }
    }
    return { ok: true, body: { status: record.task.status } };
  }

  /** Events after `afterId`, oldest first: the history a new or returning watcher catches up on. */
  events(afterId = 0): TaskEvent[] {
    return this.ctx.storage.sql
      .exec<{ id: number; status: string; at: number; task: string }>(
        'SELECT id, status, at, task FROM events WHERE id > ? ORDER BY id',
        afterId,
      )
      .toArray()
      .map((row) => ({ id: row.id, status: row.status, at: row.at, task: JSON.parse(row.task) as WiroTask }));
  }

  /** Counters for operators and benchmarks. */
  stats(): { upstreamCalls: number; polls: number; status: string; watchers: number } | undefined {
    const record = this.#record;
    if (!record) return undefined;
    return {
      upstreamCalls: record.upstreamCalls,
      polls: record.polls,
      status: record.task.status,
      watchers: this.#watchers.size + this.ctx.getWebSockets().length,
    };
  }

  /**
   * The live streams: a WebSocket (`Upgrade: websocket`, Wiro's socket protocol, hibernatable:
   * an idle task costs nothing while its sockets wait) or else Server-Sent Events.
   */
  override async fetch(request: Request): Promise<Response> {
    const record = this.#record;
    if (!record) return Response.json(notFoundBody(), { status: 404 });
    if (request.headers.get('upgrade')?.toLowerCase() === 'websocket') {
      const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
      this.ctx.acceptWebSocket(server);
      server.send(JSON.stringify(toSocketMessage(record.task)));
      if (isTerminal(record.task.status)) server.close(1000, 'task ended');
      return new Response(null, { status: 101, webSocket: client });
    }
    const lastId = Number(request.headers.get('last-event-id') ?? new URL(request.url).searchParams.get('lastEventId'));
    const history = this.events(Number.isFinite(lastId) ? lastId : 0);
    return this.#watchers.stream(history, isTerminal(record.task.status));
  }

  /** A socket client may ask again (`task_info`): it gets the current state. */
  override async webSocketMessage(ws: WebSocket): Promise<void> {
    if (this.#record) ws.send(JSON.stringify(toSocketMessage(this.#record.task)));
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    ws.close(code === 1005 ? 1000 : code, 'closing');
  }

  /**
   * One alarm serves two jobs: polling Wiro while no callback comes (until the deadline), and
   * relaying the final task to the client's webhook, with retries, once it has ended.
   */
  override async alarm(): Promise<void> {
    // Jobs due by the time the alarm was set for are due now (an alarm may fire a little early).
    const dueBy = Math.max(this.#record?.alarmAt ?? 0, Date.now());
    await this.#subscribe();
    await this.#poll(dueBy);
    await this.#relay(dueBy);
    await this.#schedule();
  }

  async #poll(dueBy: number): Promise<void> {
    const record = this.#record;
    if (!record || isTerminal(record.task.status) || (record.pollAt ?? 0) > dueBy) return;
    record.polls++;
    // While Wiro's socket keeps talking, a poll would only repeat what it said.
    const socketLively = this.#upstream.connected && Date.now() - this.#upstream.lastMessageAt < SOCKET_QUIET_MS;
    if (!socketLively) {
      try {
        await this.#refresh();
      } catch (error) {
        this.#log('poll failed', error);
      }
    }
    if (isTerminal(record.task.status)) return;
    const now = Date.now();
    if (now >= record.deadlineAt) {
      await this.#apply(timedOut(record.task, now - record.createdAt), { trusted: true });
      return;
    }
    record.pollAt = Math.min(now + pollDelay(record.polls, readConfig(this.env).pollFirstMs), record.deadlineAt);
    await this.#save();
  }

  async #relay(dueBy: number): Promise<void> {
    const record = this.#record;
    const webhook = record?.webhook;
    if (!record || !webhook || webhook.delivered || webhook.gaveUp || webhook.nextAt > dueBy) return;
    const secret = this.env.WEBHOOK_SECRET;
    const result = secret
      ? await deliverWebhook(webhook, secret, record.task)
      : { ok: false, outcome: 'no WEBHOOK_SECRET' };
    webhook.attempts++;
    webhook.last = result.outcome;
    const delay = WEBHOOK_RETRY_DELAYS_MS[webhook.attempts - 1];
    if (result.ok) webhook.delivered = true;
    else if (delay === undefined || !secret) webhook.gaveUp = true;
    else webhook.nextAt = Date.now() + delay;
    if (!result.ok) this.#log(`webhook attempt ${webhook.attempts} failed`, result.outcome);
    await this.#save();
  }

  /** Follows the task on Wiro's realtime socket, when there is one and it is not connected yet. */
  async #subscribe(): Promise<void> {
    const record = this.#record;
    if (!record?.socketUrl || isTerminal(record.task.status) || this.#upstream.connected) return;
    if ((record.socketAttempts ?? 0) >= SOCKET_ATTEMPTS) return;
    record.socketAttempts = (record.socketAttempts ?? 0) + 1;
    await this.#save();
    const opened = await this.#upstream.open(record.socketUrl, record.upstreamToken, (message) => {
      this.#socketQueue = this.#socketQueue.then(() => this.#onSocketMessage(message));
    });
    if (!opened) this.#log('Wiro socket unavailable; polling', `attempt ${record.socketAttempts}`);
  }

  /**
   * A status from Wiro's socket. Running statuses and progress are taken as they come (the
   * socket is Wiro's, reached with Wiro's token for this task, which only this object holds);
   * an ending is confirmed with Detail, which also brings the outputs and the exit code.
   */
  async #onSocketMessage(message: SocketMessage): Promise<void> {
    const record = this.#record;
    if (!record || isTerminal(record.task.status)) return;
    try {
      if (message.type === 'error') {
        this.#upstream.close();
      } else if (isTerminal(message.type)) {
        this.#upstream.close();
        await this.#refresh();
      } else if (rank(message.type) !== undefined) {
        // Wiro just told us where the task is: Detail can answer from here without asking again.
        record.readAt = Date.now();
        const next: WiroTask = { ...record.task, status: message.type };
        const progress = parseProgress(message.message);
        if (progress) next.progress = progress;
        else if (typeof message.message === 'string' && message.message) next.debugoutput = message.message;
        await this.#apply(next, { trusted: true });
      }
    } catch (error) {
      this.#log('socket message failed', error);
    }
  }

  /** Sets the alarm for whatever is due next, or clears it when nothing is. */
  async #schedule(): Promise<void> {
    const record = this.#record;
    if (!record) return;
    const due: number[] = [];
    if (!isTerminal(record.task.status) && record.pollAt !== undefined) due.push(record.pollAt);
    const webhook = record.webhook;
    if (webhook && !webhook.delivered && !webhook.gaveUp) due.push(webhook.nextAt);
    record.alarmAt = due.length > 0 ? Math.min(...due) : undefined;
    await this.#save();
    if (record.alarmAt !== undefined) await this.ctx.storage.setAlarm(record.alarmAt);
    else await this.ctx.storage.deleteAlarm();
  }

  /** Re-reads the task on Wiro, once at a time: callers that arrive meanwhile share the read. */
  #refresh(): Promise<void> {
    const record = this.#record;
    if (!record) return Promise.resolve();
    this.#refreshing ??= (async () => {
      const wiro = new WiroClient(readConfig(this.env));
      try {
        const task = await wiro.detail({ taskid: record.taskid });
        record.readAt = Date.now();
        await this.#apply(task);
      } finally {
        record.upstreamCalls += wiro.calls;
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  /**
   * Takes a task read from Wiro (or made by the Worker, when `trusted`) and moves the state
   * forward if it is news. Persists first, then tells the watchers.
   */
  async #apply(upstream: Record<string, unknown>, options: { trusted?: boolean } = {}): Promise<void> {
    const record = this.#record;
    if (!record) return;
    const next = options.trusted
      ? (upstream as WiroTask)
      : toClientTask(upstream, record.token, record.clientCallbackUrl);
    if (!shouldApply(record.task, next)) {
      await this.#save();
      return;
    }
    if (isTerminal(next.status)) {
      record.pollAt = undefined;
      this.#upstream.close();
      if (this.env.OUTPUTS && !isFailed(next)) next.outputs = await this.#keepOutputs(next.outputs);
      if (record.clientCallbackUrl) {
        record.webhook = {
          url: record.clientCallbackUrl,
          id: `msg_${record.taskid}_${this.ctx.id.toString().slice(0, 16)}`,
          attempts: 0,
          nextAt: Date.now(),
          delivered: false,
          gaveUp: false,
        };
      }
    }
    record.task = next;
    await this.#save();
    this.#append(next);
    if (isTerminal(next.status)) {
      await this.#schedule();
      await this.#settle(record, next);
    }
  }

  /** The task has ended: it stops counting as running for its client, and its cost is booked. */
  async #settle(record: TaskRecord, task: WiroTask): Promise<void> {
    try {
      await this.env.LIMITER.get(this.env.LIMITER.idFromName(record.client.key)).release(record.ticket);
      await this.env.BUDGET.get(this.env.BUDGET.idFromName('global')).spend(
        record.client.origin,
        Number(task.totalcost),
      );
    } catch (error) {
      this.#log('could not settle limits and budget', error);
    }
  }

  /**
   * Copies the outputs from Wiro's CDN to R2 and points them at the Worker, so results outlive
   * Wiro's links. An output that cannot be copied keeps Wiro's URL.
   */
  async #keepOutputs(outputs: WiroOutput[]): Promise<WiroOutput[]> {
    const bucket = this.env.OUTPUTS;
    const record = this.#record;
    if (!bucket || !record) return outputs;
    const folder = this.ctx.id.toString();
    return Promise.all(
      outputs.map(async (output, index) => {
        const name = /^[\w.-]{1,100}$/.test(output.name) ? output.name : `${index}.png`;
        try {
          const response = await fetch(output.url, { signal: AbortSignal.timeout(30_000) });
          if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
          await bucket.put(`${folder}/${name}`, await response.arrayBuffer(), {
            httpMetadata: { contentType: output.contenttype || 'image/png' },
          });
          return { ...output, url: `${record.publicOrigin}/v1/File/${folder}/${name}`, wirourl: output.url };
        } catch (error) {
          this.#log(`could not keep output ${name}`, error);
          return output;
        }
      }),
    );
  }

  #append(task: WiroTask): void {
    const at = Date.now();
    const row = this.ctx.storage.sql
      .exec<{ id: number }>(
        'INSERT INTO events (status, at, task) VALUES (?, ?, ?) RETURNING id',
        task.status,
        at,
        JSON.stringify(task),
      )
      .one();
    const terminal = isTerminal(task.status);
    this.#watchers.send({ id: row.id, status: task.status, at, task }, terminal);
    const message = JSON.stringify(toSocketMessage(task));
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(message);
        if (terminal) ws.close(1000, 'task ended');
      } catch {
        // A socket that is already gone has nothing to miss.
      }
    }
  }

  async #save(): Promise<void> {
    if (this.#record) await this.ctx.storage.put('record', this.#record);
  }

  #log(what: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    console.warn(`TaskObject ${this.#record?.taskid ?? this.ctx.id.toString()}: ${what}: ${message}`);
  }
}

function notFoundBody() {
  return { result: false, errors: [{ code: 1, message: 'Task not found: this token was not issued by this Worker' }] };
}

function notFound(): { ok: false; status: number; errors: WiroErrorItem[] } {
  return { ok: false, status: 404, errors: notFoundBody().errors };
}
