/**
 * The wallet guard under attack: what an attacker tried (issue: "the wallet guard holds under
 * attack"), each shown failing. Cost is reserved up front and settled with Wiro's real cost; one
 * visitor is one client; repeats of a key never race; a task given up on is stopped on Wiro and
 * its cost still counts; state stays bounded whatever the headers say.
 */
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject, SELF } from 'cloudflare:test';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { type Bindings, readConfig } from '../../worker/env';
import { ApiError } from '../../worker/errors';
import { DEFAULT_RUN_COST_ESTIMATE } from '../../worker/guard/budget';
import { claimWhileAdmitting, idempotentObjectKey, requestFingerprint } from '../../worker/guard/idempotency';
import { newTaskObject } from '../../worker/task/token';
import { validateRunInput } from '../../worker/tool/schema';
import {
  budgetStub,
  budgetUsage,
  detail,
  emulator,
  post,
  resetBudget,
  runAs,
  taskObjectOf,
  validRun,
  wiroIdOf,
} from './helpers';

const GENEROUS = { RUN_LIMIT_PER_MINUTE: '1000', MAX_RUNNING_PER_CLIENT: '1000' };

beforeEach(async () => {
  await emulator.reset();
  await resetBudget();
});

async function statuses(responses: Response[]): Promise<number[]> {
  return responses.map((response) => response.status);
}

async function runCalls(): Promise<number> {
  return (await emulator.state()).calls.filter((call) => call.route === 'Run').length;
}

describe('the spending cap', () => {
  it('reserves each Run’s cost up front: 50 at once under a $0.01 cap admit one', async () => {
    const vars = { ...GENEROUS, DAILY_SPEND_LIMIT: '0.01' };
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => runAs(`198.51.100.${i + 1}`, vars)));
    const codes = await statuses(answers);
    // Admitted is anything not refused: on a loaded machine the one Run's answer may come late (504).
    expect(codes.filter((code) => code !== 429)).toHaveLength(1);
    expect(codes.filter((code) => code === 429)).toHaveLength(49);
    expect(await runCalls()).toBe(1);
    const usage = await budgetUsage();
    expect(usage).toMatchObject({ runs: 1, openRuns: 1 });
    expect(usage.reserved).toBeGreaterThan(0);
  });

  it('settles the reservation with Wiro’s totalcost when the task ends, and learns from it', async () => {
    const started = await runAs('198.51.100.60', GENEROUS);
    const { socketaccesstoken } = (await started.json()) as { socketaccesstoken: string };
    await emulator.advance(await wiroIdOf(socketaccesstoken), 'task_postprocess_end');
    const { body } = await detail(socketaccesstoken);
    const cost = Number(body.tasklist[0].totalcost);
    expect(cost).toBeGreaterThan(0);
    const usage = await budgetUsage();
    expect(usage).toMatchObject({ reserved: 0, openRuns: 0 });
    expect(usage.spend).toBeCloseTo(cost, 10);
    // A default Run is one unit: the next estimate is what it cost, with a margin, never less.
    expect(usage.estimatePerRun).toBeCloseTo(cost * 1.25, 10);
  });

  it('never estimates below the owner’s figure (RUN_COST_ESTIMATE), and grows with the work asked', async () => {
    const vars = { ...GENEROUS, RUN_COST_ESTIMATE: '0.2' };
    await runAs('198.51.100.61', vars);
    await runAs('198.51.100.61', vars, {}, { ...validRun, samples: 4 });
    const reservations = await runInDurableObject(budgetStub(), async (_, state) => {
      const saved = await state.storage.get<{ reservations: Record<string, { amount: number }> }>('usage');
      return Object.values(saved?.reservations ?? {}).map((reservation) => reservation.amount);
    });
    expect(reservations.sort()).toEqual([0.2, 0.8]);
  });

  it('lets no cap be passed by 50 simultaneous Runs: spend, runs per day, per minute, running', async () => {
    const caps: Array<[string, Record<string, string>, number]> = [
      ['DAILY_SPEND_LIMIT', { ...GENEROUS, DAILY_SPEND_LIMIT: '0.12' }, 3],
      ['DAILY_RUN_LIMIT', { ...GENEROUS, DAILY_RUN_LIMIT: '4' }, 4],
      ['RUN_LIMIT_PER_MINUTE', { ...GENEROUS, RUN_LIMIT_PER_MINUTE: '5' }, 5],
      ['MAX_RUNNING_PER_CLIENT', { ...GENEROUS, MAX_RUNNING_PER_CLIENT: '2' }, 2],
    ];
    for (const [name, vars, cap] of caps) {
      await resetBudget();
      const ip = `198.18.0.${cap}`;
      const answers = await Promise.all(Array.from({ length: 50 }, () => runAs(ip, vars)));
      const admitted = (await statuses(answers)).filter((code) => code !== 429).length;
      expect(admitted, name).toBeLessThanOrEqual(cap);
      expect(admitted, name).toBeGreaterThan(0);
      // Each admitted Run's task is cancelled, so the next cap starts with free slots.
      for (const answer of answers.filter((response) => response.status === 200)) {
        const { socketaccesstoken } = (await answer.json()) as { socketaccesstoken: string };
        await post('/v1/Task/Cancel', { tasktoken: socketaccesstoken });
      }
    }
  });
});

