/**
 * The Wiro-compatible API end to end inside workerd: Run, Detail, Cancel, Kill and Tool against
 * the emulator, which checks every signature as Wiro does. The token is the only capability.
 */
import { runInDurableObject, SELF } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import { EMULATOR_KEY, EMULATOR_SECRET } from './constants';
import { BASE, detail, emulator, post, RUN_PATH, startTask, taskObjectOf, validRun } from './helpers';

beforeEach(async () => {
  await emulator.reset();
});

describe('Run', () => {
  it('starts a task on Wiro with a signed call and answers in Wiro’s shape with the Worker’s token', async () => {
    const response = await post(RUN_PATH, validRun);
    expect(response.status).toBe(200);
    const answer = (await response.json()) as Record<string, unknown>;
    expect(answer).toMatchObject({ result: true, errors: [] });
    expect(answer.taskid).toMatch(/^[A-Za-z0-9]{59}$/);
    expect(answer.socketaccesstoken).toMatch(/^[A-Za-z0-9]{59}$/);

    const { calls, tasks } = await emulator.state();
    expect(calls.map((call) => [call.route, call.status])).toEqual([['Run', 200]]);
    expect(calls[0]?.nonce).toMatch(/^\d{13,}$/);
    // Wiro's own id and token stay with the Worker.
    expect(tasks[0]?.socketaccesstoken).not.toBe(answer.socketaccesstoken);
    expect(tasks[0]?.id).not.toBe(answer.taskid);
  });

  it('says in Server-Timing where a Run’s time went, its object round trips marked', async () => {
    const steps = (header: string | null) =>
      (header ?? '').split(', ').map((step) => {
        const [name, duration, desc] = step.split(';');
        expect(Number(duration?.replace('dur=', ''))).toBeGreaterThanOrEqual(0);
        return desc ? `${name} ${desc}` : name;
      });
    const plain = await post(RUN_PATH, validRun);
    expect(steps(plain.headers.get('server-timing'))).toEqual([
      'validate',
      'admit desc="object"',
      'task desc="object"',
    ]);
    // A Run with an Idempotency-Key asks its task object for the key's claim while it is admitted:
    // still two object round trips before Wiro.
    const keyed = await post(RUN_PATH, validRun, { 'idempotency-key': 'timing-test-key' });
    expect(steps(keyed.headers.get('server-timing'))).toEqual([
      'validate',
      'admit desc="object"',
      'task desc="object"',
    ]);
  });

  it('hands Wiro a per-task signed callback URL on the Worker', async () => {
    await startTask();
    await startTask();
    const { calls } = await emulator.state();
    const urls = calls.map((call) => String(call.body.callbackUrl));
    expect(urls[0]).toMatch(/^https:\/\/edge\.test\/v1\/Callback\/[0-9a-f]{64}\/[0-9a-f]{64}$/);
    expect(urls[1]).not.toBe(urls[0]);
  });

  it('sends parallel Runs with unique nonces, each accepted by Wiro', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => startTask()));
    expect(new Set(answers.map((answer) => answer.socketaccesstoken)).size).toBe(20);
    const { calls } = await emulator.state();
    expect(calls).toHaveLength(20);
    expect(calls.every((call) => call.status === 200)).toBe(true);
    expect(new Set(calls.map((call) => call.nonce)).size).toBe(20);
  });

  it.each([
    '/v1/Run/wiro/some-other-model',
    '/v1/Run/someone/text-to-image-flux-lora-fast',
    '/v1/Run/wiro/text-to-image-flux-lora-fast/extra',
  ])('refuses %s with 404 and sends nothing upstream', async (path) => {
    const response = await post(path, validRun);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ result: false, errors: [{ code: 1 }] });
    expect(await emulator.callCount()).toBe(0);
  });
});

