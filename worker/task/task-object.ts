/**
 * One Durable Object per task. It starts the task on Wiro, holds its state (the task in Wiro's
 * shape, every status change with its time), follows Wiro's realtime socket, believes callbacks
 * only after re-reading Wiro, polls with alarms when neither speaks, streams every change to its
 * watchers (SSE and hibernatable WebSockets), relays the end to the client's webhook and keeps
 * the outputs in R2. Routes stay thin: they find the object by a task identifier and call one
 * method.
 *
 * Wiro's own id and token for the task never leave this object; Wiro is read by its token, which
 * can never name another task. A Run whose answer was lost stays here as a task that Wiro has not
 * confirmed: it is never sent again, and Wiro's callback or its task list attaches it later.
 *
 * Methods answer an `Outcome` rather than throwing, because an error's fields do not survive the
 * RPC boundary; the Worker turns a failed outcome back into an `ApiError`.
 */
import { DurableObject } from 'cloudflare:workers';
import { type Bindings, readConfig } from '../env';
import { ApiError, WiroCode } from '../errors';
import { IDEMPOTENCY_WINDOW_MS } from '../guard/idempotency';
import {
  isFailed,
  isTerminal,
  QUEUED_STATUSES,
  type RunAnswer,
  type SocketMessage,
  toSocketMessage,
  type WiroEnvelope,
  type WiroErrorItem,
  type WiroTask,
} from '../protocol';
import { TOOL_SLUG } from '../tool/catalog';
import { type SeededRunInput, upstreamRunBody } from '../tool/schema';
import { UpstreamError, WiroClient } from '../wiro/client';
import { keepOutputs } from './outputs';
import { AFTERLIFE_MS, AFTERLIFE_POLL_MS, nextPollAt, pollDelay } from './schedule';
import { type ClientIds, parseProgress, rank, shouldApply, timedOut, toClientTask } from './state';
import { NOT_FOUND_MESSAGE, type TaskIds } from './token';
import { UpstreamSocket } from './upstream-socket';
import { Watchers } from './watchers';
import { deliverWebhook, WEBHOOK_RETRY_DELAYS_MS, type WebhookState } from './webhook';

export type StartAnswer = RunAnswer & { replayed?: boolean };

export type Failure = {
  ok: false;
  status: number;
  errors: WiroErrorItem[];
  /**
   * For a Run that failed after it was sent: Wiro `refused` it (nothing started, nothing is
   * owed), or its answer was `lost` (a task may run: it is followed, and its cost counts).
   */
  run?: 'refused' | 'lost';
  /** Fields for the error envelope (a lost Run's identifiers). */
  extra?: Record<string, string>;
};
export type Outcome<T> = { ok: true; body: T } | Failure;

export interface StartArgs {
  ids: TaskIds;
  input: SeededRunInput;
  /** The Worker's own signed callback URL for this task, sent to Wiro. */
  callbackUrl: string;
  /** The client's webhook, relayed to when the task ends. */
  clientCallbackUrl?: string;
  /** The Worker's public origin. */
  publicOrigin: string;
  /** Who started it: the limiter to release, and the budget line its cost is booked on. */
  client: { key: string; budgetLine: string };
  /** The Run's admission: its running slot in the limiter and its reservation in the budget. */
  ticket: string;
  /** Set for an `Idempotency-Key` Run: repeats with the same inputs get this task. */
  fingerprint?: string;
  /** Wiro's realtime socket to follow the task on; polling alone when absent. */
  socketUrl?: string;
}

