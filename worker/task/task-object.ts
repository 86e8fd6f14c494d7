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
import { isFailed, isTerminal, QUEUED_STATUSES, type WiroTask } from '../../shared/protocol';
import { type Bindings, readConfig } from '../env';
import { upstreamRunBody } from '../tool/schema';
import { Claim } from './claim';
import { EventLog } from './event-log';
import { keepOutputs } from './outputs';
import {
  lostRun,
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
import { deadlinePassed, nextAlarmAt, nextLateReadAt, nextPollAt, stopIsTooSoon } from './schedule';
import { ranToTheEnd, Settlement } from './settlement';
import { shouldApply, timedOut, toClientTask } from './state';
import { attach, type StopHow, UpstreamCalls } from './upstream-calls';
import { UpstreamFollower } from './upstream-socket';
import { Watchers } from './watchers';
import { isDue, newWebhook, relayOnce } from './webhook';

export class TaskObject extends DurableObject<Bindings> {
  #record: TaskRecord | undefined;
  #refreshing: Promise<void> | undefined;
  /** An `Idempotency-Key` Run on its way here: repeats wait for it instead of racing it. */
  readonly #claim = new Claim();
  readonly #calls = new UpstreamCalls(this.env);
  readonly #settlement = new Settlement(this.env, (what, error) => this.#log(what, error));
  readonly #follower = new UpstreamFollower({
    record: () => this.#record,
    save: () => this.#save(),
    moved: (task) => this.#apply(task, { trusted: true }),
    ended: () => this.#refresh(),
    log: (what, error) => this.#log(what, error),
  });
  readonly #watchers = new Watchers(this.ctx);
  readonly #history = new EventLog(this.ctx.storage.sql);

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    // Reading writes nothing: an object opened by an identifier it never had stays empty.
    ctx.blockConcurrencyWhile(async () => {
      this.#record = await ctx.storage.get<TaskRecord>('record');
    });
  }

  /**
   * For an `Idempotency-Key` Run: the first task's answer when there is one; otherwise the
   * caller holds the claim (undefined) and must `start` or `unclaim`. A repeat that arrives
   * while the first Run is being admitted waits for it, so it gets that task, never a refusal.
   * The Worker asks this while the Run's limits are checked, not before.
   */
  async claim(fingerprint: string): Promise<Outcome<StartAnswer> | undefined> {
    await this.#claim.wait();
    const replay = replayOf(this.#record, fingerprint);
    if (replay) return replay;
    this.#claim.take();
    return undefined;
  }

  /** For a claim holder refused before sending: the task a repeat started meanwhile, if one did. */
  async replay(fingerprint: string): Promise<Outcome<StartAnswer> | undefined> {
    await this.#claim.wait();
    return replayOf(this.#record, fingerprint);
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
    this.#save();

    const answer = await this.#calls.run(record, args.slug, upstreamRunBody(args.input, args.callbackUrl));
    if (!answer.ok && answer.run === 'refused') {
      // Nothing started: leave no state behind, so a retry may start afresh.
      this.#record = undefined;
      await this.ctx.storage.deleteAll();
      return answer;
    }
    // A lost answer: Wiro may have started the task, so it is followed as unconfirmed until found or given up.
    if (answer.ok) record.wiro = { taskid: answer.body.taskid, token: answer.body.socketaccesstoken };
    this.#append(record.task);
    await this.#schedule();
    if (!answer.ok) {
      this.#log('Run answer lost; looking for the task on Wiro', answer.errors[0]?.message);
      return lostRun(answer, record);
    }
    // Not awaited: the client gets its token now; the socket joins in as soon as it can.
    this.ctx.waitUntil(this.#follower.follow());
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
  async stop(how: StopHow): Promise<Outcome<WiroTask>> {
    const record = this.#record;
    if (!record) return notFound();
    if (isTerminal(record.task.status)) {
      return refusal(409, `Task ${record.taskid} has already ended (${record.task.status}); there is nothing to stop`);
    }
    // A repeat soon after a stop answers the task as it stands; only the first reaches Wiro.
    if (stopIsTooSoon(Date.now(), record.stopRequestedAt)) return { ok: true, body: record.task };
    const answer = await this.#calls.stop(record, how);
    this.#save();
    if (!answer.ok) return answer;
    // Wiro's answer to our own signed call is first-hand; use its task when it sends one.
    const task = Array.isArray(answer.body.tasklist) ? (answer.body.tasklist[0] as WiroTask | undefined) : undefined;
    if (task && typeof task.status === 'string') await this.#apply(task);
    else await this.#refresh().catch((error) => this.#log('re-read after stopping failed', error));
    return { ok: true, body: record.task };
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
  stats() {
    if (!this.#record) return undefined;
    const { upstreamCalls, polls, task } = this.#record;
    return { upstreamCalls, polls, status: task.status, watchers: this.#watchers.size };
  }

  /** The live streams: Wiro's socket protocol over a WebSocket, or Server-Sent Events. */
  override async fetch(request: Request): Promise<Response> {
    const record = this.#record;
    if (!record) return Response.json({ result: false, errors: notFound().errors }, { status: 404 });
    return this.#watchers.open(request, record.task, (afterId) => this.events(afterId));
  }

  /** A socket client may ask again (`task_info`): it gets the current state. */
  override async webSocketMessage(ws: WebSocket): Promise<void> {
    if (this.#record) this.#watchers.sendCurrent(ws, this.#record.task);
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
    await this.#follower.follow();
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
      record.pollAt = nextLateReadAt(now, record.stoppedWaitingAt);
      // Wiro never reported the end: the reservation stays booked as the cost.
      if (record.pollAt === undefined) await this.#settlement.settleCost(record, undefined);
      this.#save();
      return;
    }
    if (!this.#follower.lively(now)) {
      try {
        if (record.wiro) await this.#refresh();
        else await this.#findLostRun();
      } catch (error) {
        this.#log('poll failed', error);
      }
    }
    if (isTerminal(record.task.status)) return;
    if (deadlinePassed(Date.now(), record.deadlineAt)) {
      await this.#giveUp();
      return;
    }
    record.pollAt = nextPollAt(Date.now(), record.polls, readConfig(this.env).pollFirstMs, record.deadlineAt);
    this.#save();
  }

  /**
   * The deadline passed: the client is told the task failed, and the task is stopped on Wiro so
   * nobody pays for it any longer. Its end (and cost) is still read until Wiro reports it.
   */
  async #giveUp(): Promise<void> {
    const record = this.#record;
    if (!record) return;
    const queued = QUEUED_STATUSES.includes(record.task.status);
    record.stoppedWaitingAt = Date.now();
    record.pollAt = nextLateReadAt(record.stoppedWaitingAt, record.stoppedWaitingAt);
    await this.#apply(timedOut(record.task, record.stoppedWaitingAt - record.createdAt), { trusted: true });
    if (!record.wiro) {
      // Wiro never confirmed the Run: its cost cannot be read, so the reservation is booked.
      record.pollAt = undefined;
      // Saved when the alarm sets its next time.
      await this.#settlement.settleCost(record, undefined);
      return;
    }
    const stopped = await this.#calls.stop(record, queued ? 'cancel' : 'kill');
    if (!stopped.ok) this.#log('could not stop the task on Wiro', stopped.errors[0]?.message);
    await this.#refresh().catch((error) => this.#log('read after stopping failed', error));
  }

  async #relay(dueBy: number): Promise<void> {
    const record = this.#record;
    if (!record?.webhook || !isDue(record.webhook, dueBy)) return;
    const { state, failed } = await relayOnce(record.webhook, this.env.WEBHOOK_SECRET, record.task);
    record.webhook = state;
    if (failed) this.#log(`webhook attempt ${state.attempts} failed`, failed);
    this.#save();
  }

  /** Sets the alarm for whatever is due next, or clears it when nothing is. */
  async #schedule(): Promise<void> {
    const record = this.#record;
    if (!record) return;
    record.alarmAt = nextAlarmAt(record.pollAt, record.webhook);
    this.#save();
    if (record.alarmAt !== undefined) await this.ctx.storage.setAlarm(record.alarmAt);
    else await this.ctx.storage.deleteAlarm();
  }

  /** Re-reads the task on Wiro by Wiro's token, once at a time: callers that arrive meanwhile share the read. */
  #refresh(): Promise<void> {
    const record = this.#record;
    if (!record?.wiro) return Promise.resolve();
    this.#refreshing ??= (async () => {
      try {
        const task = await this.#calls.read(record);
        record.readAt = Date.now();
        await this.#apply(task);
      } finally {
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
    const found = await this.#calls.findLost(record, callbackBody);
    // Another caller may have attached it meanwhile.
    if (!found || record.wiro) return;
    attach(record, found);
    this.#log('attached the Run whose answer was lost', `Wiro task ${found.id}`);
    await this.#apply(found);
    this.ctx.waitUntil(this.#follower.follow());
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
      this.#save();
      return;
    }
    const terminal = isTerminal(next.status);
    if (terminal) {
      if (record.stoppedWaitingAt === undefined) record.pollAt = undefined;
      this.#follower.close();
      if (this.env.OUTPUTS && !isFailed(next)) next.outputs = await this.#keep(this.env.OUTPUTS, next.outputs);
      if (record.clientCallbackUrl) record.webhook = newWebhook(record.clientCallbackUrl, `msg_${record.taskid}`);
    }
    record.task = next;
    this.#save();
    this.#append(next);
    if (terminal) {
      // The watchers first: the bookkeeping below (the alarm, the limiter and budget calls)
      // would otherwise hold the streams' bytes until it is done (SSE, 1 watcher: 21 → 12 ms).
      await this.#watchers.delivered();
      await this.#schedule();
      await this.#settlement.releaseSlot(record);
      if (record.stoppedWaitingAt === undefined) {
        await this.#settlement.settleCost(record, Number(next.totalcost), ranToTheEnd(next, record));
      }
      this.#save();
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
      record.task.outputs = this.env.OUTPUTS ? await this.#keep(this.env.OUTPUTS, task.outputs) : task.outputs;
    }
    record.task.totalcost = task.totalcost;
    await this.#schedule();
    await this.#settlement.settleCost(record, Number(task.totalcost));
    this.#save();
  }

  #keep(bucket: R2Bucket, outputs: WiroTask['outputs']) {
    const log = (what: string, error: unknown) => this.#log(what, error);
    return keepOutputs(bucket, this.ctx.id.toString(), this.#record?.publicOrigin ?? '', outputs, log);
  }

  /** Stores the task's new state as an event, then tells every watcher. */
  #append(task: WiroTask): void {
    this.#watchers.send(this.#history.append(task));
  }

  /**
   * Synchronous, so a status is stored and then sent in the same turn, with no wait between: the
   * write is in storage before any watcher can read the event.
   */
  #save(): void {
    if (this.#record) this.ctx.storage.kv.put('record', this.#record);
  }

  #log(what: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    console.warn(`TaskObject ${this.ctx.id.toString().slice(0, 12)}: ${what}: ${message}`);
  }
}