describe('stopping a task', () => {
  async function running(ip: string): Promise<{ token: string; wiroId: string }> {
    const started = await runAs(ip, GENEROUS);
    const { socketaccesstoken: token } = (await started.json()) as { socketaccesstoken: string };
    const wiroId = await wiroIdOf(token);
    await emulator.advance(wiroId, 'task_output');
    // The object reads it, so it knows the task is running.
    await runDurableObjectAlarm(taskObjectOf(token));
    return { token, wiroId };
  }

  it('learns the estimate only from tasks that finished normally, yet books what a killed one cost', async () => {
    const { token, wiroId } = await running('198.51.100.63');
    expect((await post('/v1/Task/Kill', { tasktoken: token })).status).toBe(200);
    expect((await detail(token)).body.tasklist[0].status).toBe('task_cancel');
    const cost = Number((await emulator.state()).tasks.find((task) => task.id === wiroId)?.totalcost);
    expect(cost).toBeGreaterThan(0);
    const usage = await budgetUsage();
    expect(usage).toMatchObject({ openRuns: 0, reserved: 0 });
    expect(usage.spend).toBeCloseTo(cost, 10);
    // A killed task's cost is partial: learning from it would let more Runs under the cap.
    expect(usage.estimatePerRun).toBe(DEFAULT_RUN_COST_ESTIMATE);
  });

  it('names the task to Wiro by its id and Wiro’s own token for it', async () => {
    const { token, wiroId } = await running('198.51.100.64');
    await post('/v1/Task/Kill', { tasktoken: token });
    const { calls, tasks } = await emulator.state();
    const wiroToken = tasks.find((task) => task.id === wiroId)?.socketaccesstoken;
    expect(wiroToken).toEqual(expect.any(String));
    expect(calls.filter((call) => call.route === 'Kill').map((call) => call.body)).toEqual([
      { taskid: wiroId, tasktoken: wiroToken },
    ]);
  });

  it('sends one stop to Wiro for many rapid Kill calls, and answers the repeats with the task', async () => {
    const { token } = await running('198.51.100.65');
    // Wiro fails the stop, so the task keeps running and every repeat could call again.
    await emulator.fault({ route: 'Kill', kind: '500', times: 10 });
    const first = await post('/v1/Task/Kill', { tasktoken: token });
    expect(first.status).toBeGreaterThanOrEqual(500);
    for (let i = 0; i < 5; i++) {
      const repeat = await post('/v1/Task/Kill', { tasktoken: token });
      expect(repeat.status).toBe(200);
      expect(((await repeat.json()) as { tasklist: Array<{ status: string }> }).tasklist[0]?.status).toBe(
        'task_output',
      );
    }
    const kills = (await emulator.state()).calls.filter((call) => call.route === 'Kill');
    expect(kills).toHaveLength(1);
  });
});

