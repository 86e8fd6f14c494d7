import { spawn } from 'node:child_process';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { inflateSync, crc32 as zlibCrc32 } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Emulator, EmulatorTask } from './emulator.ts';
import { AUTH_ERROR_MESSAGE, DEFAULT_FAIL_MESSAGE, FIRST_TASK_ID, signNonce, startEmulator } from './emulator.ts';
import { crc32 } from './png.ts';

const KEY = 'test-key';
const SECRET = 'test-secret';
const TOOL_PATH = '/v1/Run/wiro/text-to-image-flux-lora-fast';

let lastNonce = Date.now();
function nextNonce(): string {
  lastNonce += 1;
  return String(lastNonce);
}

interface CallOptions {
  key?: string | null;
  secret?: string | null;
  nonce?: string;
  signature?: string;
  headers?: Record<string, string>;
  /** A raw body instead of JSON (FormData, URLSearchParams, string). */
  raw?: BodyInit;
}

function headersFor(options: CallOptions): Record<string, string> {
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key === undefined ? KEY : options.key;
  const secret = options.secret === undefined ? SECRET : options.secret;
  if (key !== null) headers['x-api-key'] = key;
  if (key !== null && secret) {
    const nonce = options.nonce ?? nextNonce();
    headers['x-nonce'] = nonce;
    headers['x-signature'] = options.signature ?? signNonce(key, secret, nonce);
  }
  return headers;
}

