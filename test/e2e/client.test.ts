/**
 * `/client.js` end to end: the built module (as the Worker serves it) drives the real Worker and
 * the Wiro emulator, from Node and from a page of another origin in Chromium (both read the event
 * stream with fetch, so every event arrives, also one of a status the client does not know). The
 * callback core the client is built on (client/core.ts) is driven here too.
 */
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { GenerateInput, LoraScaleId, LoraValue, WiroTask } from '../../client/client';
import { type WiroError as CoreError, connect } from '../../client/core.ts';
import { STATUS_ORDER } from '../../shared/protocol.ts';
import { CLIENT_BUDGET_BYTES } from '../../widget/client-size-check.js';
import { gzipSize } from '../../widget/size-check.js';
import { control, launch, normalPace } from './helpers.ts';

// The built module, not the source: what apps import. Typed by the declarations it ships with.
const built = new URL('../../widget/dist/client.js', import.meta.url);
const { createClient, WiroError } = (await import(
  pathToFileURL(built.pathname).href
)) as typeof import('../../client/index.ts');

const wiro = () => createClient({ endpoint: inject('workerUrl') });

/** Wiro routes the emulator received since `from` (an index into its call log). */
async function callsSince(from: number): Promise<string[]> {
  const state = await control('state');
  return state.calls.slice(from).map((call: { route: string }) => call.route);
}

const callCount = async (): Promise<number> => (await control('state')).calls.length;

beforeAll(() => normalPace());