describe('Idempotency-Key', () => {
  it('is scoped to its client: another visitor with the same key gets a task of its own', async () => {
    const key = { 'idempotency-key': 'shared-key-1234-5678' };
    const mine = (await (await runAs('198.51.100.70', GENEROUS, key)).json()) as { socketaccesstoken: string };
    const theirs = (await (await runAs('198.51.100.71', GENEROUS, key)).json()) as { socketaccesstoken: string };
    expect(theirs.socketaccesstoken).not.toBe(mine.socketaccesstoken);
    expect(await runCalls()).toBe(2);
  });

  it('answers every one of 30 simultaneous repeats with the first task, even at a running cap of one', async () => {
    const vars = { RUN_LIMIT_PER_MINUTE: '1000', MAX_RUNNING_PER_CLIENT: '1' };
    const key = { 'idempotency-key': 'double-click-burst-30' };
    const answers = await Promise.all(Array.from({ length: 30 }, () => runAs('198.51.100.72', vars, key)));
    expect(new Set(await statuses(answers))).toEqual(new Set([200]));
    const tokens = await Promise.all(
      answers.map(async (response) => ((await response.json()) as { socketaccesstoken: string }).socketaccesstoken),
    );
    expect(new Set(tokens).size).toBe(1);
    expect(await runCalls()).toBe(1);
  });

  /** The task object a client's key opens, and the fingerprint of `validRun`, as the Run route makes them. */
  async function keyedTask(ip: string, key: string) {
    const secret = readConfig(env as unknown as Bindings).callbackSecret;
    const { stub } = newTaskObject(env as unknown as Bindings, await idempotentObjectKey(secret, ip, key));
    const checked = validateRunInput(validRun);
    if (!checked.ok) throw new Error('validRun is not valid');
    return { stub, fingerprint: await requestFingerprint(checked.value) };
  }

  it('answers a claim holder its limits refused with the task a repeat admitted meanwhile started', async () => {
    const ip = '198.51.100.74';
    const key = 'refused-holder-key-0001';
    const { stub, fingerprint } = await keyedTask(ip, key);
    // The holder: its claim is taken at once; its admission is refused only when the test says.
    let refuse: (error: unknown) => void = () => {};
    const admission = new Promise<{ undo(): Promise<unknown> }>((_, reject) => {
      refuse = reject;
    });
    const holder = claimWhileAdmitting(stub, fingerprint, admission);
    await scheduler.wait(50);
    // A repeat through the Worker is admitted, then waits for the claim.
    const repeat = runAs(ip, GENEROUS, { 'idempotency-key': key });
    await vi.waitFor(async () => expect((await budgetUsage()).runs).toBe(1));
    expect(await runCalls()).toBe(0);
    refuse(new ApiError(429, 'refused for the test'));

    const answered = (await (await repeat).json()) as { taskid: string; socketaccesstoken: string };
    const held = await holder;
    expect(held).toEqual({ replay: { ok: true, body: expect.objectContaining({ taskid: answered.taskid }) } });
    expect(await runCalls()).toBe(1);
    expect(await budgetUsage()).toMatchObject({ runs: 1, openRuns: 1 });
  });

  it('passes a claim holder’s refusal on when no repeat starts the task, and leaves the key free', async () => {
    const ip = '198.51.100.75';
    const key = 'refused-holder-key-0002';
    const { stub, fingerprint } = await keyedTask(ip, key);
    const refusal = new ApiError(429, 'refused for the test');
    await expect(claimWhileAdmitting(stub, fingerprint, Promise.reject(refusal))).rejects.toBe(refusal);
    expect(await runCalls()).toBe(0);
    // The claim was let go: the next try with the key starts the task.
    expect((await runAs(ip, GENEROUS, { 'idempotency-key': key })).status).toBe(200);
    expect(await runCalls()).toBe(1);
  });

  it('gives back what a repeat was admitted, and answers it even when its limits would refuse it now', async () => {
    const ip = '198.51.100.76';
    const key = { 'idempotency-key': 'repeat-at-the-cap-0001' };
    const first = (await (await runAs(ip, GENEROUS, key)).json()) as { taskid: string };
    const again = await runAs(ip, GENEROUS, key);
    expect(await again.json()).toMatchObject({ taskid: first.taskid });
    expect(await budgetUsage()).toMatchObject({ runs: 1, openRuns: 1 });
    // At a running cap of one the first task fills it: the repeat is refused admission, and answered.
    const capped = await runAs(ip, { RUN_LIMIT_PER_MINUTE: '1000', MAX_RUNNING_PER_CLIENT: '1' }, key);
    expect(capped.status).toBe(200);
    expect(await capped.json()).toMatchObject({ taskid: first.taskid });
    // A new key at that cap is refused: the repeats took no slot.
    expect(
      (await runAs(ip, { MAX_RUNNING_PER_CLIENT: '1' }, { 'idempotency-key': 'repeat-at-the-cap-0002' })).status,
    ).toBe(429);
    expect(await runCalls()).toBe(1);
  });
});