async function post(
  emu: Emulator,
  path: string,
  body: unknown,
  options: CallOptions = {},
): Promise<{ status: number; json: Record<string, unknown>; response: Response }> {
  const headers = headersFor(options);
  let payload: BodyInit;
  if (options.raw !== undefined) payload = options.raw;
  else {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const response = await fetch(`${emu.url}${path}`, { method: 'POST', headers, body: payload });
  const text = await response.text();
  return { status: response.status, json: JSON.parse(text) as Record<string, unknown>, response };
}

async function run(emu: Emulator, body: Record<string, unknown> = {}): Promise<string> {
  const { json } = await post(emu, TOOL_PATH, { prompt: 'a lighthouse at dusk', ...body });
  expect(json.result).toBe(true);
  return json.taskid as string;
}

async function detail(emu: Emulator, taskid: string): Promise<EmulatorTask> {
  const { json } = await post(emu, '/v1/Task/Detail', { taskid });
  expect(json.result).toBe(true);
  const list = json.tasklist as EmulatorTask[];
  const task = list[0];
  if (!task) throw new Error('no task');
  return task;
}

async function control(emu: Emulator, path: string, body?: unknown, method = 'POST') {
  const response = await fetch(`${emu.url}/__emulator/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function advance(emu: Emulator, taskid: string, to?: string): Promise<EmulatorTask> {
  const { status, json } = await control(emu, `tasks/${taskid}/advance`, to ? { to } : {});
  expect(status).toBe(200);
  return json as unknown as EmulatorTask;
}

async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('waitFor: timed out');
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

const RUNNING_ORDER = [
  'task_queue',
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

function dedupe(statuses: string[]): string[] {
  return statuses.filter((status, i) => status !== statuses[i - 1]);
}

/** Minimal PNG reader: checks the signature and chunk CRCs, returns IHDR and inflated IDAT. */
function readPng(bytes: Buffer) {
  expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let pos = 8;
  const idat: Buffer[] = [];
  let width = 0;
  let height = 0;
  let bitDepth = 0;
  let colourType = 0;
  const types: string[] = [];
  while (pos < bytes.length) {
    const length = bytes.readUInt32BE(pos);
    const type = bytes.toString('latin1', pos + 4, pos + 8);
    const data = bytes.subarray(pos + 8, pos + 8 + length);
    const crc = bytes.readUInt32BE(pos + 8 + length);
    expect(crc).toBe(zlibCrc32(bytes.subarray(pos + 4, pos + 8 + length)));
    types.push(type);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      bitDepth = data[8] ?? 0;
      colourType = data[9] ?? 0;
    } else if (type === 'IDAT') idat.push(data);
    pos += 12 + length;
  }
  expect(types[0]).toBe('IHDR');
  expect(types.at(-1)).toBe('IEND');
  const raw = inflateSync(Buffer.concat(idat));
  return { width, height, bitDepth, colourType, raw };
}

// ---------------------------------------------------------------------------------------------

describe('signatures', () => {
  let emu: Emulator;
  beforeAll(async () => {
    emu = await startEmulator({ apiKey: KEY, apiSecret: SECRET, speed: 0 });
  });
  afterAll(() => emu.close());

  it('matches the documented test vector', () => {
    expect(signNonce('k', 's', '1')).toBe('38aeb20015af4b6ac8dccf4fdedf8ab01c83b980763c0710e75c25ee5c97d420');
  });

  it('accepts a good signature and refuses bad, missing and replayed ones', async () => {
    const nonce = nextNonce();
    const good = await post(emu, '/v1/Task/Detail', { taskid: '1' }, { nonce });
    expect(good.status).toBe(200);
    expect(good.json).toEqual({
      result: false,
      errors: [{ code: 1, message: 'Task not found' }],
      total: '0',
      tasklist: [],
    });

    const refused = {
      result: false,
      errors: [{ code: 0, message: AUTH_ERROR_MESSAGE }],
    };
    const replay = await post(emu, '/v1/Task/Detail', { taskid: '1' }, { nonce });
    expect(replay.status).toBe(401);
    expect(replay.json).toEqual(refused);

    const bad = await post(emu, '/v1/Task/Detail', {}, { signature: 'ab'.repeat(32) });
    expect(bad.status).toBe(401);
    expect(bad.json).toEqual(refused);

    const upper = nextNonce();
    const uppercase = signNonce(KEY, SECRET, upper).toUpperCase();
    const upperRes = await post(emu, '/v1/Task/Detail', {}, { nonce: upper, signature: uppercase });
    expect(upperRes.status).toBe(401);

    const wrongSecret = await post(emu, '/v1/Task/Detail', {}, { secret: 'other' });
    expect(wrongSecret.status).toBe(401);
    const wrongKey = await post(emu, '/v1/Task/Detail', {}, { key: 'other' });
    expect(wrongKey.status).toBe(401);
    const keyOnly = await post(emu, '/v1/Task/Detail', {}, { secret: null });
    expect(keyOnly.status).toBe(401);
    const noKey = await post(emu, '/v1/Task/Detail', {}, { key: null });
    expect(noKey.status).toBe(401);
    const letters = await post(emu, '/v1/Task/Detail', {}, { nonce: 'abc' });
    expect(letters.status).toBe(401);

    const calls = emu.state().calls;
    expect(calls.map((c) => c.authorized)).toEqual([true, false, false, false, false, false, false, false, false]);
    expect(calls[0]).toMatchObject({ route: 'Detail', nonce, apiKey: true, status: 200 });
    expect(calls[7]).toMatchObject({ apiKey: false, nonce: null, status: 401 });
    expect(JSON.stringify(emu.state())).not.toContain(SECRET);
  });

  it('still refuses a used nonce after reset', async () => {
    const nonce = nextNonce();
    expect((await post(emu, '/v1/Task/Detail', {}, { nonce })).status).toBe(200);
    emu.reset();
    expect((await post(emu, '/v1/Task/Detail', {}, { nonce })).status).toBe(401);
  });

  it('needs only the key in an API-key-only project', async () => {
    const keyOnly = await startEmulator({ apiKey: KEY, apiSecret: '', speed: 0 });
    try {
      const ok = await post(keyOnly, TOOL_PATH, { prompt: 'x' }, { secret: null });
      expect(ok.status).toBe(200);
      expect(ok.json.result).toBe(true);
      // Signature headers are ignored, even bogus ones.
      const extra = await post(
        keyOnly,
        '/v1/Task/Detail',
        { taskid: ok.json.taskid },
        { secret: null, headers: { 'x-nonce': '1', 'x-signature': 'nope' } },
      );
      expect(extra.json.result).toBe(true);
      const wrong = await post(keyOnly, '/v1/Task/Detail', {}, { key: 'nope', secret: null });
      expect(wrong.status).toBe(401);
      expect(keyOnly.state().config.mode).toBe('api-key-only');
    } finally {
      await keyOnly.close();
    }
  });
});

describe('tasks', () => {
  let emu: Emulator;
  beforeAll(async () => {
    emu = await startEmulator({ apiKey: KEY, apiSecret: SECRET, speed: 0 });
  });
  afterAll(() => emu.close());
  beforeEach(() => emu.reset());

  it('runs a task step by step to task_postprocess_end', async () => {
    const { json } = await post(emu, TOOL_PATH, {
      selectedLoraModel: [],
      prompt: 'vintage matchbox artwork, a lion',
      steps: 20,
      scale: '3.5',
      samples: 2,
      seed: '3572004920',
      width: 96,
      height: 64,
    });
    expect(json).toEqual({
      result: true,
      errors: [],
      taskid: expect.any(String),
      socketaccesstoken: expect.stringMatching(/^[A-Za-z0-9]{30}$/),
    });
    const taskid = json.taskid as string;
    expect(Number(taskid)).toBeGreaterThanOrEqual(FIRST_TASK_ID);

    const queued = await detail(emu, taskid);
    expect(queued).toMatchObject({
      id: taskid,
      name: '',
      status: 'task_queue',
      pexit: '0',
      cps: '0.000585000000',
      totalcost: '0',
      starttime: '0',
      endtime: '0',
      canceltime: '0',
      outputs: [],
      parameters: {
        selectedLoraModel: '[]',
        prompt: 'vintage matchbox artwork, a lion',
        steps: '20',
        scale: '3.5',
        samples: '2',
        seed: '3572004920',
        width: '96',
        height: '64',
      },
    });
    // Detail by socket access token finds the same task.
    const byToken = await post(emu, '/v1/Task/Detail', { tasktoken: json.socketaccesstoken });
    expect(byToken.json.total).toBe('1');
    expect((byToken.json.tasklist as EmulatorTask[])[0]?.id).toBe(taskid);

    const statuses = [queued.status];
    const progress: Array<Record<string, string>> = [];
    for (let i = 0; i < 40; i++) {
      const task = await advance(emu, taskid);
      statuses.push(task.status);
      if (task.status === 'task_output') {
        expect(task.debugoutput).toMatch(/\d+\/20/);
        progress.push(JSON.parse(task.progress) as Record<string, string>);
      }
      if (task.status === 'task_postprocess_end') break;
    }
    expect(dedupe(statuses)).toEqual(RUNNING_ORDER);
    expect(progress).toHaveLength(8);
    expect(progress[0]).toMatchObject({ type: 'progressGenerate', stepTotal: '20' });
    expect(progress.at(-1)).toMatchObject({ percentage: '100', stepCurrent: '20' });
    const steps = progress.map((p) => Number(p.stepCurrent));
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);

    const done = await detail(emu, taskid);
    expect(done.status).toBe('task_postprocess_end');
    expect(done.pexit).toBe('0');
    expect(done.outputs).toHaveLength(2);
    expect(done.outputs.map((o) => o.name)).toEqual(['0.png', '1.png']);
    for (const field of [
      'createtime',
      'accepttime',
      'assigntime',
      'preprocessstarttime',
      'preprocessendtime',
      'starttime',
      'endtime',
      'postprocessstarttime',
      'postprocessendtime',
    ] as const) {
      expect(done[field]).toMatch(/^[1-9]\d{9}$/);
    }
    expect(done.elapsedseconds).toMatch(/^\d+\.\d{4}$/);
    expect(done.totalcost).toMatch(/^\d+\.\d{12}$/);
    // Every value is a string, except the fields Wiro's own sample shows as null / number.
    for (const [field, value] of Object.entries(done)) {
      if (['guestid', 'marketplaceid'].includes(field)) expect(value).toBeNull();
      else if (field === 'outputs') expect(Array.isArray(value)).toBe(true);
      else if (field === 'parameters') expect(typeof value).toBe('object');
      else expect(typeof value, field).toBe('string');
    }
    let total = 0;
    for (const output of done.outputs) {
      expect(output).toMatchObject({ contenttype: 'image/png', uuid: done.uuid });
      expect(output.url.startsWith(`${emu.url}/files/${taskid}/`)).toBe(true);
      const response = await fetch(output.url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/png');
      expect(response.headers.get('cache-control')).toContain('public');
      const bytes = Buffer.from(await response.arrayBuffer());
      expect(response.headers.get('content-length')).toBe(String(bytes.length));
      expect(output.size).toBe(String(bytes.length));
      total += bytes.length;
      const png = readPng(bytes);
      expect(png).toMatchObject({ width: 96, height: 64, bitDepth: 8, colourType: 2 });
      expect(png.raw.length).toBe(64 * (1 + 96 * 3));
    }
    expect(done.size).toBe(String(total));
    // Our CRC agrees with zlib's.
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);

    // Terminal: advancing further is refused.
    const again = await control(emu, `tasks/${taskid}/advance`, {});
    expect(again.status).toBe(409);
  });

  it('walks on its own at speed 50', async () => {
    emu.configure({ speed: 50 });
    const started = Date.now();
    const taskid = await run(emu, { width: 32, height: 32 });
    const seen: string[] = [];
    const done = await waitFor(async () => {
      const task = await detail(emu, taskid);
      seen.push(task.status);
      return task.status === 'task_postprocess_end' ? task : undefined;
    });
    const took = Date.now() - started;
    expect(took).toBeGreaterThan(100);
    expect(took).toBeLessThan(2000);
    expect(done.pexit).toBe('0');
    expect(done.outputs).toHaveLength(1);
    expect(seen[0]).toBe('task_queue');
    const order = dedupe(seen).map((s) => RUNNING_ORDER.indexOf(s));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('picks up a speed change for a waiting task and jumps with advance {to}', async () => {
    const taskid = await run(emu, { width: 16, height: 16 });
    const started = await advance(emu, taskid, 'task_start');
    expect(started.status).toBe('task_start');
    expect(started.accepttime).not.toBe('0');
    expect(started.progress).toBe('');
    const out = await advance(emu, taskid, 'task_output');
    expect(JSON.parse(out.progress)).toMatchObject({ stepCurrent: expect.any(String) });
    const bad = await control(emu, `tasks/${taskid}/advance`, { to: 'task_queue' });
    expect(bad.status).toBe(409);
    expect(String((bad.json.errors as Array<{ message: string }>)[0]?.message)).toContain('task_queue');
    emu.configure({ speed: 100 });
    const done = await waitFor(async () => {
      const task = await detail(emu, taskid);
      return task.status === 'task_postprocess_end' ? task : undefined;
    });
    expect(done.outputs).toHaveLength(1);
  });

  it('clamps the size to 2048 and defaults to 1024', async () => {
    const wide = await run(emu, { width: 5000, height: 8 });
    const square = await run(emu, {});
    const a = await advance(emu, wide, 'task_postprocess_end');
    const pngA = readPng(Buffer.from(await (await fetch(a.outputs[0]?.url ?? '')).arrayBuffer()));
    expect([pngA.width, pngA.height]).toEqual([2048, 8]);
    const b = await advance(emu, square, 'task_postprocess_end');
    const res = await fetch(b.outputs[0]?.url ?? '', { method: 'HEAD' });
    expect(res.status).toBe(200);
    const pngB = readPng(Buffer.from(await (await fetch(b.outputs[0]?.url ?? '')).arrayBuffer()));
    expect([pngB.width, pngB.height]).toEqual([1024, 1024]);
    expect((await fetch(`${emu.url}/files/${square}/7.png`)).status).toBe(404);
    expect((await fetch(`${emu.url}/files/999999/0.png`)).status).toBe(404);
  });

  it('cancels a queued task but not a running one', async () => {
    const queued = await run(emu);
    await advance(emu, queued, 'task_assign');
    const cancelled = await post(emu, '/v1/Task/Cancel', { taskid: queued });
    expect(cancelled.json.result).toBe(true);
    const task = (cancelled.json.tasklist as EmulatorTask[])[0];
    expect(task).toMatchObject({ id: queued, status: 'task_cancel', totalcost: '0' });
    expect(task?.canceltime).not.toBe('0');
    expect((await detail(emu, queued)).status).toBe('task_cancel');

    const running = await run(emu);
    await advance(emu, running, 'task_start');
    const refused = await post(emu, '/v1/Task/Cancel', { taskid: running });
    expect(refused.status).toBe(200);
    expect(refused.json).toEqual({
      result: false,
      errors: [{ code: 0, message: 'Task can not be cancelled in status task_start' }],
    });
    // The older doc form: {"tasktoken"}.
    const other = await post(emu, TOOL_PATH, { prompt: 'p' });
    const byToken = await post(emu, '/v1/Task/Cancel', { tasktoken: other.json.socketaccesstoken });
    expect(byToken.json.result).toBe(true);
    const unknown = await post(emu, '/v1/Task/Cancel', { taskid: '1' });
    expect(unknown.json).toEqual({ result: false, errors: [{ code: 1, message: 'Task not found' }] });
  });

  it('kills a running task by id or socket token, not a finished one', async () => {
    const a = await run(emu);
    await advance(emu, a, 'task_output');
    const killed = await post(emu, '/v1/Task/Kill', { taskid: a });
    expect(killed.json.result).toBe(true);
    const task = (killed.json.tasklist as EmulatorTask[])[0];
    expect(task?.status).toBe('task_cancel');
    expect(task?.canceltime).not.toBe('0');
    expect(task?.outputs).toEqual([]);

    const b = await post(emu, TOOL_PATH, { prompt: 'b' });
    const byToken = await post(emu, '/v1/Task/Kill', { socketaccesstoken: b.json.socketaccesstoken });
    expect(byToken.json.result).toBe(true);
    expect((await detail(emu, b.json.taskid as string)).status).toBe('task_cancel');

    const c = await run(emu, { width: 8, height: 8 });
    await advance(emu, c, 'task_postprocess_end');
    const late = await post(emu, '/v1/Task/Kill', { taskid: c });
    expect(late.json.result).toBe(false);
    expect(String((late.json.errors as Array<{ message: string }>)[0]?.message)).toContain('task_postprocess_end');
    // Cancelled tasks don't move any more, even with speed.
    emu.configure({ speed: 1000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await detail(emu, a)).status).toBe('task_cancel');
  });

  it('fails the next tasks on request', async () => {
    const { json } = await control(emu, 'config', { failNextTasks: 1 });
    expect(json.config).toMatchObject({ failNextTasks: 1, failMessage: DEFAULT_FAIL_MESSAGE });
    const failing = await run(emu);
    const fine = await run(emu, { width: 8, height: 8 });
    expect(emu.state().config.failNextTasks).toBe(0);
    const statuses: string[] = [];
    for (;;) {
      const task = await advance(emu, failing);
      statuses.push(task.status);
      if (task.status === 'task_postprocess_end') break;
    }
    expect(statuses).toContain('task_error');
    const failed = await detail(emu, failing);
    expect(failed).toMatchObject({
      status: 'task_postprocess_end',
      pexit: '1',
      outputs: [],
      totalcost: '0',
      debugerror: DEFAULT_FAIL_MESSAGE,
    });
    expect((await fetch(`${emu.url}/files/${failing}/0.png`)).status).toBe(404);
    const ok = await advance(emu, fine, 'task_postprocess_end');
    expect(ok.pexit).toBe('0');

    emu.configure({ failNextTasks: 1, failMessage: 'ValueError: boom' });
    const custom = await run(emu);
    expect((await advance(emu, custom, 'task_postprocess_end')).debugerror).toBe('ValueError: boom');
  });

  it('accepts multipart, urlencoded and JSON labelled multipart', async () => {
    const form = new FormData();
    form.append('prompt', 'a multipart prompt ✓');
    form.append('steps', '12');
    form.append('width', '64');
    form.append('callbackUrl', 'http://127.0.0.1:9/never');
    form.append('inputImage', new Blob([new Uint8Array([1, 2, 3])]), 'in.png');
    const multipart = await post(emu, TOOL_PATH, null, { raw: form });
    expect(multipart.json.result).toBe(true);
    const task = await detail(emu, multipart.json.taskid as string);
    expect(task.parameters).toMatchObject({ prompt: 'a multipart prompt ✓', steps: '12', width: '64' });
    expect(task.parameters.inputImage).toMatch(/\/v1\/File\/[A-Za-z0-9]{30}\/in\.png$/);
    expect(task.parameters.callbackUrl).toBeUndefined();
    expect(task.callbackurl).toBe('http://127.0.0.1:9/never');
    const call = emu.state().calls.find((c) => c.route === 'Run');
    expect(call?.body).toMatchObject({ prompt: 'a multipart prompt ✓' });

    const urlencoded = await post(emu, TOOL_PATH, null, {
      raw: new URLSearchParams({ prompt: 'form', samples: '2' }),
    });
    expect(urlencoded.json.result).toBe(true);
    expect((await detail(emu, urlencoded.json.taskid as string)).parameters.samples).toBe('2');

    // Wiro's own curl example: JSON body, content-type multipart/form-data without boundary.
    const seedStyle = await post(emu, TOOL_PATH, null, {
      raw: JSON.stringify({ prompt: 'seed style', seed: 1 }),
      headers: { 'content-type': 'multipart/form-data' },
    });
    expect(seedStyle.json.result).toBe(true);
    expect((await detail(emu, seedStyle.json.taskid as string)).parameters.seed).toBe('1');
  });

  it('rejects a missing prompt and unknown tools and routes', async () => {
    const missing = await post(emu, TOOL_PATH, { steps: 20 });
    expect(missing.status).toBe(200);
    expect(missing.json.result).toBe(false);
    expect((missing.json.errors as Array<{ code: number; message: string }>)[0]).toMatchObject({
      code: 0,
      message: expect.stringContaining('prompt'),
    });
    const unknown = await post(emu, '/v1/Run/wiro/no-such-model', { prompt: 'x' });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ result: false, errors: [{ code: 1, message: 'Tool not found' }] });
    const other = await post(emu, '/v1/Nope', {});
    expect(other.status).toBe(404);
    expect(other.json.result).toBe(false);
    const page = await fetch(`${emu.url}/`);
    expect(page.status).toBe(404);
    expect(page.headers.get('content-type')).toContain('application/json');
    await page.body?.cancel();
    const controlMissing = await control(emu, 'nope', undefined, 'GET');
    expect(controlMissing.status).toBe(404);
    const badConfig = await control(emu, 'config', { speed: -1 });
    expect(badConfig.status).toBe(400);
    const badFault = await control(emu, 'faults', { route: 'Run', kind: 'teapot' });
    expect(badFault.status).toBe(400);
    expect(emu.state().calls.map((c) => c.route)).toEqual(['Run', 'Other', 'Other']);
  });

  it('numbers tasks sequentially and reports the same state over HTTP', async () => {
    const first = Number(await run(emu));
    const second = Number(await run(emu));
    expect(second).toBe(first + 1);
    const { json } = await control(emu, 'state', undefined, 'GET');
    expect(json).toEqual(emu.state());
    expect((json.tasks as EmulatorTask[]).map((t) => t.id)).toEqual([String(first), String(second)]);
    await control(emu, 'reset');
    expect(emu.state()).toMatchObject({ tasks: [], calls: [], callbacks: [], faults: [] });
    expect(emu.state().config.speed).toBe(0);
  });
});

describe('faults', () => {
  let emu: Emulator;
  beforeAll(async () => {
    emu = await startEmulator({ apiKey: KEY, apiSecret: SECRET, speed: 0 });
  });
  afterAll(() => emu.close());
  beforeEach(() => emu.reset());

  async function raw(path: string, body: unknown): Promise<Response> {
    return fetch(`${emu.url}${path}`, {
      method: 'POST',
      headers: { ...headersFor({}), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  it('answers 500 and 502 with a JSON envelope, for `times` calls on the route only', async () => {
    await control(emu, 'faults', { route: 'Detail', kind: '500', times: 2 });
    await control(emu, 'faults', { route: 'Detail', kind: '502' });
    const taskid = await run(emu); // Run is not affected
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await raw('/v1/Task/Detail', { taskid });
      statuses.push(response.status);
      const json = (await response.json()) as { result: boolean };
      if (response.status !== 200) expect(json.result).toBe(false);
    }
    expect(statuses).toEqual([500, 500, 502, 200]);
    const calls = emu.state().calls.filter((c) => c.route === 'Detail');
    expect(calls.map((c) => c.fault)).toEqual(['500', '500', '502', null]);
    expect(calls.map((c) => c.status)).toEqual([500, 500, 502, 200]);
    expect(emu.state().faults).toEqual([]);
  });

  it('answers an HTML page and a garbage body', async () => {
    emu.fault({ route: '*', kind: 'html' });
    emu.fault({ route: 'Run', kind: 'garbage' });
    const html = await raw(TOOL_PATH, { prompt: 'x' });
    expect(html.status).toBe(502);
    expect(html.headers.get('content-type')).toContain('text/html');
    expect(await html.text()).toContain('<html>');
    const garbage = await raw(TOOL_PATH, { prompt: 'x' });
    expect(garbage.status).toBe(200);
    expect(await garbage.text()).toBe('not json{{');
    expect(emu.state().tasks).toEqual([]);
  });

  it('answers balance, concurrency and unauthorized like Wiro', async () => {
    emu.fault({ route: 'Run', kind: 'balance' });
    emu.fault({ route: 'Run', kind: 'concurrency' });
    emu.fault({ route: 'Kill', kind: 'unauthorized' });
    const balance = await post(emu, TOOL_PATH, { prompt: 'x' });
    expect(balance.status).toBe(200);
    expect(balance.json).toEqual({
      result: false,
      errors: [{ code: 97, message: 'Insufficient balance' }],
    });
    const concurrency = await post(emu, TOOL_PATH, { prompt: 'x' });
    expect(concurrency.status).toBe(429);
    expect(concurrency.json).toEqual({
      result: false,
      errors: [{ code: 96, message: 'Concurrency limit reached' }],
    });
    const unauthorized = await post(emu, '/v1/Task/Kill', { taskid: '1' });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.json).toEqual({
      result: false,
      errors: [{ code: 0, message: AUTH_ERROR_MESSAGE }],
    });
    expect(emu.state().tasks).toEqual([]);
  });

  it('resets the connection', async () => {
    emu.fault({ route: 'Cancel', kind: 'reset' });
    await expect(raw('/v1/Task/Cancel', { taskid: '1' })).rejects.toThrow();
    const call = emu.state().calls[0];
    expect(call).toMatchObject({ route: 'Cancel', fault: 'reset', status: null });
    expect((await raw('/v1/Task/Cancel', { taskid: '1' })).status).toBe(200);
  });

  it('answers slowly without holding up other requests', async () => {
    emu.fault({ route: 'Detail', kind: 'slow', delayMs: 400 });
    const started = Date.now();
    const slow = raw('/v1/Task/Detail', { taskid: '1' }).then((r) => ({ r, at: Date.now() }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const quick = await raw('/v1/Task/Detail', { taskid: '1' });
    expect(quick.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(300);
    const { r, at } = await slow;
    expect(r.status).toBe(200);
    expect(at - started).toBeGreaterThanOrEqual(390);
    expect(((await r.json()) as { errors: Array<{ message: string }> }).errors[0]?.message).toBe('Task not found');
  });

  it('closes promptly while a slow answer is pending', async () => {
    const own = await startEmulator({ apiKey: KEY, apiSecret: SECRET, speed: 0 });
    own.fault({ route: '*', kind: 'slow' }); // 30 s
    const pending = fetch(`${own.url}/v1/Task/Detail`, {
      method: 'POST',
      headers: { ...headersFor({}), 'content-type': 'application/json' },
      body: '{}',
    }).catch((err: unknown) => err);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
  });

  it('can break the file route too', async () => {
    const taskid = await run(emu, { width: 8, height: 8 });
    const task = await advance(emu, taskid, 'task_postprocess_end');
    emu.fault({ route: 'Files', kind: '502' });
    const url = task.outputs[0]?.url ?? '';
    expect((await fetch(url)).status).toBe(502);
    expect((await fetch(url)).status).toBe(200);
  });
});

describe('callbacks', () => {
  let emu: Emulator;
  let receiver: Server;
  let receiverUrl = '';
  let received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
  let answers: number[] = [];

  beforeAll(async () => {
    emu = await startEmulator({ apiKey: KEY, apiSecret: SECRET, speed: 0 });
    receiver = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(answers.shift() ?? 200).end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  });
  afterAll(async () => {
    await emu.close();
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });
  beforeEach(() => {
    emu.reset();
    received = [];
    answers = [];
  });

  it('POSTs the finished task to the callback URL', async () => {
    const taskid = await run(emu, { width: 8, height: 8, callbackUrl: `${receiverUrl}?t=1` });
    expect(received).toEqual([]);
    await advance(emu, taskid, 'task_postprocess_end');
    await waitFor(() => (received.length === 1 ? true : undefined));
    const hit = received[0];
    expect(hit?.headers['content-type']).toBe('application/json');
    const body = JSON.parse(hit?.body ?? '') as Record<string, unknown>;
    expect(body).toMatchObject({ result: true, errors: [], total: '1' });
    const task = (body.tasklist as EmulatorTask[])[0];
    expect(task).toMatchObject({ id: taskid, status: 'task_postprocess_end', pexit: '0' });
    expect(task?.outputs).toHaveLength(1);
    const records = await waitFor(() => {
      const list = emu.state().callbacks;
      return list.length === 1 ? list : undefined;
    });
    expect(records[0]).toMatchObject({
      taskid,
      url: `${receiverUrl}?t=1`,
      attempt: 1,
      status: 200,
      error: null,
      dropped: false,
    });
  });

  it('calls back on cancel too, and retries once after a failure', async () => {
    answers = [500, 200];
    const taskid = await run(emu, { callbackUrl: receiverUrl });
    const cancelled = await post(emu, '/v1/Task/Cancel', { taskid });
    expect(cancelled.json.result).toBe(true);
    await waitFor(() => (received.length === 2 ? true : undefined), 4000);
    const records = await waitFor(() => {
      const list = emu.state().callbacks;
      return list.length === 2 ? list : undefined;
    });
    expect(records.map((r) => [r.attempt, r.status, r.error])).toEqual([
      [1, 500, 'HTTP 500'],
      [2, 200, null],
    ]);
    expect((records[1]?.at ?? 0) - (records[0]?.at ?? 0)).toBeGreaterThanOrEqual(900);
    const body = JSON.parse(received[1]?.body ?? '') as { tasklist: EmulatorTask[] };
    expect(body.tasklist[0]?.status).toBe('task_cancel');
  });

  it('records an unreachable receiver', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const taskid = await run(emu, { callbackUrl: `http://127.0.0.1:${port}/gone` });
    await post(emu, '/v1/Task/Kill', { taskid });
    const records = await waitFor(() => {
      const list = emu.state().callbacks;
      return list.length === 2 ? list : undefined;
    }, 4000);
    expect(records.every((r) => r.status === null && typeof r.error === 'string')).toBe(true);
  });

  it('drops callbacks when told to', async () => {
    await control(emu, 'config', { dropCallbacks: true });
    const taskid = await run(emu, { width: 8, height: 8, callbackUrl: receiverUrl });
    await advance(emu, taskid, 'task_postprocess_end');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toEqual([]);
    expect(emu.state().callbacks).toEqual([
      expect.objectContaining({ taskid, url: receiverUrl, dropped: true, status: null }),
    ]);
  });
});

describe('serve.ts', () => {
  const node = fileURLToPath(new URL('../../node_modules/.bin/node', import.meta.url));
  const serve = fileURLToPath(new URL('./serve.ts', import.meta.url));
  let child: ReturnType<typeof spawn> | null = null;
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    child = null;
  });

  it('starts on Node 22, answers, and exits cleanly on SIGINT', async () => {
    const proc = spawn(node, [serve, '--port', '0'], {
      env: { ...process.env, WIRO_EMULATOR_KEY: 'cli-key', WIRO_EMULATOR_SECRET: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      proc.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      proc.on('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    expect(line).toMatch(
      /^Wiro emulator listening on http:\/\/127\.0\.0\.1:\d+\/v1 \(key "cli-key", API-key-only mode\)$/,
    );
    const base = /(http:\/\/\S+\/v1)/.exec(line)?.[1] ?? '';
    const response = await fetch(`${base}/Run/wiro/text-to-image-flux-lora-fast`, {
      method: 'POST',
      headers: { 'x-api-key': 'cli-key', 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'cli' }),
    });
    expect(((await response.json()) as { result: boolean }).result).toBe(true);
    const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
    proc.kill('SIGINT');
    expect(await exited).toBe(0);
  });
});
