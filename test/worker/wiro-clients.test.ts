/**
 * Wiro's own clients against the Worker, call for call: Wiro's MCP client (wiroai/Wiro-MCP
 * `src/client.ts`, 2026-08) with the Worker as its base URL, Wiro's React Native SDK (wirokit,
 * `packages/wirokit/src/client/wiro-client.ts`, 2026-08) in its proxy mode, and the curl examples
 * of the tool's own page (test/fixtures/wiro-tool-page.txt, verbatim). The sequences are written
 * out from those clients' code (the bodies, headers and the order of calls), not imported.
 */
import { runDurableObjectAlarm, SELF } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import toolPage from '../fixtures/wiro-tool-page.txt?raw';
import { BASE, emulator, taskObjectOf, wiroIdOf } from './helpers';

const MODEL = 'wiro/text-to-image-flux-lora-fast';
const INPUT = { prompt: 'wp4p, a lion', selectedLoraModel: '1328', steps: '20', samples: '1' };

beforeEach(async () => {
  await emulator.reset();
});

/**
 * Wiro's MCP client: JSON bodies with its own key headers (it requires a key even for a proxy:
 * the Worker ignores them), and any non-2xx answer is an error.
 */
function mcpClient(base = `${BASE}/v1`) {
  const request = async (path: string, body: Record<string, unknown>) => {
    const response = await SELF.fetch(`${base}${path}`, {
      method: 'POST',
      headers: {
        'x-api-key': 'placeholder-key',
        'Content-Type': 'application/json',
        'x-signature': '0'.repeat(64),
        'x-nonce': String(Date.now()),
      },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok)
      throw Object.assign(new Error(`Wiro API error ${response.status}: ${text}`), { status: response.status });
    return JSON.parse(text) as Record<string, any>;
  };
  const getTask = (reference: { tasktoken?: string; taskid?: string }) => request('/Task/Detail', reference);
  return {
    getModelSchema: (model: string) => {
      const [slugowner, ...rest] = model.split('/');
      return request('/Tool/Detail', { slugowner, slugproject: rest.join('/') });
    },
    runModel: (model: string, params: Record<string, unknown>) => request(`/Run/${model}`, params),
    getTask,
    /** `cancelTask({tasktoken})`: the id comes from Detail, then Cancel by `taskid`. */
    cancelTask: async (tasktoken: string) => {
      const detail = await getTask({ tasktoken });
      return request('/Task/Cancel', { taskid: detail.tasklist?.[0]?.id });
    },
    killTask: (reference: { tasktoken?: string; taskid?: string }) =>
      request(
        '/Task/Kill',
        reference.taskid ? { taskid: reference.taskid } : { socketaccesstoken: reference.tasktoken },
      ),
    /** `waitForTask`: polls Detail until one of its terminal statuses (task_error among them). */
    waitForTask: async (tasktoken: string, betweenPolls: () => Promise<void>) => {
      for (let attempt = 0; attempt < 20; attempt++) {
        const detail = await getTask({ tasktoken });
        if (!detail.result) throw new Error('Task status request failed');
        const task = detail.tasklist[0];
        if (['task_postprocess_end', 'task_cancel', 'task_error'].includes(task.status)) return detail;
        await betweenPolls();
      }
      throw new Error('Task timed out');
    },
  };
}

/** Wiro's React Native SDK in proxy mode: `proxyUrl` instead of Wiro's base, no auth headers. */
function wirokit(proxyUrl = `${BASE}/v1`) {
  const postJson = async (path: string, body: Record<string, unknown>) => {
    const response = await SELF.fetch(`${proxyUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'WiroKit-ReactNative/0.1.0' },
      body: JSON.stringify(body),
    });
    const json = (await response.json()) as Record<string, any>;
    if (response.status < 200 || response.status > 299 || json.result === false) {
      throw Object.assign(new Error(json.errors?.[0]?.message ?? 'Wiro API request failed.'), {
        status: response.status,
      });
    }
    return json;
  };
  const isTerminal = (status: string) => status === 'task_postprocess_end' || status === 'task_cancel';
  return {
    getModelSchema: async (owner: string, project: string) => {
      const json = await postJson('/Tool/Detail', { slugowner: owner, slugproject: project });
      return json.tool[0] as { parameters: Array<{ title: string; items: Array<Record<string, any>> }> };
    },
    runModel: (owner: string, project: string, parameters: Record<string, unknown>) =>
      postJson(`/Run/${owner}/${project}`, parameters),
    getTask: async (token: string) => (await postJson('/Task/Detail', { tasktoken: token })).tasklist[0],
    cancelTask: async (taskId: string) => (await postJson('/Task/Cancel', { taskid: taskId })).result === true,
    killTask: async (token: string) => (await postJson('/Task/Kill', { socketaccesstoken: token })).result === true,
    isTerminal,
    /** `subscribe` with `trackingMode: 'webSocket'`: frames until a terminal one, then one Detail to confirm. */
    subscribeSocket: async (token: string, onOpen: () => Promise<void>) => {
      const response = await SELF.fetch(`${BASE}/v1`, { headers: { upgrade: 'websocket' } });
      const socket = response.webSocket as WebSocket;
      socket.accept();
      const frames: Array<Record<string, any>> = [];
      const ended = new Promise<void>((resolve) => {
        socket.addEventListener('message', (event) => {
          const frame = JSON.parse(String(event.data));
          frames.push(frame);
          if (isTerminal(frame.type)) resolve();
        });
      });
      socket.send(`{"type":"task_info","tasktoken":"${token}"}`);
      await onOpen();
      await ended;
      socket.close(1000, 'done');
      const confirmed = (await postJson('/Task/Detail', { tasktoken: token })).tasklist[0];
      return { frames, confirmed };
    },
  };
}

/** Moves the emulator's task on and lets the task object read it, as its next poll would. */
async function step(token: string, to: string): Promise<void> {
  await emulator.advance(await wiroIdOf(token), to);
  await runDurableObjectAlarm(taskObjectOf(token));
}

describe('Wiro’s MCP client, with the Worker as its base URL', () => {
  it('reads the schema, runs, and waits by polling to the end', async () => {
    const wiro = mcpClient();
    const schema = await wiro.getModelSchema(MODEL);
    expect(schema.tool[0].parameters[0].items.map((item: { id: string }) => item.id)).toContain('prompt');
    const run = await wiro.runModel(MODEL, INPUT);
    expect(run).toMatchObject({ result: true, errors: [] });
    const statuses = ['task_start', 'task_output', 'task_postprocess_end'];
    const done = await wiro.waitForTask(run.socketaccesstoken, async () => {
      await emulator.advance(await wiroIdOf(run.socketaccesstoken), statuses.shift());
    });
    expect(done.tasklist[0]).toMatchObject({ id: run.taskid, status: 'task_postprocess_end', pexit: '0' });
    expect(done.tasklist[0].outputs).toHaveLength(1);
  });

  it('cancels a queued task the way it does: Detail by token, then Cancel by tasklist[0].id', async () => {
    const wiro = mcpClient();
    const run = await wiro.runModel(MODEL, INPUT);
    const cancelled = await wiro.cancelTask(run.socketaccesstoken);
    expect(cancelled).toMatchObject({ result: true, tasklist: [{ id: run.taskid, status: 'task_cancel' }] });
    const { calls } = await emulator.state();
    expect(calls.map((call) => call.route)).toEqual(['Run', 'Detail', 'Cancel']);
  });

  it('kills a running task by token (socketaccesstoken) and by taskid', async () => {
    const wiro = mcpClient();
    const first = await wiro.runModel(MODEL, INPUT);
    await step(first.socketaccesstoken, 'task_start');
    expect(await wiro.killTask({ tasktoken: first.socketaccesstoken })).toMatchObject({
      tasklist: [{ status: 'task_cancel' }],
    });
    const second = await wiro.runModel(MODEL, INPUT);
    await step(second.socketaccesstoken, 'task_start');
    expect(await wiro.killTask({ taskid: second.taskid })).toMatchObject({ tasklist: [{ status: 'task_cancel' }] });
  });

  it('stops waiting at a fatal task_error, shown as a failed end every client stops at', async () => {
    await emulator.config({ fatalNextTasks: 1, failMessage: 'CUDA error: no kernel image is available' });
    const wiro = mcpClient();
    const run = await wiro.runModel(MODEL, INPUT);
    const done = await wiro.waitForTask(run.socketaccesstoken, () => step(run.socketaccesstoken, 'task_error'));
    expect(done.tasklist[0]).toMatchObject({
      status: 'task_postprocess_end',
      pexit: '1',
      debugerror: 'CUDA error: no kernel image is available',
      outputs: [],
    });
  });

  it('gets Wiro’s not-found answer for another model’s schema, and for made-up ids', async () => {
    const wiro = mcpClient();
    await expect(wiro.getModelSchema('black-forest-labs/flux-2-pro')).rejects.toMatchObject({ status: 404 });
    await expect(wiro.getTask({ taskid: '2221' })).rejects.toMatchObject({ status: 404 });
    expect(await emulator.callCount()).toBe(0);
  });
});

describe('Wiro’s React Native SDK, in proxy mode', () => {
  it('reads the model schema: groups of typed items, from the schema that validates', async () => {
    const { parameters } = await wirokit().getModelSchema('wiro', 'text-to-image-flux-lora-fast');
    const items = Object.fromEntries(parameters.flatMap((group) => group.items).map((item) => [item.id, item]));
    expect(items.prompt).toMatchObject({ type: 'textarea', required: true });
    expect(items.steps).toMatchObject({ type: 'number', min: '1', max: '50', default: '20' });
    expect(items.scale).toMatchObject({ type: 'float', default: '3.5' });
    expect(items.selectedLoraModel.options.map((option: { value: string }) => option.value)).toEqual([
      '655',
      '678',
      '1239',
      '1236',
      '1328',
      '1214',
    ]);
    expect(items.selectedLoraModel.options[4]).toMatchObject({ label: expect.any(String), triggerwords: ['wp4p'] });
  });

  it('runs, follows the task over the WebSocket to the end, and confirms it with Detail', async () => {
    const kit = wirokit();
    const run = await kit.runModel('wiro', 'text-to-image-flux-lora-fast', INPUT);
    const { frames, confirmed } = await kit.subscribeSocket(run.socketaccesstoken, async () => {
      await step(run.socketaccesstoken, 'task_start');
      await step(run.socketaccesstoken, 'task_output');
      await step(run.socketaccesstoken, 'task_postprocess_end');
    });
    expect(frames.map((frame) => frame.type)).toEqual([
      'task_queue',
      'task_start',
      'task_output',
      'task_postprocess_end',
    ]);
    for (const frame of frames) expect(frame).toMatchObject({ id: run.taskid, tasktoken: run.socketaccesstoken });
    expect(frames[0]?.message).toBeNull();
    expect(frames[2]?.message).toMatchObject({ type: 'progressGenerate', percentage: expect.any(Number) });
    expect(frames[3]?.message[0]).toMatchObject({ name: '0.png', contenttype: 'image/png' });
    expect(kit.isTerminal(confirmed.status)).toBe(true);
  });

  it('cancels a queued task by taskid and kills a running one by token', async () => {
    const kit = wirokit();
    const queued = await kit.runModel('wiro', 'text-to-image-flux-lora-fast', INPUT);
    expect(await kit.cancelTask(queued.taskid)).toBe(true);
    expect((await kit.getTask(queued.socketaccesstoken)).status).toBe('task_cancel');
    const running = await kit.runModel('wiro', 'text-to-image-flux-lora-fast', INPUT);
    await step(running.socketaccesstoken, 'task_start');
    expect(await kit.killTask(running.socketaccesstoken)).toBe(true);
    expect((await kit.getTask(running.socketaccesstoken)).status).toBe('task_cancel');
  });

  it('stops polling at a fatal task_error too: it is ended as task_postprocess_end with pexit', async () => {
    await emulator.config({ fatalNextTasks: 1 });
    const kit = wirokit();
    const run = await kit.runModel('wiro', 'text-to-image-flux-lora-fast', INPUT);
    await step(run.socketaccesstoken, 'task_error');
    const task = await kit.getTask(run.socketaccesstoken);
    expect(kit.isTerminal(task.status)).toBe(true);
    expect(task.pexit).not.toBe('0');
  });
});

/** The page's curl lines, verbatim: URL, headers and `-d` body, with Wiro's base swapped for the Worker's. */
function toolPageExamples() {
  const pattern = /curl -X POST "([^"]+)"((?: -H "[^"]+")*) -d '([^']*)'/g;
  return [...toolPage.matchAll(pattern)].map(([, url = '', headerText = '', body = '']) => ({
    path: url.replace('https://api.wiro.ai', ''),
    headers: Object.fromEntries(
      [...headerText.matchAll(/-H "([^:]+): ([^"]*)"/g)].map(([, name = '', value = '']) => [name, value]),
    ),
    body,
  }));
}

describe('the tool page’s own curl examples', () => {
  it('are all there: Run, Detail by id and by token, Kill by id and by token, Cancel', () => {
    expect(toolPageExamples().map((example) => example.path)).toEqual([
      `/v1/Run/${MODEL}`,
      '/v1/Task/Detail',
      '/v1/Task/Detail',
      '/v1/Task/Kill',
      '/v1/Task/Kill',
      '/v1/Task/Cancel',
    ]);
  });

  it('run verbatim (JSON labelled multipart, prose in callbackUrl): the Run starts a task', async () => {
    const [run] = toolPageExamples();
    const response = await SELF.fetch(`${BASE}${run?.path}`, {
      method: 'POST',
      headers: run?.headers,
      body: run?.body,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ result: true, errors: [] });
    expect(response.headers.get('wiro-flux-warning')).toMatch(/callbackUrl is not a URL/);
    const { calls } = await emulator.state();
    expect(calls[0]?.body).toMatchObject({
      prompt: expect.stringMatching(/^vintage matchbox artwork/),
      seed: '3572004920',
    });
  });

  it('name Wiro’s own ids, which the Worker never issued: each answers 404 and reaches no Wiro', async () => {
    for (const example of toolPageExamples().slice(1)) {
      const response = await SELF.fetch(`${BASE}${example.path}`, {
        method: 'POST',
        headers: example.headers,
        body: example.body,
      });
      expect(response.status, example.body).toBe(404);
      expect(await response.json()).toMatchObject({ result: false, errors: [{ code: 1 }] });
    }
    expect(await emulator.callCount()).toBe(0);
  });

  it('work with the ids the Worker handed out, sent the same way', async () => {
    const [run, detailById, detailByToken, , killByToken, cancel] = toolPageExamples();
    const send = (example: typeof run, body: string) =>
      SELF.fetch(`${BASE}${example?.path}`, { method: 'POST', headers: example?.headers, body });
    const started = (await (await send(run, run?.body ?? '')).json()) as { taskid: string; socketaccesstoken: string };
    const withIds = (example: typeof run) =>
      (example?.body ?? '')
        .replace(/"\d+"/, `"${started.taskid}"`)
        .replace(/"[A-Za-z0-9]{30}"/, `"${started.socketaccesstoken}"`);
    expect((await send(detailById, withIds(detailById))).status).toBe(200);
    expect((await send(detailByToken, withIds(detailByToken))).status).toBe(200);
    expect(await (await send(cancel, withIds(cancel))).json()).toMatchObject({ tasklist: [{ status: 'task_cancel' }] });
    const again = (await (await send(run, run?.body ?? '')).json()) as { socketaccesstoken: string };
    await step(again.socketaccesstoken, 'task_start');
    const body = (killByToken?.body ?? '').replace(/"[A-Za-z0-9]{30}"/, `"${again.socketaccesstoken}"`);
    expect(await (await send(killByToken, body)).json()).toMatchObject({ tasklist: [{ status: 'task_cancel' }] });
  });
});