describe('Detail', () => {
  it('answers the task in Wiro’s shape, by the Worker’s token', async () => {
    const { taskid, socketaccesstoken } = await startTask();
    const { response, body } = await detail(socketaccesstoken);
    expect(response.status).toBe(200);
    expect(body).toMatchObject({ result: true, errors: [], total: '1' });
    expect(body.tasklist[0]).toMatchObject({ id: taskid, socketaccesstoken, status: 'task_queue', outputs: [] });
  });

  it('follows the task to its end and gives the outputs, with no trace of the Worker’s callback URL', async () => {
    const { wiroId, socketaccesstoken } = await startTask({ ...validRun, samples: 2 });
    await emulator.advance(wiroId, 'task_postprocess_end');
    const { body } = await detail(socketaccesstoken);
    const task = body.tasklist[0];
    expect(task.status).toBe('task_postprocess_end');
    expect(task.pexit).toBe('0');
    expect(task.outputs).toHaveLength(2);
    expect(task.outputs[0]).toMatchObject({ name: '0.png', contenttype: 'image/png' });
    expect(JSON.stringify(body)).not.toContain('/v1/Callback/');
  });

  it('answers the same task by the Worker’s taskid, which is a capability too', async () => {
    const { taskid, socketaccesstoken } = await startTask();
    const { tasks } = await emulator.state();
    const response = await post('/v1/Task/Detail', { taskid });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { tasklist: Array<Record<string, unknown>> };
    expect(answer.tasklist[0]).toMatchObject({ id: taskid, socketaccesstoken });
    // Wiro's sequential id and its token never leave the Worker.
    expect(JSON.stringify(answer)).not.toContain(`"${tasks[0]?.id}"`);
    expect(JSON.stringify(answer)).not.toContain(String(tasks[0]?.socketaccesstoken));
    expect(taskid).not.toBe(socketaccesstoken);
    expect(taskid).toMatch(/^[A-Za-z0-9]{59}$/);
  });

  it('gives a plain Run an object with a unique id, and a keyed Run a named one its repeats find', async () => {
    const plain = await startTask();
    const plainId = await runInDurableObject(taskObjectOf(plain.taskid), (_, state) => state.id);
    // Unique: Cloudflare makes the object without first checking worldwide that its name is free.
    expect(plainId.name).toBeUndefined();
    expect(plain.taskid.slice(0, 43)).toBe(plain.socketaccesstoken.slice(0, 43));

    const keyed = (await (await post(RUN_PATH, validRun, { 'idempotency-key': 'named-object-key-1' })).json()) as {
      taskid: string;
    };
    expect(keyed.taskid).toMatch(/^[A-Za-z0-9]{40}$/);
    const keyedId = await runInDurableObject(taskObjectOf(keyed.taskid), (_, state) => state.id);
    expect(keyedId.name).toBe(keyed.taskid.slice(0, 24));
    // Both kinds open their task through the API.
    for (const taskid of [plain.taskid, keyed.taskid]) {
      expect((await post('/v1/Task/Detail', { taskid })).status, taskid).toBe(200);
    }
  });

  it('refuses Wiro’s numeric ids, and a token with a taskid of another task', async () => {
    const first = await startTask();
    const second = await startTask();
    const before = await emulator.callCount();
    for (const body of [
      { taskid: first.wiroId },
      { taskid: '2221' },
      { tasktoken: first.socketaccesstoken, taskid: second.taskid },
    ]) {
      const response = await post('/v1/Task/Detail', body);
      expect(response.status, JSON.stringify(body)).toBe(404);
      expect(await response.json()).toMatchObject({ result: false, errors: [{ code: 1 }] });
    }
    expect(await emulator.callCount()).toBe(before);
  });

  it.each([
    ['a well-formed named token it never issued', 'A'.repeat(40)],
    ['a well-formed unique-id token it never issued', 'A'.repeat(59)],
    ['a token whose MAC is one character off', 'MAC'],
    ['a malformed token', 'not-a-token'],
    ['a token of neither length', 'A'.repeat(50)],
  ])('answers 404 for %s, and touches no task object', async (_, given) => {
    const { taskid } = await startTask();
    const before = await emulator.callCount();
    const tasktoken = given === 'MAC' ? `${taskid.slice(0, -1)}${taskid.endsWith('A') ? 'B' : 'A'}` : given;
    const response = await post('/v1/Task/Detail', { tasktoken });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ result: false, errors: [{ code: 1 }] });
    expect(await emulator.callCount()).toBe(before);
    if (given.length === 40) {
      // The object the made-up name would open holds nothing: it was never touched.
      const stored = await runInDurableObject(taskObjectOf(given), (_, state) => state.storage.list());
      expect(stored.size).toBe(0);
    }
  });

  it('does not open a task with Wiro’s own token for it', async () => {
    await startTask();
    const { tasks } = await emulator.state();
    const response = await post('/v1/Task/Detail', { tasktoken: tasks[0]?.socketaccesstoken });
    expect(response.status).toBe(404);
  });

  it('reads multipart bodies too, as Wiro does', async () => {
    const { socketaccesstoken } = await startTask();
    const form = new FormData();
    form.set('tasktoken', socketaccesstoken);
    const response = await SELF.fetch(`${BASE}/v1/Task/Detail`, { method: 'POST', body: form });
    expect(response.status).toBe(200);
  });
});

