/**
 * The task's Durable Object: its state machine, callbacks as hints, polling with alarms,
 * restarts, and the live stream.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject, SELF } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import type { TaskObject } from '../../worker/task/task-object';
import { BASE, detail, emulator, post, startTask, taskObjectOf } from './helpers';

beforeEach(async () => {
  await emulator.reset();
});

async function statusOf(token: string): Promise<string> {
  return runInDurableObject(
    taskObjectOf(token),
    async (instance: TaskObject) => (await instance.stats())?.status ?? '',
  );
}

async function callbackUrlOf(wiroId: string): Promise<string> {
  const { calls } = await emulator.state();
  const run = calls.find((call) => call.route === 'Run' && call.body.callbackUrl && String(call.body.callbackUrl));
  expect(run, `Run call for task ${wiroId}`).toBeDefined();
  return String(run?.body.callbackUrl);
}

describe('polling with alarms', () => {
  it('follows a task whose callback never comes to its end, in a few Wiro calls', async () => {
    await emulator.config({ dropCallbacks: true });
    const { wiroId, socketaccesstoken } = await startTask();
    const stub = taskObjectOf(socketaccesstoken);
    await emulator.advance(wiroId, 'task_start');
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await statusOf(socketaccesstoken)).toBe('task_start');
    await emulator.advance(wiroId, 'task_postprocess_end');
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await statusOf(socketaccesstoken)).toBe('task_postprocess_end');
    // Ended: no more alarms, no more calls.
    expect(await runDurableObjectAlarm(stub)).toBe(false);
    const stats = await runInDurableObject(stub, (instance: TaskObject) => instance.stats());
    expect(stats).toMatchObject({ upstreamCalls: 3, polls: 2 });
  });

  it('keeps polling through an upstream outage', async () => {
    const { wiroId, socketaccesstoken } = await startTask();
    const stub = taskObjectOf(socketaccesstoken);
    await emulator.fault({ route: 'Detail', kind: '500', times: 3 });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await statusOf(socketaccesstoken)).toBe('task_queue');
    await emulator.advance(wiroId, 'task_postprocess_end');
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await statusOf(socketaccesstoken)).toBe('task_postprocess_end');
  });

  it('gives up at the deadline with a clear debugerror, the way Wiro ends a failed task', async () => {
    const { socketaccesstoken } = await startTask();
    const stub = taskObjectOf(socketaccesstoken);
    await runInDurableObject(stub, async (_instance, state) => {
      const record = (await state.storage.get<Record<string, unknown>>('record')) ?? {};
      await state.storage.put('record', { ...record, deadlineAt: Date.now() - 1 });
    });
    await evictDurableObject(stub);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const { body } = await detail(socketaccesstoken);
    expect(body.tasklist[0]).toMatchObject({ status: 'task_postprocess_end', pexit: '-1' });
    expect(body.tasklist[0].debugerror).toMatch(/did not finish this task within/);
  });

  it('survives a restart in the middle of a task', async () => {
    const { wiroId, socketaccesstoken } = await startTask();
    const stub = taskObjectOf(socketaccesstoken);
    await emulator.advance(wiroId, 'task_start');
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await evictDurableObject(stub);
    await emulator.advance(wiroId, 'task_postprocess_end');
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const { body } = await detail(socketaccesstoken);
    expect(body.tasklist[0].status).toBe('task_postprocess_end');
    expect(body.tasklist[0].outputs.length).toBeGreaterThan(0);
  });
});

describe('callbacks', () => {
  it('are a hint: the object re-reads Wiro and ends the task', async () => {
    const { wiroId, socketaccesstoken } = await startTask();
    const url = await callbackUrlOf(wiroId);
    await emulator.advance(wiroId, 'task_postprocess_end');
    const before = (await emulator.state()).calls.length;
    const response = await SELF.fetch(url, { method: 'POST', body: '{}' });
    expect(response.status).toBe(200);
    expect(await statusOf(socketaccesstoken)).toBe('task_postprocess_end');
    const { calls } = await emulator.state();
    expect(calls.slice(before).map((call) => call.route)).toEqual(['Detail']);
  });

  it('with a forged body change nothing', async () => {
    const { wiroId, socketaccesstoken } = await startTask();
    const url = await callbackUrlOf(wiroId);
    const forged = {
      result: true,
      tasklist: [{ id: wiroId, status: 'task_postprocess_end', pexit: '0', outputs: [] }],
    };
    const response = await SELF.fetch(url, { method: 'POST', body: JSON.stringify(forged) });
    expect(response.status).toBe(200);
    expect(await statusOf(socketaccesstoken)).toBe('task_queue');
  });

  it('with a bad signature or object are refused with 403 and call nothing', async () => {
    const { wiroId } = await startTask();
    const url = await callbackUrlOf(wiroId);
    const before = await emulator.callCount();
    const badSignature = url.replace(/[0-9a-f]$/, (last) => (last === '0' ? '1' : '0'));
    expect((await SELF.fetch(badSignature, { method: 'POST' })).status).toBe(403);
    const otherObject = `${BASE}/v1/Callback/${'0'.repeat(64)}/${url.split('/').at(-1)}`;
    expect((await SELF.fetch(otherObject, { method: 'POST' })).status).toBe(403);
    expect(await emulator.callCount()).toBe(before);
  });

  it('repeated are harmless, and cost nothing once the task has ended', async () => {
    const { wiroId, socketaccesstoken } = await startTask();
    const url = await callbackUrlOf(wiroId);
    await emulator.advance(wiroId, 'task_postprocess_end');
    for (let i = 0; i < 3; i++) expect((await SELF.fetch(url, { method: 'POST' })).status).toBe(200);
    const { calls } = await emulator.state();
    expect(calls.filter((call) => call.route === 'Detail')).toHaveLength(1);
    const events = await runInDurableObject(taskObjectOf(socketaccesstoken), (instance: TaskObject) =>
      instance.events(),
    );
    expect(events.map((event) => event.status)).toEqual(['task_queue', 'task_postprocess_end']);
  });
});

describe('the state machine', () => {
  it('walks every status once, in order, and never goes backwards', async () => {
    const { wiroId, socketaccesstoken } = await startTask();
    const stub = taskObjectOf(socketaccesstoken);
    const walk = [
      'task_accept',
      'task_assign',
      'task_preprocess_start',
      'task_preprocess_end',
      'task_start',
      'task_output',
      'task_output_full',
      'task_end',
      'task_postprocess_start',
      'task_postprocess_end',
    ];
    for (const status of walk) {
      await emulator.advance(wiroId, status);
      await runDurableObjectAlarm(stub);
    }
    const events = await runInDurableObject(stub, (instance: TaskObject) => instance.events());
    expect(events.map((event) => event.status)).toEqual(['task_queue', ...walk]);
    expect(events.map((event) => event.id)).toEqual(events.map((_, index) => index + 1));
  });

  it('ends the stream within one poll of a fatal task_error that Detail reports, with its debugerror', async () => {
    await emulator.config({ fatalNextTasks: 1, failMessage: 'ValueError: LoRA file is not a safetensors file' });
    const { wiroId, socketaccesstoken } = await startTask();
    const stub = taskObjectOf(socketaccesstoken);
    const response = await SELF.fetch(`${BASE}/v1/Task/Events?tasktoken=${socketaccesstoken}`);
    await emulator.advance(wiroId, 'task_error');
    // Wiro keeps answering task_error forever; one poll ends the task, and nothing is left to poll.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const events = await readEvents(response);
    expect(events.map((event) => event.event)).toEqual(['task_queue', 'task_postprocess_end']);
    expect(events[1]?.data).toMatchObject({
      status: 'task_postprocess_end',
      pexit: '1',
      debugerror: 'ValueError: LoRA file is not a safetensors file',
    });
    expect(await runDurableObjectAlarm(stub)).toBe(false);
  });

  it('ends a failing task with Wiro’s debugerror', async () => {
    await emulator.config({ failNextTasks: 1, failMessage: 'RuntimeError: CUDA out of memory' });
    const { wiroId, socketaccesstoken } = await startTask();
    await emulator.advance(wiroId, 'task_postprocess_end');
    const { body } = await detail(socketaccesstoken);
    expect(body.tasklist[0]).toMatchObject({ status: 'task_postprocess_end', pexit: '1', outputs: [] });
    expect(body.tasklist[0].debugerror).toContain('CUDA out of memory');
  });
});

async function readEvents(response: Response): Promise<Array<{ id: string; event: string; data: any }>> {
  return parseEvents(await response.text());
}

function parseEvents(text: string): Array<{ id: string; event: string; data: any }> {
  return text
    .split('\n\n')
    .filter((block) => block.includes('event:'))
    .map((block) => {
      const field = (name: string) =>
        block
          .split('\n')
          .find((line) => line.startsWith(`${name}: `))
          ?.slice(name.length + 2) ?? '';
      return { id: field('id'), event: field('event'), data: JSON.parse(field('data')) };
    });
}

describe('the event stream', () => {
  it('sends every status with increasing ids, and ends after the terminal one', async () => {
    const { wiroId, socketaccesstoken } = await startTask();
    const stub = taskObjectOf(socketaccesstoken);
    const response = await SELF.fetch(`${BASE}/v1/Task/Events?tasktoken=${socketaccesstoken}`);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    await emulator.advance(wiroId, 'task_start');
    await runDurableObjectAlarm(stub);
    await emulator.advance(wiroId, 'task_postprocess_end');
    await runDurableObjectAlarm(stub);
    const events = await readEvents(response);
    expect(events.map((event) => event.event)).toEqual(['task_queue', 'task_start', 'task_postprocess_end']);
    expect(events.map((event) => event.id)).toEqual(['1', '2', '3']);
    expect(events[2]?.data.outputs.length).toBeGreaterThan(0);
  });

  it('resumes after Last-Event-ID without replaying', async () => {
    const { wiroId, socketaccesstoken } = await startTask();
    await emulator.advance(wiroId, 'task_start');
    await runDurableObjectAlarm(taskObjectOf(socketaccesstoken));
    await post('/v1/Task/Kill', { tasktoken: socketaccesstoken });
    const response = await SELF.fetch(`${BASE}/v1/Task/Events?tasktoken=${socketaccesstoken}`, {
      headers: { 'Last-Event-ID': '2' },
    });
    const events = await readEvents(response);
    expect(events.map((event) => [event.id, event.event])).toEqual([['3', 'task_cancel']]);
  });

  it('brings the terminal event to a watcher, and then the stream ends on its own', async () => {
    const { wiroId, socketaccesstoken } = await startTask();
    const response = await SELF.fetch(`${BASE}/v1/Task/Events?tasktoken=${socketaccesstoken}`);
    const reader = (response.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    await emulator.advance(wiroId, 'task_postprocess_end');
    await runDurableObjectAlarm(taskObjectOf(socketaccesstoken));
    let received = '';
    while (!received.includes('event: task_postprocess_end')) {
      const chunk = await reader.read();
      expect(chunk.done, 'the stream ended before the terminal event').toBe(false);
      received += chunk.value;
    }
    // The stream ends by itself once the event is out: awaited, not timed.
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) received += chunk.value;
    const events = parseEvents(received);
    expect(events.map((event) => event.event)).toEqual(['task_queue', 'task_postprocess_end']);
    expect(events[1]?.data).toMatchObject({ status: 'task_postprocess_end', pexit: '0' });
  });

  it('refuses an unknown token with 404 in Wiro’s envelope', async () => {
    const response = await SELF.fetch(`${BASE}/v1/Task/Events?tasktoken=${'C'.repeat(32)}`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ result: false });
  });

  it('brings the terminal event to 200 watchers at once', async () => {
    const { wiroId, socketaccesstoken } = await startTask();
    const responses = await Promise.all(
      Array.from({ length: 200 }, () => SELF.fetch(`${BASE}/v1/Task/Events?tasktoken=${socketaccesstoken}`)),
    );
    await emulator.advance(wiroId, 'task_postprocess_end');
    await runDurableObjectAlarm(taskObjectOf(socketaccesstoken));
    const streams = await Promise.all(responses.map(readEvents));
    expect(streams.filter((events) => events.at(-1)?.event === 'task_postprocess_end')).toHaveLength(200);
  });
});
