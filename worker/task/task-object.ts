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
import {
  isFailed,
  isTerminal,
  QUEUED_STATUSES,
  type RunAnswer,
  rankOf,
  type SocketMessage,
  toSocketMessage,
  type WiroEnvelope,
  type WiroTask,
} from '../../shared/protocol';
import { type Bindings, readConfig } from '../env';
import { upstreamRunBody } from '../tool/schema';
import { UpstreamError, WiroClient } from '../wiro/client';
import { Claim } from './claim';
import { EventLog } from './event-log';
import { findLostRun } from './lost-run';
import { keepOutputs } from './outputs';
import {
  failure,
  newRecord,
  notFound,
  type Outcome,
  refusal,
  replayOf,
  type StartAnswer,
  type StartArgs,
  type TaskEvent,
  type TaskRecord,
} from './record';
import { AFTERLIFE_MS, AFTERLIFE_POLL_MS, nextPollAt } from './schedule';
import { releaseSlot, settleCost } from './settlement';
import { parseProgress, shouldApply, timedOut, toClientTask } from './state';
import { UpstreamSocket } from './upstream-socket';
import { Watchers } from './watchers';
import { afterAttempt, deliverWebhook, isDue, isPending, newWebhook } from './webhook';

/** A poll is skipped when Wiro's socket spoke more recently than this. */
const SOCKET_QUIET_MS = 15_000;
const SOCKET_ATTEMPTS = 3;

export class TaskObject extends DurableObject<Bindings> {
  #record: TaskRecord | undefined;
  #refreshing: Promise<void> | undefined;
  /** An `Idempotency-Key` Run on its way here: repeats wait for it instead of racing it. */
  readonly #claim = new Claim();
  readonly #upstream = new UpstreamSocket();
  /** Socket messages are handled one at a time, in order. */
  #socketQueue: Promise<void> = Promise.resolve();
  readonly #watchers: Watchers;
  readonly #history: EventLog;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.#watchers = new Watchers(ctx);
    this.#history = new EventLog(ctx.storage.sql);
    // Reading writes nothing: an object opened by an identifier it never had stays empty.
    ctx.blockConcurrencyWhile(async () => {
      this.#record = await ctx.storage.get<TaskRecord>('record');
    });
  }

  /**
   * For an `Idempotency-Key` Run: the first task's answer when there is one; otherwise the
   * caller holds the claim (undefined) and must `start` or `unclaim`. A repeat that arrives
   * while the first Run is being admitted waits for it, so it gets that task, never a refusal.
   */
  async claim(fingerprint: string): Promise<Outcome<StartAnswer> | undefined> {
    await this.#claim.wait();
    const replay = replayOf(this.#record, fingerprint);
    if (replay) return replay;
    this.#claim.take();
    return undefined;
  }

  /** The claimed Run was refused before it was sent: the next repeat may try. */
  unclaim(): void {
    this.#claim.release();
  }

  /** Starts the task on Wiro; Wiro's Run is never retried, and never sent twice for one task. */
  async start(args: StartArgs): Promise<Outcome<StartAnswer>> {
    try {
      const replay = replayOf(this.#record, args.fingerprint);
      if (replay) return replay;
      return await this.#begin(args);
    } finally {
      this.unclaim();
    }
  }

  async #begin(args: StartArgs): Promise<Outcome<StartAnswer>> {
    const config = readConfig(this.env);
    const record = newRecord(args, config, Date.now());
    // Kept before the Run leaves: if its answer is lost, this task still knows it was sent.
    this.#record = record;
    this.#history.create();
    await this.#save();

    const wiro = new WiroClient(config);
    let answer: RunAnswer;
    try {
      answer = await wiro.run(args.slug, upstreamRunBody(args.input, args.callbackUrl));
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
      if (!record.wiro) await this.#findLostRun(body);
      else if (!isTerminal(record.task.status) || record.stoppedWaitingAt) await this.#refresh();
    } catch (error) {
      // Keep polling; the alarm will try again.
      this.#log('callback re-read failed', error);
    }
    return { ok: true, body: { status: record.task.status } };
  }

  /** Events after `afterId`, oldest first: the history a new or returning watcher catches up on. */
  events(afterId = 0): TaskEvent[] {
    return this.#record ? this.#history.after(afterId) : [];
  }

  /** Counters for operators and benchmarks. */
  stats(): { upstreamCalls: number; polls: number; status: string; watchers: number } | undefined {
    const record = this.#record;
    if (!record) return undefined;
    return {
      upstreamCalls: record.upstreamCalls,
      polls: record.polls,
      status: record.task.status,
      watchers: this.#watchers.size,
    };
  }

  /** The live streams: Wiro's socket protocol over a WebSocket, or Server-Sent Events. */
  override async fetch(request: Request): Promise<Response> {
    const record = this.#record;
    if (!record) return Response.json({ result: false, errors: notFound().errors }, { status: 404 });
    return this.#watchers.open(request, record.task, (afterId) => this.events(afterId));
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
    if (!record || !webhook || !isDue(webhook, dueBy)) return;
    const secret = this.env.WEBHOOK_SECRET;
    const result = secret
      ? await deliverWebhook(webhook, secret, record.task)
      : { ok: false, outcome: 'no WEBHOOK_SECRET' };
    record.webhook = afterAttempt(webhook, result.ok, Boolean(secret), Date.now());
    if (!result.ok) this.#log(`webhook attempt ${record.webhook.attempts} failed`, result.outcome);
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
      } else if (rankOf(message.type) !== undefined) {
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
    if (record.webhook && isPending(record.webhook)) due.push(record.webhook.nextAt);
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

  /**
   * A Run whose answer was lost: the task is looked for on Wiro (from a callback's body, or in
   * Wiro's task list) and attached once Wiro shows it carries this object's callback URL.
   */
  async #findLostRun(callbackBody?: unknown): Promise<void> {
    const record = this.#record;
    if (!record || record.wiro) return;
    const wiro = new WiroClient(readConfig(this.env));
    try {
      const found = await findLostRun(wiro, record.callbackUrl, callbackBody);
      if (found) await this.#attach(found);
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
      if (record.clientCallbackUrl) record.webhook = newWebhook(record.clientCallbackUrl, `msg_${record.taskid}`);
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
    await releaseSlot(this.env, record).catch((error) => this.#log('could not release the running slot', error));
    await this.#save();
  }

  /** The task's cost replaces its reservation in the budget (undefined: the reservation stays as the cost). */
  async #settleCost(cost: number | undefined): Promise<void> {
    const record = this.#record;
    if (!record || record.costSettled) return;
    await settleCost(this.env, record, cost).catch((error) => this.#log('could not book the cost', error));
    await this.#save();
  }

  /** Stores the task's new state as an event, then tells every watcher. */
  #append(task: WiroTask): void {
    this.#watchers.send(this.#history.append(task));
  }

  async #save(): Promise<void> {
    if (this.#record) await this.ctx.storage.put('record', this.#record);
  }

  #log(what: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    console.warn(`TaskObject ${this.ctx.id.toString().slice(0, 12)}: ${what}: ${message}`);
  }
}