describe('Cancel and Kill', () => {
  it('cancels a queued task with Wiro’s Task/Cancel by Wiro’s taskid', async () => {
    const { wiroId, socketaccesstoken } = await startTask();
    const response = await post('/v1/Task/Cancel', { tasktoken: socketaccesstoken });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { tasklist: Array<{ status: string }> };
    expect(answer.tasklist[0]?.status).toBe('task_cancel');
    const { calls } = await emulator.state();
    expect(calls.at(-1)).toMatchObject({ route: 'Cancel', body: { taskid: wiroId } });
  });

  it('cancels by the Worker’s taskid, as Wiro’s SDKs do', async () => {
    const { taskid } = await startTask();
    const response = await post('/v1/Task/Cancel', { taskid });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ tasklist: [{ id: taskid, status: 'task_cancel' }] });
  });

  it('kills a running task with Wiro’s Task/Kill by Wiro’s taskid', async () => {
    const { wiroId, socketaccesstoken } = await startTask();
    await emulator.advance(wiroId, 'task_start');
    const response = await post('/v1/Task/Kill', { tasktoken: socketaccesstoken });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ tasklist: [{ status: 'task_cancel' }] });
    const { calls } = await emulator.state();
    expect(calls.at(-1)).toMatchObject({ route: 'Kill', body: { taskid: wiroId } });
  });

  it('passes Wiro’s refusal through when a running task is cancelled', async () => {
    const { wiroId, socketaccesstoken } = await startTask();
    await emulator.advance(wiroId, 'task_start');
    const response = await post('/v1/Task/Cancel', { tasktoken: socketaccesstoken });
    expect(response.status).toBe(400);
    const answer = (await response.json()) as { errors: Array<{ message: string }> };
    expect(answer.errors[0]?.message).toContain('task_start');
  });

  it('answers 409 for a task that has already ended, without calling Wiro', async () => {
    const { socketaccesstoken } = await startTask();
    await post('/v1/Task/Cancel', { tasktoken: socketaccesstoken });
    const before = await emulator.callCount();
    const response = await post('/v1/Task/Kill', { tasktoken: socketaccesstoken });
    expect(response.status).toBe(409);
    expect(await emulator.callCount()).toBe(before);
  });

  it('accepts Wiro’s `socketaccesstoken` spelling on Kill', async () => {
    const { socketaccesstoken } = await startTask();
    const response = await post('/v1/Task/Kill', { socketaccesstoken });
    expect(response.status).toBe(200);
  });

  it('refuses Wiro’s own taskid, an unknown token and a body that names no task', async () => {
    const { wiroId } = await startTask();
    expect((await post('/v1/Task/Cancel', { taskid: wiroId })).status).toBe(404);
    expect((await post('/v1/Task/Kill', { tasktoken: 'B'.repeat(40) })).status).toBe(404);
    expect((await post('/v1/Task/Kill', {})).status).toBe(400);
    const { calls } = await emulator.state();
    expect(calls.map((call) => call.route)).toEqual(['Run']);
  });
});