describe('state that attackers could grow', () => {
  it('books every origin past the listed ones on one shared line, and refused Runs on none', async () => {
    const vars = { ...GENEROUS, ALLOWED_ORIGINS: '*' };
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        runAs(`198.51.100.${80 + (i % 10)}`, vars, { origin: `https://o${i}.example` }),
      ),
    );
    const refused = { ...vars, DAILY_SPEND_LIMIT: '0' };
    for (let i = 0; i < 20; i++) {
      expect((await runAs('198.51.100.99', refused, { origin: `https://refused-${i}.example` })).status).toBe(429);
    }
    const { origins } = await budgetUsage();
    expect(Object.keys(origins)).toEqual(['(other origins)']);
    expect(origins['(other origins)']?.runs).toBe(40);
  });

  it('lets an idle client’s limiter object delete its storage', async () => {
    const ip = '198.51.100.90';
    const started = await runAs(ip, GENEROUS);
    const { socketaccesstoken } = (await started.json()) as { socketaccesstoken: string };
    await post('/v1/Task/Cancel', { tasktoken: socketaccesstoken });
    const limiter = env.LIMITER.get(env.LIMITER.idFromName(ip));
    // The minute passes: the Run leaves the window.
    await runInDurableObject(limiter, async (_, state) => {
      const saved = await state.storage.get<{ recent: number[] }>('state');
      await state.storage.put('state', { ...saved, recent: (saved?.recent ?? []).map((at) => at - 61_000) });
    });
    await evictDurableObject(limiter);
    expect(await runDurableObjectAlarm(limiter)).toBe(true);
    const left = await runInDurableObject(limiter, (_, state) => state.storage.list());
    expect(left.size).toBe(0);
  });
});

describe('giving up on a task', () => {
  it('stops it on Wiro at the deadline, and books the cost Wiro still reports', async () => {
    const started = await runAs('198.51.100.95', GENEROUS);
    const { socketaccesstoken } = (await started.json()) as { socketaccesstoken: string };
    const wiroId = await wiroIdOf(socketaccesstoken);
    await emulator.advance(wiroId, 'task_output');
    const stub = taskObjectOf(socketaccesstoken);
    await runInDurableObject(stub, async (_, state) => {
      const record = (await state.storage.get<Record<string, unknown>>('record')) ?? {};
      await state.storage.put('record', { ...record, deadlineAt: Date.now() - 1, pollAt: Date.now() - 1 });
    });
    await evictDurableObject(stub);
    expect(await runDurableObjectAlarm(stub)).toBe(true);

    const { calls, tasks } = await emulator.state();
    const killed = tasks.find((task) => task.id === wiroId);
    expect(calls.filter((call) => call.route === 'Kill').map((call) => call.body)).toEqual([
      { taskid: wiroId, tasktoken: killed?.socketaccesstoken },
    ]);
    expect(killed?.status).toBe('task_cancel');
    const { body } = await detail(socketaccesstoken);
    expect(body.tasklist[0]).toMatchObject({ status: 'task_postprocess_end', pexit: '-1' });
    const usage = await budgetUsage();
    expect(usage).toMatchObject({ openRuns: 0, reserved: 0 });
    expect(usage.spend).toBeCloseTo(Number(killed?.totalcost), 10);
  });
});