describe('the module', () => {
  test(`is at most ${CLIENT_BUDGET_BYTES / 1024} KB min+gzip, and imports nothing`, async () => {
    const bytes = gzipSize(built);
    console.log(`client.js: ${bytes} bytes min+gzip`);
    expect(bytes).toBeLessThanOrEqual(CLIENT_BUDGET_BYTES);
    const response = await fetch(`${inject('workerUrl')}/client.js`);
    expect(await response.text()).not.toMatch(/^import\s|\bfrom\s*["']/m);
  });

  test('its client.d.ts stands alone: the statuses written out from shared/protocol.ts, nothing imported', async () => {
    const types = await (await fetch(`${inject('workerUrl')}/client.d.ts`)).text();
    expect(types).not.toMatch(/^\s*(import|export .* from)\b/m);
    const declared = /^export type RunningStatus = (.*);$/m.exec(types)?.[1] ?? '';
    const terminal = /^export type TerminalStatus = (.*);$/m.exec(types)?.[1] ?? '';
    expect(`${declared} | ${terminal}`).toBe(STATUS_ORDER.map((status) => `'${status}'`).join(' | '));
    expect(types).toMatch(/^export type TaskStatus = RunningStatus \| TerminalStatus;$/m);
  });

  test('the Worker serves it and its types to other origins (a module is fetched with CORS)', async () => {
    for (const name of ['client.js', 'client.d.ts']) {
      const response = await fetch(`${inject('workerUrl')}/${name}`, { headers: { origin: inject('hostUrl') } });
      expect(response.status, name).toBe(200);
      expect(response.headers.get('access-control-allow-origin'), name).toBe('*');
    }
    const module = await fetch(`${inject('workerUrl')}/client.js`);
    expect(module.headers.get('content-type')).toMatch(/javascript/);
    expect(module.headers.get('x-typescript-types')).toBe('/client.d.ts');
  });
});

describe('client.js from Node', () => {
  test('generate reports every status and resolves with the finished task and its outputs', async () => {
    const statuses: string[] = [];
    const task = await wiro().generate(
      { prompt: 'wp4p, a lion under a starry sky', selectedLoraModel: '1328', steps: 8 },
      { onStatus: (state) => statuses.push(state.status) },
    );
    expect(task.status).toBe('task_postprocess_end');
    expect(task.pexit).toBe('0');
    expect(task.outputs).toHaveLength(1);
    expect(task.outputs[0]?.url).toMatch(/^http/);
    expect(statuses[0]).toBe('task_queue');
    expect(statuses.at(-1)).toBe('task_postprocess_end');
    expect(statuses).toContain('task_start');
  });

  test('bad input is refused with the field it is about, and reaches no Wiro', async () => {
    const before = await callCount();
    const error = await wiro()
      .generate({ prompt: 'a lion', steps: 500 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(WiroError);
    expect(error).toMatchObject({ name: 'WiroError', status: 400 });
    expect((error as InstanceType<typeof WiroError>).errors[0]).toMatchObject({ field: 'steps', code: 0 });
    expect(await callsSince(before)).toEqual([]);
  });

  test('a failed task rejects, carrying the task and its debugerror', async () => {
    await control('config', { failNextTasks: 1 });
    const error = (await wiro()
      .generate({ prompt: 'a lion' })
      .catch((caught: unknown) => caught)) as InstanceType<typeof WiroError>;
    await normalPace();
    expect(error).toBeInstanceOf(WiroError);
    expect(error.task?.status).toBe('task_postprocess_end');
    expect(error.task?.pexit).not.toBe('0');
    expect(error.message).toBe(error.task?.debugerror);
  });

  test('aborting rejects with AbortError and stops the task on Wiro', async () => {
    const before = await callCount();
    const abort = new AbortController();
    const error = await wiro()
      .generate({ prompt: 'a lion' }, { signal: abort.signal, onStatus: () => abort.abort() })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'AbortError' });
    const routes = await callsSince(before);
    expect(routes).toContain('Run');
    expect(routes.some((route) => route === 'Cancel' || route === 'Kill')).toBe(true);
    // Stopped on Wiro: it ends there without making (and billing) an image.
    await expect.poll(async () => (await control('state')).tasks.at(-1).status).toBe('task_cancel');
  });

  test('watch resumes a dropped stream from the last event, without repeating one', async () => {
    const eventsUrls: string[] = [];
    // The first stream is cut right after its first event, as a proxy dropping the connection would.
    const cuttingFetch = async (input: string, init?: RequestInit): Promise<Response> => {
      const response = await fetch(input, init);
      if (!input.includes('/v1/Task/Events')) return response;
      eventsUrls.push(input);
      if (eventsUrls.length > 1 || !response.body) return response;
      const reader = response.body.getReader();
      let text = '';
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { value, done } = await reader.read();
          if (done) return controller.close();
          text += new TextDecoder().decode(value);
          controller.enqueue(value);
          if (/\ndata:[^\n]*\n\n/.test(`\n${text}`)) {
            controller.close();
            await reader.cancel();
          }
        },
      });
      return new Response(body, { status: response.status, headers: response.headers });
    };
    const client = createClient({ endpoint: inject('workerUrl'), fetch: cuttingFetch });
    const { socketaccesstoken } = await client.run({ prompt: 'a lion' });
    const seen: WiroTask[] = [];
    for await (const task of client.watch(socketaccesstoken)) seen.push(task);

    expect(eventsUrls.length).toBeGreaterThanOrEqual(2);
    expect(eventsUrls[0]).not.toContain('lastEventId');
    expect(eventsUrls[1]).toMatch(/[?&]lastEventId=\d+/);
    const statuses = seen.map((task) => task.status);
    expect(statuses[0]).toBe('task_queue');
    expect(statuses.at(-1)).toBe('task_postprocess_end');
    // No state told twice: every status (and progress step) once.
    const keys = seen.map((task) => `${task.status}:${task.progress?.percentage ?? ''}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  test('a status the client does not know (one Wiro adds tomorrow) still arrives on watch', async () => {
    let streams = 0;
    // The first stream opens with an event of a status nobody has heard of, as the Worker would
    // relay it: `event:` is the status.
    const addingFetch = async (input: string, init?: RequestInit): Promise<Response> => {
      const response = await fetch(input, init);
      if (!input.includes('/v1/Task/Events') || !response.body || streams++ > 0) return response;
      const token = new URL(input).searchParams.get('tasktoken');
      const task = { id: '1', socketaccesstoken: token, status: 'task_warmup', outputs: [] };
      const extra = new TextEncoder().encode(`event: task_warmup\ndata: ${JSON.stringify(task)}\n\n`);
      const reader = response.body.getReader();
      let first = true;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (first) {
            first = false;
            return controller.enqueue(extra);
          }
          const { value, done } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        },
        cancel: (reason) => reader.cancel(reason),
      });
      return new Response(body, { status: response.status, headers: response.headers });
    };
    const client = createClient({ endpoint: inject('workerUrl'), fetch: addingFetch });
    const { socketaccesstoken } = await client.run({ prompt: 'a lion' });
    const statuses: string[] = [];
    for await (const task of client.watch(socketaccesstoken)) statuses.push(task.status);
    expect(statuses[0]).toBe('task_warmup');
    expect(statuses[1]).toBe('task_queue');
    expect(statuses.at(-1)).toBe('task_postprocess_end');
  });

  test('the callback core follows a task to its end; close() stops it; an unknown task is an error', async () => {
    const api = connect(inject('workerUrl'));
    const { socketaccesstoken } = await api.run({ prompt: 'a lion' });
    const statuses: string[] = [];
    const keys: string[] = [];
    const errors: CoreError[] = [];
    const following = api.follow(socketaccesstoken, {
      onState: (task) => {
        statuses.push(task.status);
        keys.push(`${task.status}:${task.progress?.percentage ?? ''}`);
      },
      onError: (error) => errors.push(error),
    });
    expect(following.via).toBe('stream');
    await expect.poll(() => statuses.at(-1), { timeout: 15_000 }).toBe('task_postprocess_end');
    expect(statuses[0]).toBe('task_queue');
    // No state told twice: every status (and progress step) once.
    expect(new Set(keys).size).toBe(keys.length);
    expect(following.via).toBeUndefined();
    expect(errors).toEqual([]);

    // Closed at once: nothing is told after close().
    const second = await api.run({ prompt: 'a lion' });
    const late: string[] = [];
    const closed = api.follow(second.socketaccesstoken, {
      onState: (task) => late.push(task.status),
      onError: () => {},
    });
    closed.close();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(late).toEqual([]);
    expect(closed.via).toBeUndefined();
    await api.stop('Cancel', second.socketaccesstoken).catch(() => api.stop('Kill', second.socketaccesstoken));

    // A token the Worker never issued: one error, no polling forever.
    const refused = await new Promise<CoreError>((resolve) => {
      api.follow('not-a-token-the-worker-issued', { onState: () => {}, onError: resolve });
    });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.status).toBeLessThan(500);
  });

  test('a 429 from Wiro (its concurrency limit) is surfaced with its retry time', async () => {
    await control('faults', { route: 'Run', kind: 'concurrency' });
    const error = (await wiro()
      .generate({ prompt: 'a lion' })
      .catch((caught: unknown) => caught)) as InstanceType<typeof WiroError>;
    expect(error).toBeInstanceOf(WiroError);
    expect(error.status).toBe(429);
    expect(error.errors[0]?.code).toBe(96);
    expect(error.retryAfter).toBeGreaterThan(0);
  });

  test('detail, cancel and tool answer in Wiro’s shapes', async () => {
    await control('config', { speed: 0 });
    const client = wiro();
    const { taskid, socketaccesstoken } = await client.run({ prompt: 'a lion' });
    expect((await client.detail(taskid)).status).toBe('task_queue');
    expect(await client.cancel(socketaccesstoken)).toMatchObject({ result: true, errors: [] });
    await expect.poll(async () => (await client.detail(socketaccesstoken)).status).toBe('task_cancel');
    await normalPace();
    // The client's types name exactly the Worker's LoRA values, scale settings and inputs.
    const { tool } = await client.tool();
    const loras = ['655', '678', '1239', '1236', '1328', '1214'] as const satisfies readonly LoraValue[];
    expect(tool.loras.map((lora) => lora.value)).toEqual(loras);
    const scales = tool.loras.flatMap((lora) => lora.settings.map((setting) => (setting as { id: string }).id));
    expect(scales.sort()).toEqual(
      (
        [
          'Dreamy-Vista-Soft-Color-Pencil-Drawings',
          'Movie-poster-style-LoRA-Flux-v1.0',
          'Vintage-Comic-Book-Cover-Sci-fi-Pulp',
          'Vintage-Mascot-Logotypes',
          'WPAP-ART-Style',
        ] satisfies LoraScaleId[]
      ).sort(),
    );
    const inputs: (keyof GenerateInput)[] = [
      'prompt',
      'selectedLoraModel',
      'steps',
      'scale',
      'samples',
      'seed',
      'width',
      'height',
      'selectedLoraModelPrivateUrl',
    ];
    expect(tool.inputs.map((input) => input.name)).toEqual(inputs);
  });
});

describe('client.js in a browser', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launch();
  });
  afterAll(() => browser?.close());

  test('a page of another origin imports /client.js and generates, streaming the task’s events', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (request) => requests.push(new URL(request.url()).pathname));
    await page.goto(`${inject('hostUrl')}/`);
    const worker = inject('workerUrl');
    // A string, not a function: the test runner would rewrite a function's import() for Node.
    const result = await page.evaluate(`(async () => {
      const { createClient } = await import(${JSON.stringify(`${worker}/client.js`)});
      const statuses = [];
      const task = await createClient({ endpoint: ${JSON.stringify(worker)} }).generate(
        { prompt: 'a lion' },
        { onStatus: (state) => statuses.push(state.status) },
      );
      return { statuses, outputs: task.outputs.length };
    })()`);
    const { statuses, outputs } = result as { statuses: string[]; outputs: number };
    expect(outputs).toBe(1);
    expect(statuses[0]).toBe('task_queue');
    expect(statuses.at(-1)).toBe('task_postprocess_end');
    expect(requests).toContain('/v1/Task/Events');
    expect(requests).not.toContain('/v1/Task/Detail');
    await context.close();
  });
});