describe('Tool', () => {
  it('publishes the inputs, LoRA catalog and limits a form needs', async () => {
    const response = await SELF.fetch(`${BASE}/v1/Tool`);
    expect(response.status).toBe(200);
    const { tool, upstream } = (await response.json()) as { tool: any; upstream: { emulator: boolean } };
    expect(tool.slug).toBe('wiro/text-to-image-flux-lora-fast');
    expect(tool.inputs.map((input: { name: string }) => input.name)).toContain('prompt');
    expect(tool.loras.find((lora: { value: string }) => lora.value === '1236')).toMatchObject({
      triggerwords: ['vintage comic book cover', '1950s pulp art style'],
      settings: [{ id: 'Vintage-Comic-Book-Cover-Sci-fi-Pulp', min: 0, max: 1, default: 1 }],
    });
    expect(tool.inputs.find((input: { name: string }) => input.name === 'width')).toMatchObject({
      min: 256,
      max: 2048,
      multipleOf: 16,
    });
    expect(upstream.emulator).toBe(true);
  });
});

describe('Tool/Detail, as Wiro’s SDKs read a model’s schema', () => {
  it('answers Wiro’s shape for this model, generated from the schema that validates', async () => {
    const response = await post('/v1/Tool/Detail', { slugowner: 'wiro', slugproject: 'text-to-image-flux-lora-fast' });
    expect(response.status).toBe(200);
    const { tool } = (await response.json()) as { tool: Array<{ parameters: Array<{ items: any[] }> }> };
    const items = tool[0]?.parameters.flatMap((group) => group.items) ?? [];
    const published = (await (await SELF.fetch(`${BASE}/v1/Tool`)).json()) as { tool: { inputs: any[] } };
    for (const input of published.tool.inputs) {
      const item = items.find((candidate) => candidate.id === input.name);
      expect(item, input.name).toMatchObject({ label: input.label, default: String(input.default) });
      if (input.max !== undefined && input.kind !== 'seed') expect(item.max).toBe(String(input.max));
    }
    expect(await emulator.callCount()).toBe(0);
  });

  it('gives any other model Wiro’s not-found envelope', async () => {
    const response = await post('/v1/Tool/Detail', { slugowner: 'black-forest-labs', slugproject: 'flux-2-pro' });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ result: false, errors: [{ code: 1 }] });
  });
});

describe('a wrong method', () => {
  it.each([
    ['GET', RUN_PATH, 'POST'],
    ['GET', '/v1/Task/Detail', 'POST'],
    ['PUT', '/v1/Task/Kill', 'POST'],
    ['POST', '/v1/Tool', 'GET'],
    ['GET', '/v1/Tool/Detail', 'POST'],
    ['DELETE', '/v1/Task/Events', 'GET'],
  ])('%s %s answers 405 with Allow: %s', async (method, path, allow) => {
    const response = await SELF.fetch(`${BASE}${path}`, { method });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe(allow);
    expect(await response.json()).toMatchObject({
      result: false,
      errors: [{ message: expect.stringContaining(allow) }],
    });
  });
});

describe('the secret never leaves', () => {
  it('appears in no response of any route, good or bad', async () => {
    const bodies: string[] = [];
    const collect = async (response: Response) => {
      bodies.push(JSON.stringify([...response.headers]), await response.text());
    };
    const { taskid, socketaccesstoken } = await startTask();
    await collect(await post(RUN_PATH, validRun));
    await collect(await post(RUN_PATH, { prompt: '' }));
    await collect(await post('/v1/Run/wiro/other', validRun));
    await collect(await post('/v1/Task/Detail', { tasktoken: socketaccesstoken }));
    await collect(await post('/v1/Task/Detail', { taskid }));
    await emulator.fault({ route: 'Run', kind: 'unauthorized' });
    await collect(await post(RUN_PATH, validRun));
    await emulator.fault({ route: 'Run', kind: 'html' });
    await collect(await post(RUN_PATH, validRun));
    await collect(await post('/v1/Task/Kill', { tasktoken: socketaccesstoken }));
    await collect(await SELF.fetch(`${BASE}/v1/Tool`));
    await collect(await SELF.fetch(`${BASE}/v1/Task/Events?tasktoken=${socketaccesstoken}`));
    await collect(await SELF.fetch(`${BASE}/v1/nothing-here`));
    const all = bodies.join('\n');
    expect(all).not.toContain(EMULATOR_KEY);
    expect(all).not.toContain(EMULATOR_SECRET);
  });
});