/** What the object keeps: the start's settings (less the inputs, which Wiro holds), and the task's life. */
export interface TaskRecord
  extends Pick<StartArgs, 'callbackUrl' | 'clientCallbackUrl' | 'publicOrigin' | 'client' | 'ticket' | 'fingerprint'> {
  /** The client's identifiers for the task. */
  taskid: string;
  token: string;
  /** Wiro's id and token for the task, once Wiro has confirmed the Run. */
  wiro?: { taskid: string; token: string };
  socketUrl?: string | undefined;
  task: WiroTask;
  createdAt: number;
  /** When Wiro was last read; Detail re-reads only when this is old. */
  readAt: number;
  deadlineAt: number;
  polls: number;
  /** When the next poll is due; none once the task has ended on Wiro. */
  pollAt?: number | undefined;
  /** When the alarm is set for. */
  alarmAt?: number | undefined;
  /** Every call this task cost on Wiro, Run included. */
  upstreamCalls: number;
  /** Connection attempts to Wiro's socket so far; it gives up after a few. */
  socketAttempts?: number;
  /** The relay of the final task to the client's own webhook, once the task has ended. */
  webhook?: WebhookState;
  /** When the Worker stopped waiting (the deadline): the client saw the end, Wiro may not have. */
  stoppedWaitingAt?: number;
  /** The client's running slot is free again. */
  slotReleased?: boolean;
  /** The budget holds the task's real cost (or the reservation, if it never became known). */
  costSettled?: boolean;
}

export interface TaskEvent {
  id: number;
  status: string;
  at: number;
  task: WiroTask;
}

/** A poll is skipped when Wiro's socket spoke more recently than this. */
const SOCKET_QUIET_MS = 15_000;
const SOCKET_ATTEMPTS = 3;
/** How far back Wiro's task list is searched for a Run whose answer was lost. */
const LOST_RUN_SEARCH = 50;
/** A claim on an `Idempotency-Key` task lapses if its Run never arrives (the Worker failed). */
const CLAIM_MS = 30_000;

function failure(error: unknown): Failure {
  if (error instanceof ApiError) return { ok: false, status: error.status, errors: error.errors };
  throw error;
}

function refusal(status: number, message: string): Failure {
  return { ok: false, status, errors: [{ code: WiroCode.general, message }] };
}

