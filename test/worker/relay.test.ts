/**
 * What outlives the task: the webhook relay to the client's own callbackUrl (Standard Webhooks
 * signatures, retries from the alarm, one delivery per success) and outputs copied to R2.
 */
import { env, runDurableObjectAlarm, runInDurableObject, SELF } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Bindings } from '../../worker/env';
import { signWebhook } from '../../worker/task/webhook';
import { BASE, detail, emulator, post, RUN_PATH, startTask, taskObjectOf, validRun } from './helpers';

const HOOK = 'https://hooks.example.com/wiro';
const SECRET = 'whsec_dGVzdC13ZWJob29rLXNlY3JldC0xMjM0NTY3OA==';

interface Delivery {
  headers: Headers;
  body: string;
}

let deliveries: Delivery[];
let answers: number[];

beforeEach(async () => {
  await emulator.reset();
  deliveries = [];
  answers = [];
  const realFetch = globalThis.fetch;
  // The relay's receiver, standing in for the client's server (no network here).
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (!url.startsWith(HOOK)) return realFetch(input, init);
    deliveries.push({ headers: new Headers(init?.headers), body: String(init?.body) });
    return new Response(null, { status: answers.shift() ?? 200 });
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

function webhookOf(token: string) {
  return runInDurableObject(taskObjectOf(token), async (_, state) => {
    return (await state.storage.get<{ webhook?: Record<string, unknown> }>('record'))?.webhook;
  });
}

async function finish(wiroId: string, token: string, to = 'task_postprocess_end') {
  await emulator.advance(wiroId, to);
  await runDurableObjectAlarm(taskObjectOf(token));
}

describe('the webhook relay', () => {
  it('delivers the verified final task once, signed per Standard Webhooks', async () => {
    const { taskid, wiroId, socketaccesstoken } = await startTask({ ...validRun, callbackUrl: HOOK });
    await finish(wiroId, socketaccesstoken);
    await runDurableObjectAlarm(taskObjectOf(socketaccesstoken));
    expect(deliveries).toHaveLength(1);
    const [delivery] = deliveries as [Delivery];
    const id = delivery.headers.get('webhook-id') ?? '';
    const timestamp = Number(delivery.headers.get('webhook-timestamp'));
    expect(id).toMatch(/^msg_/);
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(30);
    expect(delivery.headers.get('webhook-signature')).toBe(await signWebhook(SECRET, id, timestamp, delivery.body));
    const payload = JSON.parse(delivery.body);
    expect(payload).toMatchObject({ type: 'task.completed', data: { id: taskid, status: 'task_postprocess_end' } });
    expect(payload.data.socketaccesstoken).toBe(socketaccesstoken);
    // Delivered: nothing more is scheduled, and no second delivery comes.
    expect(await runDurableObjectAlarm(taskObjectOf(socketaccesstoken))).toBe(false);
    expect(deliveries).toHaveLength(1);
  });

  it('retries with backoff until the receiver says 2xx, with the same webhook-id', async () => {
    answers = [500, 503];
    const { wiroId, socketaccesstoken } = await startTask({ ...validRun, callbackUrl: HOOK });
    await finish(wiroId, socketaccesstoken);
    for (let i = 0; i < 3; i++) await runDurableObjectAlarm(taskObjectOf(socketaccesstoken));
    expect(deliveries).toHaveLength(3);
    expect(new Set(deliveries.map((delivery) => delivery.headers.get('webhook-id'))).size).toBe(1);
    expect(await webhookOf(socketaccesstoken)).toMatchObject({ attempts: 3, delivered: true });
    expect(await runDurableObjectAlarm(taskObjectOf(socketaccesstoken))).toBe(false);
  });

  it('gives up after the last retry', async () => {
    answers = Array.from({ length: 10 }, () => 500);
    const { wiroId, socketaccesstoken } = await startTask({ ...validRun, callbackUrl: HOOK });
    await finish(wiroId, socketaccesstoken);
    for (let i = 0; i < 10; i++) await runDurableObjectAlarm(taskObjectOf(socketaccesstoken));
    expect(deliveries).toHaveLength(6);
  });

  it('says task.failed for a failed task and task.cancelled for a cancelled one', async () => {
    await emulator.config({ failNextTasks: 1 });
    const failed = await startTask({ ...validRun, callbackUrl: HOOK });
    await finish(failed.wiroId, failed.socketaccesstoken);
    await runDurableObjectAlarm(taskObjectOf(failed.socketaccesstoken));
    const cancelled = await startTask({ ...validRun, callbackUrl: HOOK });
    await post('/v1/Task/Cancel', { tasktoken: cancelled.socketaccesstoken });
    // Ended by a request, the relay's alarm fires at once, outside this test's fetch stub, and
    // meets the sandbox's closed network; the retry, run here, reaches the stub.
    await vi.waitFor(async () => expect((await webhookOf(cancelled.socketaccesstoken))?.attempts).toBe(1));
    await runDurableObjectAlarm(taskObjectOf(cancelled.socketaccesstoken));
    expect(deliveries.map((delivery) => JSON.parse(delivery.body).type)).toEqual(['task.failed', 'task.cancelled']);
  });

  it('refuses an http callbackUrl before anything is billed', async () => {
    const response = await post(RUN_PATH, { ...validRun, callbackUrl: 'http://hooks.example.com/wiro' });
    expect(response.status).toBe(400);
    expect(await emulator.callCount()).toBe(0);
  });
});

describe('outputs in R2', () => {
  it('are copied on completion and served by the Worker, after Wiro’s links are gone', async () => {
    const { wiroId, socketaccesstoken } = await startTask();
    await finish(wiroId, socketaccesstoken);
    const { body } = await detail(socketaccesstoken);
    const output = body.tasklist[0].outputs[0];
    expect(output.url).toMatch(new RegExp(`^${BASE}/v1/File/[0-9a-f]{64}/0\\.png$`));
    expect(output.wirourl).toContain('/files/');
    const image = await SELF.fetch(output.url);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(image.headers.get('cache-control')).toContain('immutable');
    const bytes = new Uint8Array(await image.arrayBuffer());
    expect([...bytes.slice(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    expect(bytes.length).toBe(Number(output.size));
  });

  it('keep Wiro’s URL for an output that cannot be copied', async () => {
    const { wiroId, socketaccesstoken } = await startTask();
    await emulator.fault({ route: 'Files', kind: '500', times: 1 });
    await finish(wiroId, socketaccesstoken);
    const { body } = await detail(socketaccesstoken);
    expect(body.tasklist[0].outputs[0].url).toContain('/files/');
  });

  it('answer 404 in Wiro’s envelope for a file that is not there, beside one that is', async () => {
    const bucket = (env as unknown as Bindings).OUTPUTS as R2Bucket;
    const object = 'a'.repeat(64);
    await bucket.put(`${object}/0.png`, new Uint8Array([1, 2, 3]), { httpMetadata: { contentType: 'image/png' } });
    expect((await SELF.fetch(`${BASE}/v1/File/${object}/0.png`)).status).toBe(200);
    const missing = await SELF.fetch(`${BASE}/v1/File/${object}/1.png`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ result: false, errors: [{ code: 1, message: 'File not found' }] });
    // A name that is not a task object's key is never looked up, even when the bucket holds it.
    await bucket.put('not-a-key/0.png', new Uint8Array([1]));
    expect((await SELF.fetch(`${BASE}/v1/File/not-a-key/0.png`)).status).toBe(404);
  });
});