describe('a Run whose answer was lost', () => {
  // Wiro accepts the Run but answers after the Worker's timeout (WIRO_TIMEOUT_MS is 1 s here).
  const late = { route: 'Run', kind: 'late', delayMs: 1500 };

  async function lostRun(headers: Record<string, string> = {}) {
    await emulator.config({ dropCallbacks: true });
    await emulator.fault(late);
    const response = await runAs('198.51.100.110', GENEROUS, headers);
    expect(response.status).toBe(504);
    return (await response.json()) as { result: boolean; taskid: string; socketaccesstoken: string; errors: unknown[] };
  }

  it('answers 504 with the task’s identifiers, keeps the slot and the reservation, and never resends', async () => {
    const key = { 'idempotency-key': 'lost-answer-key-0001' };
    const lost = await lostRun(key);
    expect(lost).toMatchObject({ result: false, taskid: expect.any(String), socketaccesstoken: expect.any(String) });
    // The retry with the same key gets the same task; nothing is sent to Wiro again.
    const retry = await runAs('198.51.100.110', GENEROUS, key);
    expect(retry.status).toBe(200);
    expect(await retry.json()).toMatchObject({ taskid: lost.taskid, socketaccesstoken: lost.socketaccesstoken });
    expect(await runCalls()).toBe(1);
    expect(await budgetUsage()).toMatchObject({ openRuns: 1 });
  });

  it('is found in Wiro’s task list by its callback URL, followed to the end, and its cost booked', async () => {
    const lost = await lostRun();
    const stub = taskObjectOf(lost.socketaccesstoken);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await emulator.state()).calls.map((call) => call.route)).toContain('List');
    const wiroId = (await emulator.state()).tasks[0]?.id ?? '';
    await emulator.advance(wiroId, 'task_postprocess_end');
    const { body } = await detail(lost.socketaccesstoken);
    expect(body.tasklist[0]).toMatchObject({ id: lost.taskid, status: 'task_postprocess_end', pexit: '0' });
    const usage = await budgetUsage();
    expect(usage).toMatchObject({ openRuns: 0, reserved: 0 });
    expect(usage.spend).toBeCloseTo(Number(body.tasklist[0].totalcost), 10);
  });

  it('is attached by Wiro’s callback, believed only after Wiro confirms the task is this one', async () => {
    const lost = await lostRun();
    const stub = taskObjectOf(lost.socketaccesstoken);
    const { tasks, calls } = await emulator.state();
    const callbackUrl = String(calls.find((call) => call.route === 'Run')?.body.callbackUrl);
    // Another task's token in the body attaches nothing: Wiro says that task has another callback URL.
    const other = await runAs('198.51.100.111', GENEROUS);
    const otherWiro = await wiroIdOf(((await other.json()) as { taskid: string }).taskid);
    const forged = (await emulator.state()).tasks.find((task) => task.id === otherWiro);
    await SELF.fetch(callbackUrl, { method: 'POST', body: JSON.stringify({ tasklist: [forged] }) });
    expect((await detail(lost.socketaccesstoken)).body.tasklist[0].status).toBe('task_queue');
    // Wiro's own callback for this task attaches it.
    await SELF.fetch(callbackUrl, { method: 'POST', body: JSON.stringify({ tasklist: [tasks[0]] }) });
    await emulator.advance(tasks[0]?.id ?? '', 'task_postprocess_end');
    await runDurableObjectAlarm(stub);
    const { body } = await detail(lost.socketaccesstoken);
    expect(body.tasklist[0]).toMatchObject({ status: 'task_postprocess_end', pexit: '0' });
  });
});