export class TaskObject extends DurableObject<Bindings> {
  #record: TaskRecord | undefined;
  #refreshing: Promise<void> | undefined;
  /** An `Idempotency-Key` Run on its way here: repeats wait for it instead of racing it. */
  #claim: { until: number; done: Promise<void>; release: () => void } | undefined;
  readonly #upstream = new UpstreamSocket();
  /** Socket messages are handled one at a time, in order. */
  #socketQueue: Promise<void> = Promise.resolve();
  readonly #watchers = new Watchers();

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    // Reading writes nothing: an object opened by an identifier it never had stays empty.
    ctx.blockConcurrencyWhile(async () => {
      this.#record = migrate(await ctx.storage.get<TaskRecord & LegacyFields>('record'));
    });
  }

  /**
   * For an `Idempotency-Key` Run: the first task's answer when there is one; otherwise the
   * caller holds the claim (undefined) and must `start` or `unclaim`. A repeat that arrives
   * while the first Run is being admitted waits for it, so it gets that task, never a refusal.
   */
  async claim(fingerprint: string): Promise<Outcome<StartAnswer> | undefined> {
    while (this.#claim && this.#claim.until > Date.now()) await this.#claim.done;
    const replay = this.#replayOf(fingerprint);
    if (replay) return replay;
    let release = () => {};
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#claim = { until: Date.now() + CLAIM_MS, done, release };
    return undefined;
  }

  /** The claimed Run was refused before it was sent: the next repeat may try. */
  unclaim(): void {
    this.#claim?.release();
    this.#claim = undefined;
  }

  /** Starts the task on Wiro; Wiro's Run is never retried, and never sent twice for one task. */
  async start(args: StartArgs): Promise<Outcome<StartAnswer>> {
    try {
      const replay = this.#replayOf(args.fingerprint);
      if (replay) return replay;
      return await this.#begin(args);
    } finally {
      this.unclaim();
    }
  }

  #replayOf(fingerprint: string | undefined): Outcome<StartAnswer> | undefined {
    const record = this.#record;
    if (!record) return undefined;
    if (!fingerprint || !record.fingerprint) return refusal(409, 'This task was already started');
    if (fingerprint !== record.fingerprint) {
      return refusal(422, 'This Idempotency-Key was already used for a Run with other inputs: use a new key');
    }
    if (Date.now() - record.createdAt > IDEMPOTENCY_WINDOW_MS) {
      return refusal(409, 'This Idempotency-Key is more than a day old: use a new key');
    }
    const body = { result: true, errors: [], taskid: record.taskid, socketaccesstoken: record.token, replayed: true };
    return { ok: true, body };
  }

  async #begin(args: StartArgs): Promise<Outcome<StartAnswer>> {
    const config = readConfig(this.env);
    const now = Date.now();
    const ids: ClientIds = { taskid: args.ids.taskid, token: args.ids.token };
    const { input: _input, ids: _ids, ...kept } = args;
    const record: TaskRecord = {
      ...kept,
      ...ids,
      task: toClientTask(
        {
          status: 'task_queue',
          pexit: '',
          debugerror: '',
          createtime: String(Math.floor(now / 1000)),
          outputs: [],
          // What Wiro will report as the task's parameters (as strings, as Wiro keeps them), the
          // seed drawn for it included, known before Wiro is asked.
          parameters: Object.fromEntries(
            Object.entries(upstreamRunBody(args.input, '')).map(([name, value]) => [name, String(value)]),
          ),
        },
        ids,
        args.clientCallbackUrl,
      ),
      createdAt: now,
      readAt: now,
      deadlineAt: now + config.taskDeadlineMs,
      polls: 0,
      pollAt: now + pollDelay(0, config.pollFirstMs),
      upstreamCalls: 0,
    };
    // Kept before the Run leaves: if its answer is lost, this task still knows it was sent.
    this.#record = record;
    this.ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS events (
         id INTEGER PRIMARY KEY, status TEXT NOT NULL, at INTEGER NOT NULL, task TEXT NOT NULL)`,
    );
    await this.#save();

    const wiro = new WiroClient(config);
    let answer: RunAnswer;
    try {
      answer = await wiro.run(TOOL_SLUG, upstreamRunBody(args.input, args.callbackUrl));
    } catch (error) {
      const failed = failure(error);
      if (!(error instanceof UpstreamError) || error.refused) {
        // Nothing started: leave no state behind, so a retry may start afresh.
        this.#record = undefined;
        await this.ctx.storage.deleteAll();
        return { ...failed, run: 'refused' };
      }
      // Wiro may have started the task: follow it as unconfirmed until it is found or given up.
      record.upstreamCalls += wiro.calls;
      this.#append(record.task);
      await this.#schedule();
      this.#log('Run answer lost; looking for the task on Wiro', failed.errors[0]?.message);
      const hint =
        'The Run may have started: follow it with this taskid, or repeat the request with the same Idempotency-Key';
      return { ...failed, run: 'lost', extra: { taskid: record.taskid, socketaccesstoken: record.token, hint } };
    }
    record.wiro = { taskid: answer.taskid, token: answer.socketaccesstoken };
    record.upstreamCalls += wiro.calls;
    this.#append(record.task);
    await this.#schedule();
    // Not awaited: the client gets its token now; the socket joins in as soon as it can.
    this.ctx.waitUntil(this.#subscribe());
    return { ok: true, body: { result: true, errors: [], taskid: record.taskid, socketaccesstoken: record.token } };
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
      return refusal(409, `Task ${record.taskid} has already ended (${record.task.status}); there is nothing to stop`);
    }
    if (!record.wiro) {
      return refusal(409, 'Wiro has not confirmed this task yet: try again in a few seconds');
    }
    const answer = await this.#stopOnWiro(record.wiro.taskid, how);
    if (!answer.ok) return answer;
    // Wiro's answer to our own signed call is first-hand; use its task when it sends one.
    const task = Array.isArray(answer.body.tasklist) ? (answer.body.tasklist[0] as WiroTask | undefined) : undefined;
    if (task && typeof task.status === 'string') await this.#apply(task);
    else await this.#refresh().catch((error) => this.#log('re-read after stopping failed', error));
    return { ok: true, body: record.task };
  }

  async #stopOnWiro(wiroTaskid: string, how: 'cancel' | 'kill'): Promise<Outcome<WiroEnvelope>> {
    const record = this.#record;
    const wiro = new WiroClient(readConfig(this.env));
    try {
      return { ok: true, body: how === 'cancel' ? await wiro.cancel(wiroTaskid) : await wiro.kill(wiroTaskid) };
    } catch (error) {
      return failure(error);
    } finally {
      if (record) record.upstreamCalls += wiro.calls;
      await this.#save();
    }
  }

  /**
   * A callback from Wiro arrived: a hint only. The task changes only after a fresh read. For a
   * Run whose answer was lost, the callback's body names Wiro's token, which is believed only if
   * Wiro, asked with it, reports a task carrying this object's own signed callback URL.
   */
  async hint(body: unknown): Promise<Outcome<{ status: string }>> {
    const record = this.#record;
    if (!record) return notFound();
    try {
      if (!record.wiro) await this.#attachFrom(callbackToken(body));
      else if (!isTerminal(record.task.status) || record.stoppedWaitingAt) await this.#refresh();
    } catch (error) {
      // Keep polling; the alarm will try again.
      this.#log('callback re-read failed', error);
    }
    return { ok: true, body: { status: record.task.status } };
  }

  /** Events after `afterId`, oldest first: the history a new or returning watcher catches up on. */
  events(afterId = 0): TaskEvent[] {
    if (!this.#record) return [];
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
    if (!record) return Response.json({ result: false, errors: notFound().errors }, { status: 404 });
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
   * One alarm serves every timed job: finding a Run whose answer was lost, polling Wiro while no
   * callback comes (until the deadline, then stopping the task), reading a stopped task until
   * Wiro reports its end, and relaying the final task to the client's webhook, with retries.
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
    if (!record || record.pollAt === undefined || record.pollAt > dueBy) return;
    record.polls++;
    const now = Date.now();
    if (record.stoppedWaitingAt !== undefined) {
      await this.#refresh().catch((error) => this.#log('late read failed', error));
      if (record.pollAt === undefined) return;
      if (now - record.stoppedWaitingAt >= AFTERLIFE_MS) {
        // Wiro never reported the end: the reservation stays booked as the cost.
        record.pollAt = undefined;
        await this.#settleCost(undefined);
      } else record.pollAt = now + AFTERLIFE_POLL_MS;
      await this.#save();
      return;
    }
    // While Wiro's socket keeps talking, a poll would only repeat what it said.
    const socketLively = this.#upstream.connected && now - this.#upstream.lastMessageAt < SOCKET_QUIET_MS;
    if (!socketLively) {
      try {
        if (record.wiro) await this.#refresh();
        else await this.#findLostRun();
      } catch (error) {
        this.#log('poll failed', error);
      }
    }
    if (isTerminal(record.task.status)) return;
    if (Date.now() >= record.deadlineAt) {
      await this.#giveUp();
      return;
    }
    record.pollAt = nextPollAt(Date.now(), record.polls, readConfig(this.env).pollFirstMs, record.deadlineAt);
    await this.#save();
  }

  /**
   * The deadline passed: the client is told the task failed, and the task is stopped on Wiro so
   * nobody pays for it any longer. Its end (and cost) is still read until Wiro reports it.
   */
  async #giveUp(): Promise<void> {
    const record = this.#record;
    if (!record) return;
    const queued = QUEUED_STATUSES.includes(record.task.status);
    const waited = Date.now() - record.createdAt;
    record.stoppedWaitingAt = Date.now();
    record.pollAt = Date.now() + AFTERLIFE_POLL_MS;
    await this.#apply(timedOut(record.task, waited), { trusted: true });
    if (!record.wiro) {
      // Wiro never confirmed the Run: its cost cannot be read, so the reservation is booked.
      record.pollAt = undefined;
      await this.#settleCost(undefined);
      return;
    }
    const stopped = await this.#stopOnWiro(record.wiro.taskid, queued ? 'cancel' : 'kill');
    if (!stopped.ok) this.#log('could not stop the task on Wiro', stopped.errors[0]?.message);
    await this.#refresh().catch((error) => this.#log('read after stopping failed', error));
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
    if (!record?.socketUrl || !record.wiro || isTerminal(record.task.status) || this.#upstream.connected) return;
    if ((record.socketAttempts ?? 0) >= SOCKET_ATTEMPTS) return;
    record.socketAttempts = (record.socketAttempts ?? 0) + 1;
    await this.#save();
    const opened = await this.#upstream.open(record.socketUrl, record.wiro.token, (message) => {
      this.#socketQueue = this.#socketQueue.then(() => this.#onSocketMessage(message));
    });
    if (!opened) this.#log('Wiro socket unavailable; polling', `attempt ${record.socketAttempts}`);
  }

  /**
   * A frame from Wiro's socket. Running statuses and progress are taken as they come (the socket
   * is Wiro's, reached with Wiro's token for this task, which only this object holds); an ending
   * is confirmed with Detail, which also brings the outputs and the exit code. `task_error` on
   * the socket is a line of stderr, not a status: it changes nothing.
   */
  async #onSocketMessage(message: SocketMessage): Promise<void> {
    const record = this.#record;
    if (!record || isTerminal(record.task.status) || message.type === 'task_error') return;
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
    if (record.pollAt !== undefined) due.push(record.pollAt);
    const webhook = record.webhook;
    if (webhook && !webhook.delivered && !webhook.gaveUp) due.push(webhook.nextAt);
    record.alarmAt = due.length > 0 ? Math.min(...due) : undefined;
    await this.#save();
    if (record.alarmAt !== undefined) await this.ctx.storage.setAlarm(record.alarmAt);
    else await this.ctx.storage.deleteAlarm();
  }

  /** Re-reads the task on Wiro by Wiro's token, once at a time: callers that arrive meanwhile share the read. */
  #refresh(): Promise<void> {
    const record = this.#record;
    if (!record?.wiro) return Promise.resolve();
    const token = record.wiro.token;
    this.#refreshing ??= (async () => {
      const wiro = new WiroClient(readConfig(this.env));
      try {
        const task = await wiro.detail(token);
        record.readAt = Date.now();
        await this.#apply(task);
      } finally {
        record.upstreamCalls += wiro.calls;
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  /** A Run whose answer was lost: Wiro's latest tasks are searched for the one sent with our callback URL. */
  async #findLostRun(): Promise<void> {
    const record = this.#record;
    if (!record || record.wiro) return;
    const wiro = new WiroClient(readConfig(this.env));
    try {
      const found = (await wiro.list({ start: 0, limit: LOST_RUN_SEARCH })).find(
        (task) => task.callbackurl === record.callbackUrl,
      );
      if (found) await this.#attach(found);
    } finally {
      record.upstreamCalls += wiro.calls;
    }
  }

  /** Asks Wiro about the token a callback named; attaches the task only if it is this object's. */
  async #attachFrom(token: string | undefined): Promise<void> {
    const record = this.#record;
    if (!record || record.wiro || !token) return;
    const wiro = new WiroClient(readConfig(this.env));
    try {
      const task = await wiro.detail(token);
      if (task.callbackurl === record.callbackUrl) await this.#attach(task);
    } finally {
      record.upstreamCalls += wiro.calls;
    }
  }

  async #attach(task: WiroTask): Promise<void> {
    const record = this.#record;
    if (!record || record.wiro) return;
    record.wiro = { taskid: String(task.id), token: String(task.socketaccesstoken) };
    record.readAt = Date.now();
    this.#log('attached the Run whose answer was lost', `Wiro task ${record.wiro.taskid}`);
    await this.#apply(task);
    this.ctx.waitUntil(this.#subscribe());
  }

  /**
   * Takes a task read from Wiro (or made by the Worker, when `trusted`) and moves the state
   * forward if it is news. Persists first, then tells the watchers.
   */
  async #apply(upstream: Record<string, unknown>, options: { trusted?: boolean } = {}): Promise<void> {
    const record = this.#record;
    if (!record) return;
    const next = options.trusted ? (upstream as WiroTask) : toClientTask(upstream, record, record.clientCallbackUrl);
    if (record.stoppedWaitingAt !== undefined && !options.trusted) {
      await this.#lateResult(next);
      return;
    }
    if (!shouldApply(record.task, next)) {
      await this.#save();
      return;
    }
    const terminal = isTerminal(next.status);
    if (terminal) {
      if (record.stoppedWaitingAt === undefined) record.pollAt = undefined;
      this.#upstream.close();
      if (this.env.OUTPUTS && !isFailed(next)) next.outputs = await this.#keep(next.outputs);
      if (record.clientCallbackUrl) {
        record.webhook = {
          url: record.clientCallbackUrl,
          id: `msg_${record.taskid}`,
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
    if (terminal) {
      await this.#schedule();
      await this.#releaseSlot();
      if (record.stoppedWaitingAt === undefined) await this.#settleCost(Number(next.totalcost));
    }
  }

  /**
   * Wiro's word on a task the Worker stopped waiting for: once Wiro reports its end, its real
   * cost is booked and any outputs it still made are kept (Detail shows them).
   */
  async #lateResult(task: WiroTask): Promise<void> {
    const record = this.#record;
    if (!record || !isTerminal(task.status)) return;
    record.pollAt = undefined;
    if (task.outputs.length > 0 && !isFailed(task)) {
      record.task.outputs = this.env.OUTPUTS ? await this.#keep(task.outputs) : task.outputs;
    }
    record.task.totalcost = task.totalcost;
    await this.#save();
    await this.#schedule();
    await this.#settleCost(Number(task.totalcost));
  }

  #keep(outputs: WiroTask['outputs']) {
    const bucket = this.env.OUTPUTS;
    const record = this.#record;
    if (!bucket || !record) return Promise.resolve(outputs);
    return keepOutputs(bucket, this.ctx.id.toString(), record.publicOrigin, outputs, (what, error) =>
      this.#log(what, error),
    );
  }

  /** The task no longer counts as running for its client. */
  async #releaseSlot(): Promise<void> {
    const record = this.#record;
    if (!record || record.slotReleased) return;
    try {
      await this.env.LIMITER.get(this.env.LIMITER.idFromName(record.client.key)).release(record.ticket);
      record.slotReleased = true;
      await this.#save();
    } catch (error) {
      this.#log('could not release the running slot', error);
    }
  }

  /** The task's cost replaces its reservation in the budget (undefined: the reservation stays as the cost). */
  async #settleCost(cost: number | undefined): Promise<void> {
    const record = this.#record;
    if (!record || record.costSettled) return;
    try {
      await this.env.BUDGET.get(this.env.BUDGET.idFromName('global')).settle(record.ticket, cost);
      record.costSettled = true;
      await this.#save();
    } catch (error) {
      this.#log('could not book the cost', error);
    }
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
    console.warn(`TaskObject ${this.ctx.id.toString().slice(0, 12)}: ${what}: ${message}`);
  }
}

function notFound(): Failure {
  return { ok: false, status: 404, errors: [{ code: WiroCode.notFound, message: NOT_FOUND_MESSAGE }] };
}

/** Wiro's token in a callback's body (Wiro does not document the body: both shapes are read). */
function callbackToken(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as { socketaccesstoken?: unknown; tasklist?: unknown };
  const first = Array.isArray(record.tasklist) ? (record.tasklist[0] as { socketaccesstoken?: unknown }) : record;
  const token = first?.socketaccesstoken;
  return typeof token === 'string' && /^[\w-]{8,128}$/.test(token) ? token : undefined;
}

/** What records kept before ids were signed: Wiro's id as the taskid, and Wiro's token apart. */
interface LegacyFields {
  upstreamToken?: string;
}

/** A record written before ids were signed: its token becomes its taskid too (both open it). */
function migrate(saved: (TaskRecord & LegacyFields) | undefined): TaskRecord | undefined {
  if (!saved?.upstreamToken) return saved;
  const { upstreamToken, ...record } = saved;
  const legacyClient = record.client as unknown as { key: string; origin?: string; budgetLine?: string };
  return {
    ...record,
    wiro: { taskid: record.taskid, token: upstreamToken },
    taskid: record.token,
    task: { ...record.task, id: record.token },
    client: { key: legacyClient.key, budgetLine: legacyClient.budgetLine ?? legacyClient.origin ?? '' },
    callbackUrl: record.callbackUrl ?? '',
  };
}
