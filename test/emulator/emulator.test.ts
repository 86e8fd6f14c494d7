import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { inflateSync, crc32 as zlibCrc32 } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Emulator, EmulatorTask } from '../../emulator/emulator.ts';
import {
  AUTH_ERROR_MESSAGE,
  DEFAULT_FAIL_MESSAGE,
  FAULT_KINDS,
  FIRST_TASK_ID,
  signNonce,
  startEmulator,
} from '../../emulator/emulator.ts';
import { crc32 } from '../../emulator/png.ts';
import { acceptKey } from '../../emulator/websocket.ts';

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
    // The interim task_error is a line on the socket: Detail never shows it as a status.
    expect(statuses).not.toContain('task_error');
    expect(dedupe(statuses)).toEqual([
      'task_accept',
      'task_assign',
      'task_preprocess_start',
      'task_preprocess_end',
      'task_start',
      'task_output',
      'task_error_full',
      'task_end',
      'task_postprocess_start',
      'task_postprocess_end',
    ]);
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

  it('holds a task that dies before it runs at task_error for good', async () => {
    const { json } = await control(emu, 'config', { fatalNextTasks: 1, failNextTasks: 1 });
    expect(json.config).toMatchObject({ fatalNextTasks: 1, failNextTasks: 1 });
    const dead = await run(emu);
    // fatalNextTasks is counted first; the next task takes failNextTasks.
    expect(emu.state().config).toMatchObject({ fatalNextTasks: 0, failNextTasks: 1 });
    expect((await detail(emu, dead)).status).toBe('task_queue');
    expect((await advance(emu, dead)).status).toBe('task_accept');
    const ended = await advance(emu, dead);
    expect(ended).toMatchObject({
      status: 'task_error',
      pexit: '1',
      debugerror: DEFAULT_FAIL_MESSAGE,
      totalcost: '0',
      outputs: [],
      starttime: '0',
    });
    expect(ended.endtime).toMatch(/^[1-9]\d{9}$/);
    expect(await detail(emu, dead)).toEqual(ended);

    // It is over: no step, no Cancel, no Kill, and time changes nothing.
    const again = await control(emu, `tasks/${dead}/advance`, {});
    expect(again.status).toBe(409);
    expect(String((again.json.errors as Array<{ message: string }>)[0]?.message)).toContain('task_error');
    expect((await control(emu, `tasks/${dead}/advance`, { to: 'task_cancel' })).status).toBe(409);
    const cancel = await post(emu, '/v1/Task/Cancel', { taskid: dead });
    expect(cancel.json).toEqual({
      result: false,
      errors: [{ code: 0, message: 'Task can not be cancelled in status task_error' }],
    });
    const kill = await post(emu, '/v1/Task/Kill', { socketaccesstoken: ended.socketaccesstoken });
    expect(kill.json).toEqual({
      result: false,
      errors: [{ code: 0, message: 'Task can not be killed in status task_error' }],
    });
    emu.configure({ speed: 1000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await detail(emu, dead)).toEqual(ended);
    emu.configure({ speed: 0 });

    // advance {to: 'task_error'} jumps straight there; on its own it gets there too.
    emu.configure({ fatalNextTasks: 2, failMessage: 'RuntimeError: model weights missing' });
    const jumped = await advance(emu, await run(emu), 'task_error');
    expect(jumped).toMatchObject({ status: 'task_error', debugerror: 'RuntimeError: model weights missing' });
    expect(jumped.accepttime).not.toBe('0');
    const walking = await run(emu);
    emu.configure({ speed: 50 });
    const seen = await waitFor(async () => {
      const task = await detail(emu, walking);
      return task.status === 'task_error' ? task : undefined;
    });
    expect(seen.pexit).toBe('1');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await detail(emu, walking)).status).toBe('task_error');

    for (const bad of [-1, 1.5, '2']) {
      expect((await control(emu, 'config', { fatalNextTasks: bad })).status).toBe(400);
    }
  });

  it('finds a task named by both taskid and tasktoken only when both name it', async () => {
    const a = await post(emu, TOOL_PATH, { prompt: 'a' });
    const b = await post(emu, TOOL_PATH, { prompt: 'b' });
    const both = await post(emu, '/v1/Task/Detail', { tasktoken: a.json.socketaccesstoken, taskid: a.json.taskid });
    expect(both.json).toMatchObject({ result: true, total: '1' });
    expect((both.json.tasklist as EmulatorTask[])[0]?.id).toBe(a.json.taskid);
    const notFound = { result: false, errors: [{ code: 1, message: 'Task not found' }], total: '0', tasklist: [] };
    const mixed = await post(emu, '/v1/Task/Detail', { tasktoken: a.json.socketaccesstoken, taskid: b.json.taskid });
    expect(mixed.json).toEqual(notFound);
    const unknownId = await post(emu, '/v1/Task/Detail', { tasktoken: a.json.socketaccesstoken, taskid: '1' });
    expect(unknownId.json).toEqual(notFound);
    const unknownToken = await post(emu, '/v1/Task/Detail', { tasktoken: 'A'.repeat(30), taskid: a.json.taskid });
    expect(unknownToken.json).toEqual(notFound);
    // An empty field names nothing: the other one decides.
    const empty = await post(emu, '/v1/Task/Detail', { tasktoken: '', taskid: b.json.taskid });
    expect((empty.json.tasklist as EmulatorTask[])[0]?.id).toBe(b.json.taskid);
  });

  it('lists tasks newest first, a page at a time, as Wiro-MCP asks', async () => {
    const ids = [await run(emu, { callbackUrl: 'http://127.0.0.1:9/hook' }), await run(emu), await run(emu)];
    await advance(emu, ids[0] ?? '', 'task_start');
    const mcpBody = { type: 'model', sort: 'id', order: 'DESC', start: '0', limit: '20' };
    const listed = await post(emu, '/v1/Task/List', mcpBody);
    expect(listed.status).toBe(200);
    expect(listed.json).toMatchObject({ result: true, errors: [], total: '3' });
    const tasklist = listed.json.tasklist as EmulatorTask[];
    expect(tasklist.map((t) => t.id)).toEqual([...ids].reverse());
    // Each entry is the task exactly as Detail shows it, callbackurl included.
    for (const task of tasklist) expect(task).toEqual(await detail(emu, task.id));
    expect(tasklist[2]).toMatchObject({ callbackurl: 'http://127.0.0.1:9/hook', status: 'task_start' });

    const page = await post(emu, '/v1/Task/List', { ...mcpBody, start: '1', limit: '1' });
    expect(page.json.total).toBe('3');
    expect((page.json.tasklist as EmulatorTask[]).map((t) => t.id)).toEqual([ids[1]]);
    const past = await post(emu, '/v1/Task/List', { ...mcpBody, start: '5' });
    expect(past.json).toMatchObject({ result: true, total: '3', tasklist: [] });
    const oldest = await post(emu, '/v1/Task/List', { ...mcpBody, order: 'ASC', limit: '2' });
    expect((oldest.json.tasklist as EmulatorTask[]).map((t) => t.id)).toEqual(ids.slice(0, 2));

    for (let i = 0; i < 100; i++) await run(emu);
    const capped = await post(emu, '/v1/Task/List', { ...mcpBody, limit: '500' });
    expect(capped.json.total).toBe('103');
    expect(capped.json.tasklist).toHaveLength(100);

    // Signed like every Wiro route, recorded as 'List', and open to faults.
    expect((await post(emu, '/v1/Task/List', mcpBody, { secret: 'other' })).status).toBe(401);
    emu.fault({ route: 'List', kind: '502' });
    expect((await post(emu, '/v1/Task/List', mcpBody)).status).toBe(502);
    const calls = emu.state().calls.filter((c) => c.path === '/v1/Task/List');
    expect(calls.every((c) => c.route === 'List')).toBe(true);
    expect(calls.at(-1)).toMatchObject({ fault: '502', body: mcpBody });
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

  it('answers a Run late: the task exists and runs at once, the answer comes after delayMs', async () => {
    emu.fault({ route: 'Run', kind: 'late', delayMs: 300 });
    const started = Date.now();
    const pending = post(emu, TOOL_PATH, { prompt: 'late', width: 8, height: 8 }).then((r) => ({
      ...r,
      at: Date.now(),
    }));
    const [task] = await waitFor(() => {
      const tasks = emu.state().tasks;
      return tasks.length === 1 ? tasks : undefined;
    });
    if (!task) throw new Error('no task');
    expect(Date.now() - started).toBeLessThan(250);
    // Other calls go on meanwhile, and the task moves (and ends) before its Run is answered.
    const done = await advance(emu, task.id, 'task_postprocess_end');
    expect(done.pexit).toBe('0');
    expect(emu.state().calls.find((c) => c.route === 'Run')).toMatchObject({ fault: 'late', status: null });
    const answer = await pending;
    expect(answer.at - started).toBeGreaterThanOrEqual(290);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      result: true,
      errors: [],
      taskid: task.id,
      socketaccesstoken: task.socketaccesstoken,
    });
    expect(emu.state().calls.find((c) => c.route === 'Run')).toMatchObject({
      fault: 'late',
      status: 200,
      authorized: true,
    });
    // Only the next matching call: the one after is answered at once.
    const quick = Date.now();
    await run(emu);
    expect(Date.now() - quick).toBeLessThan(250);
  });

  it('loses a late answer when the client has gone, and the task runs on', async () => {
    emu.fault({ route: 'Run', kind: 'late', delayMs: 200 });
    const aborter = new AbortController();
    const gone = fetch(`${emu.url}${TOOL_PATH}`, {
      method: 'POST',
      headers: { ...headersFor({}), 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'nobody hears this', width: 8, height: 8 }),
      signal: aborter.signal,
    }).catch((err: unknown) => err);
    const [task] = await waitFor(() => {
      const tasks = emu.state().tasks;
      return tasks.length === 1 ? tasks : undefined;
    });
    aborter.abort();
    expect(await gone).toBeInstanceOf(Error);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(emu.state().calls[0]).toMatchObject({ route: 'Run', fault: 'late', status: null });
    expect((await advance(emu, task?.id ?? '', 'task_postprocess_end')).pexit).toBe('0');
    expect((await detail(emu, task?.id ?? '')).status).toBe('task_postprocess_end');
  });

  it("takes 'late' on Wiro routes and files, not on the socket", async () => {
    expect(FAULT_KINDS).toContain('late');
    expect((await control(emu, 'faults', { route: 'Socket', kind: 'late' })).status).toBe(400);
    expect(() => emu.fault({ route: 'Socket', kind: 'late' })).toThrow(/Socket/);
    // On Detail the answer is read first, then held: it shows the task as it was then.
    const taskid = await run(emu, { width: 8, height: 8 });
    emu.fault({ route: 'Detail', kind: 'late', delayMs: 200 });
    const stale = post(emu, '/v1/Task/Detail', { taskid });
    await waitFor(() => (emu.state().calls.at(-1)?.route === 'Detail' ? true : undefined));
    await advance(emu, taskid, 'task_start');
    expect(((await stale).json.tasklist as EmulatorTask[])[0]?.status).toBe('task_queue');
    const task = await advance(emu, taskid, 'task_postprocess_end');
    emu.fault({ route: 'Files', kind: 'late', delayMs: 200 });
    const started = Date.now();
    expect((await fetch(task.outputs[0]?.url ?? '')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
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

  it('calls back once for a task that dies before it runs', async () => {
    emu.configure({ fatalNextTasks: 1 });
    const taskid = await run(emu, { callbackUrl: receiverUrl });
    await advance(emu, taskid, 'task_accept');
    expect(received).toEqual([]);
    await advance(emu, taskid);
    await waitFor(() => (received.length === 1 ? true : undefined));
    const body = JSON.parse(received[0]?.body ?? '') as { tasklist: EmulatorTask[] };
    expect(body.tasklist[0]).toMatchObject({
      id: taskid,
      status: 'task_error',
      pexit: '1',
      debugerror: DEFAULT_FAIL_MESSAGE,
      outputs: [],
    });
    emu.configure({ speed: 1000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toHaveLength(1);
    expect(emu.state().callbacks).toEqual([expect.objectContaining({ taskid, attempt: 1, status: 200 })]);
  });

  it('calls back for a Run whose answer is late, before that answer', async () => {
    emu.fault({ route: 'Run', kind: 'late', delayMs: 400 });
    const pending = post(emu, TOOL_PATH, { prompt: 'p', width: 8, height: 8, callbackUrl: receiverUrl });
    const task = await waitFor(() => emu.state().tasks[0]);
    await advance(emu, task.id, 'task_postprocess_end');
    await waitFor(() => (received.length === 1 ? true : undefined));
    expect(emu.state().calls[0]?.status).toBeNull();
    expect((await pending).json.taskid).toBe(task.id);
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
  const serve = fileURLToPath(new URL('../../emulator/serve.ts', import.meta.url));
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

// ---------------------------------------------------------------------------------------------
// Realtime socket. Vitest runs on Node 20 here, which has no global WebSocket: a tiny raw
// RFC 6455 client (masked frames out, unmasked frames in), written apart from the server's code.
// The Node 22 WebSocket (undici) is tried against the emulator in a child process further down.

type WsMessage = Record<string, unknown>;
interface WsClose {
  /** The code of the server's close frame, or null when TCP ended without one. */
  code: number | null;
  reason: string;
}

function clientFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const length = payload.length;
  let head: Buffer;
  if (length < 126) {
    head = Buffer.alloc(2);
    head[1] = 0x80 | length;
  } else if (length < 65536) {
    head = Buffer.alloc(4);
    head[1] = 0x80 | 126;
    head.writeUInt16BE(length, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(length), 2);
  }
  head[0] = (fin ? 0x80 : 0) | opcode;
  const mask = randomBytes(4);
  const body = Buffer.alloc(length);
  for (let i = 0; i < length; i++) body[i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0);
  return Buffer.concat([head, mask, body]);
}

class RawWs {
  readonly socket: Socket;
  messages: WsMessage[] = [];
  pongs: string[] = [];
  closeFrame: WsClose | null = null;
  /** Resolves when TCP is gone, with the server's close frame (null if none came). */
  readonly closed: Promise<WsClose | null>;
  #buffer = Buffer.alloc(0);
  #sentClose = false;
  #listeners = new Set<() => void>();

  constructor(socket: Socket, head: Buffer) {
    this.socket = socket;
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        resolve(this.closeFrame);
        this.#wake();
      });
    });
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    if (head.length > 0) this.#onData(head);
  }

  send(text: string, fragments = 1): void {
    const bytes = Buffer.from(text);
    if (fragments <= 1) {
      this.socket.write(clientFrame(0x1, bytes));
      return;
    }
    const size = Math.ceil(bytes.length / fragments);
    for (let i = 0; i < fragments; i++) {
      const part = bytes.subarray(i * size, (i + 1) * size);
      this.socket.write(clientFrame(i === 0 ? 0x1 : 0x0, part, i === fragments - 1));
    }
  }

  ping(text: string): void {
    this.socket.write(clientFrame(0x9, Buffer.from(text)));
  }

  close(code = 1000): void {
    const body = Buffer.alloc(2);
    body.writeUInt16BE(code, 0);
    this.#sentClose = true;
    this.socket.write(clientFrame(0x8, body));
  }

  /** Waits until `check` holds (checked on every frame), or fails after `ms`. */
  async until(check: () => boolean, what: string, ms = 3000): Promise<void> {
    if (check()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(listener);
        reject(new Error(`socket: timed out waiting for ${what}; got ${JSON.stringify(this.messages)}`));
      }, ms);
      const listener = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.#listeners.delete(listener);
        resolve();
      };
      this.#listeners.add(listener);
    });
  }

  async messageCount(n: number): Promise<WsMessage[]> {
    await this.until(() => this.messages.length >= n, `${n} messages`);
    return this.messages;
  }

  #wake(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  #onData(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const buf = this.#buffer;
      if (buf.length < 2) break;
      const opcode = (buf[0] ?? 0) & 0x0f;
      expect((buf[1] ?? 0) & 0x80, 'server frames are not masked').toBe(0);
      let length = (buf[1] ?? 0) & 0x7f;
      let pos = 2;
      if (length === 126) {
        if (buf.length < 4) break;
        length = buf.readUInt16BE(2);
        pos = 4;
      } else if (length === 127) {
        if (buf.length < 10) break;
        length = Number(buf.readBigUInt64BE(2));
        pos = 10;
      }
      if (buf.length < pos + length) break;
      const payload = buf.subarray(pos, pos + length);
      this.#buffer = buf.subarray(pos + length);
      if (opcode === 0x1) this.messages.push(JSON.parse(payload.toString('utf8')) as WsMessage);
      else if (opcode === 0xa) this.pongs.push(payload.toString('utf8'));
      else if (opcode === 0x8) {
        this.closeFrame = {
          code: payload.length >= 2 ? payload.readUInt16BE(0) : null,
          reason: payload.subarray(2).toString('utf8'),
        };
        if (!this.#sentClose) {
          this.#sentClose = true;
          this.socket.write(clientFrame(0x8, payload.subarray(0, 2)));
        }
      } else throw new Error(`unexpected opcode ${opcode}`);
    }
    this.#wake();
  }
}

type WsAttempt = { ws: RawWs; status: 101 } | { ws: null; status: number; body: string };

/** Opens a socket at `url` (ws://…); answers the HTTP status and body when the upgrade is refused. */
function tryWs(url: string): Promise<WsAttempt> {
  const key = randomBytes(16).toString('base64');
  const target = new URL(url.replace(/^ws/, 'http'));
  return new Promise((resolve, reject) => {
    const req = request({
      hostname: target.hostname,
      port: target.port,
      path: target.pathname,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': key,
        'sec-websocket-version': '13',
      },
    });
    req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      const expected = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      expect(res.statusCode).toBe(101);
      expect(res.headers['sec-websocket-accept']).toBe(expected);
      resolve({ ws: new RawWs(socket, head), status: 101 });
    });
    req.on('response', (res: IncomingMessage) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      res.on('end', () => resolve({ ws: null, status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function openWs(emu: Emulator): Promise<RawWs> {
  const attempt = await tryWs(emu.socketUrl);
  if (!attempt.ws) throw new Error(`upgrade refused: ${attempt.status} ${attempt.body}`);
  return attempt.ws;
}

/** Opens a socket, sends task_info for the token and waits for the first message. */
async function subscribe(emu: Emulator, token: string): Promise<RawWs> {
  const ws = await openWs(emu);
  ws.send(JSON.stringify({ type: 'task_info', tasktoken: token }));
  await ws.messageCount(1);
  return ws;
}

async function runWithToken(emu: Emulator, body: Record<string, unknown> = {}) {
  const { json } = await post(emu, TOOL_PATH, { prompt: 'a lighthouse at dusk', width: 16, height: 16, ...body });
  expect(json.result).toBe(true);
  return { taskid: json.taskid as string, token: json.socketaccesstoken as string };
}

/** Every status message of an 8-tick task that ends well, in order. */
const SOCKET_ORDER = [
  ...RUNNING_ORDER.slice(0, RUNNING_ORDER.indexOf('task_output')),
  ...Array.from({ length: 8 }, () => 'task_output'),
  ...RUNNING_ORDER.slice(RUNNING_ORDER.indexOf('task_output') + 1),
];

/** Statuses whose socket frames carry `message: null`: nothing but the status to say. */
const LIFECYCLE = [
  'task_queue',
  'task_accept',
  'task_assign',
  'task_preprocess_start',
  'task_preprocess_end',
  'task_start',
  'task_end',
  'task_postprocess_start',
  'task_cancel',
];

/** Checks a full stream of a task that ended well, as Wiro's socket sends it. */
function expectGoodStream(messages: WsMessage[], taskid: string, token: string, outputs: number): void {
  expect(messages.map((m) => m.type)).toEqual(SOCKET_ORDER);
  const steps: number[] = [];
  for (const [i, m] of messages.entries()) {
    const last = i === messages.length - 1;
    expect(m).toMatchObject({ id: taskid, tasktoken: token, result: true, success: true, terminal: last });
    if (last) expect(m.exitCode).toBe('0');
    else expect(m).not.toHaveProperty('exitCode');
    if (LIFECYCLE.includes(m.type as string)) expect(m.message, m.type as string).toBeNull();
    if (m.type === 'task_output_full') expect(m.message).toMatch(/^100%\|██████████\| 20\/20 \[/);
    if (m.type === 'task_output') {
      expect(m.message).toMatchObject({
        type: 'progressGenerate',
        percentage: expect.any(String),
        stepCurrent: expect.any(String),
        stepTotal: '20',
        speed: expect.stringMatching(/it\/s$/),
        elapsedTime: expect.stringMatching(/^\d\d:\d\d$/),
        remainingTime: expect.stringMatching(/^\d\d:\d\d$/),
      });
      steps.push(Number((m.message as Record<string, string>).stepCurrent));
    }
  }
  expect([...steps].sort((a, b) => a - b)).toEqual(steps);
  expect(steps.at(-1)).toBe(20);
  const end = messages.at(-1)?.message as Array<{ name: string; url: string }>;
  expect(end.map((o) => o.name)).toEqual(Array.from({ length: outputs }, (_, i) => `${i}.png`));
}

describe('realtime socket', () => {
  let emu: Emulator;
  beforeAll(async () => {
    emu = await startEmulator({ apiKey: KEY, apiSecret: SECRET, speed: 0 });
  });
  afterAll(() => emu.close());
  beforeEach(() => emu.reset());

  it('lives at the API base over ws, with the RFC 6455 handshake', async () => {
    expect(emu.socketUrl).toBe(`${emu.url.replace(/^http/, 'ws')}/v1`);
    expect(acceptKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    const slash = await tryWs(`${emu.socketUrl}/`);
    expect(slash.status).toBe(101);
    slash.ws?.socket.destroy();
    const elsewhere = await tryWs(`${emu.url.replace(/^http/, 'ws')}/v2`);
    expect(elsewhere.status).toBe(404);
    // A plain GET /v1 is still the API (no upgrade): 404 JSON.
    const plain = await fetch(`${emu.url}/v1`);
    expect(plain.status).toBe(404);
    await plain.body?.cancel();
  });

  it('streams every status of a task moved by hand, then closes 1000', async () => {
    const { taskid, token } = await runWithToken(emu, { samples: 2 });
    const ws = await subscribe(emu, token);
    expect(ws.messages[0]).toEqual({
      type: 'task_queue',
      id: taskid,
      tasktoken: token,
      message: null,
      result: true,
      success: true,
      terminal: false,
    });
    for (let n = 2; n <= SOCKET_ORDER.length; n++) {
      await advance(emu, taskid);
      await ws.messageCount(n);
    }
    expect(await ws.closed).toEqual({ code: 1000, reason: 'Task finished' });
    expectGoodStream(ws.messages, taskid, token, 2);
    const task = await detail(emu, taskid);
    expect(ws.messages.at(-1)?.message).toEqual(task.outputs);

    const state = emu.state();
    expect(state.sockets).toEqual([
      {
        taskid,
        taskids: [taskid],
        openedAt: expect.any(Number),
        closedAt: expect.any(Number),
        messages: SOCKET_ORDER.length,
        status: 101,
        closeCode: 1000,
        fault: null,
      },
    ]);
    expect(state.socketMessages.map((m) => [m.taskid, m.type])).toEqual(SOCKET_ORDER.map((t) => [taskid, t]));
    const times = state.socketMessages.map((m) => m.at);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(times[0]).toBeGreaterThanOrEqual(state.sockets[0]?.openedAt ?? 0);
  });

  it('streams a task walking on its own at speed 50', async () => {
    const { taskid, token } = await runWithToken(emu);
    const ws = await subscribe(emu, token);
    const started = Date.now();
    emu.configure({ speed: 50 });
    expect((await ws.closed)?.code).toBe(1000);
    expect(Date.now() - started).toBeLessThan(2000);
    expectGoodStream(ws.messages, taskid, token, 1);
  });

  it('ends a failed task with result false and the error, a cancelled one with task_cancel', async () => {
    emu.configure({ failNextTasks: 1 });
    const failing = await runWithToken(emu);
    const a = await subscribe(emu, failing.token);
    // The interim task_error: a stderr line on the socket while Detail's status stays put.
    const atError = await advance(emu, failing.taskid, 'task_error');
    expect(atError).toMatchObject({ status: 'task_output', debugerror: DEFAULT_FAIL_MESSAGE });
    expect(await detail(emu, failing.taskid)).toMatchObject({ status: 'task_output', pexit: '0' });
    await a.until(() => a.messages.at(-1)?.type === 'task_error', 'the task_error line');
    expect(a.messages.at(-1)).toEqual({
      type: 'task_error',
      id: failing.taskid,
      tasktoken: failing.token,
      message: DEFAULT_FAIL_MESSAGE,
      result: true,
      success: true,
      terminal: false,
    });
    await advance(emu, failing.taskid, 'task_postprocess_end');
    expect((await a.closed)?.code).toBe(1000);
    const types = a.messages.map((m) => m.type);
    expect(types.filter((t) => t === 'task_error')).toHaveLength(1);
    expect(types).not.toContain('task_output_full');
    expect(a.messages.find((m) => m.type === 'task_error_full')?.message).toBe(DEFAULT_FAIL_MESSAGE);
    expect(a.messages.at(-1)).toEqual({
      type: 'task_postprocess_end',
      id: failing.taskid,
      tasktoken: failing.token,
      message: DEFAULT_FAIL_MESSAGE,
      result: false,
      success: false,
      terminal: true,
      exitCode: '1',
    });

    const queued = await runWithToken(emu);
    const b = await subscribe(emu, queued.token);
    const cancelled = await post(emu, '/v1/Task/Cancel', { taskid: queued.taskid });
    expect(cancelled.json.result).toBe(true);
    expect((await b.closed)?.code).toBe(1000);
    expect(b.messages.map((m) => m.type)).toEqual(['task_queue', 'task_cancel']);
    expect(b.messages[1]).toEqual({
      type: 'task_cancel',
      id: queued.taskid,
      tasktoken: queued.token,
      message: null,
      result: true,
      success: true,
      terminal: true,
      exitCode: '0',
    });

    // Subscribing to a finished task: its end at once, then close.
    const late = await subscribe(emu, queued.token);
    expect((await late.closed)?.code).toBe(1000);
    expect(late.messages.map((m) => m.type)).toEqual(['task_cancel']);
  });

  it('ends a task that dies before it runs with a terminal task_error frame', async () => {
    emu.configure({ fatalNextTasks: 1 });
    const { taskid, token } = await runWithToken(emu);
    const ws = await subscribe(emu, token);
    await advance(emu, taskid, 'task_error');
    expect(await ws.closed).toEqual({ code: 1000, reason: 'Task finished' });
    expect(ws.messages).toEqual([
      { type: 'task_queue', id: taskid, tasktoken: token, message: null, result: true, success: true, terminal: false },
      {
        type: 'task_accept',
        id: taskid,
        tasktoken: token,
        message: null,
        result: true,
        success: true,
        terminal: false,
      },
      {
        type: 'task_error',
        id: taskid,
        tasktoken: token,
        message: DEFAULT_FAIL_MESSAGE,
        result: false,
        success: false,
        terminal: true,
        exitCode: '1',
      },
    ]);
    // Subscribing later: the same ending at once, then close.
    const late = await subscribe(emu, token);
    expect((await late.closed)?.code).toBe(1000);
    expect(late.messages).toEqual([ws.messages[2]]);
  });

  it('sends progress as an object or, with progressAs string, as a JSON string', async () => {
    const { taskid, token } = await runWithToken(emu);
    const ws = await subscribe(emu, token);
    await advance(emu, taskid, 'task_output');
    await ws.until(() => ws.messages.at(-1)?.type === 'task_output', 'task_output');
    const asObject = ws.messages.at(-1)?.message;
    expect(asObject).toEqual({
      type: 'progressGenerate',
      percentage: expect.stringMatching(/^\d+$/),
      stepCurrent: expect.stringMatching(/^\d+$/),
      stepTotal: '20',
      speed: expect.stringMatching(/it\/s$/),
      elapsedTime: expect.stringMatching(/^\d\d:\d\d$/),
      remainingTime: expect.stringMatching(/^\d\d:\d\d$/),
    });
    expect(JSON.parse((await detail(emu, taskid)).progress)).toEqual(asObject);

    const { json } = await control(emu, 'config', { progressAs: 'string' });
    expect(json.config).toMatchObject({ progressAs: 'string' });
    const count = ws.messages.length;
    await advance(emu, taskid);
    await ws.messageCount(count + 1);
    const asString = ws.messages.at(-1);
    expect(asString).toMatchObject({ type: 'task_output', id: taskid, tasktoken: token, terminal: false });
    expect(typeof asString?.message).toBe('string');
    const decoded = JSON.parse(asString?.message as string) as Record<string, unknown>;
    expect(Object.keys(decoded)).toEqual(Object.keys(asObject as object));
    expect(decoded).toMatchObject({ type: 'progressGenerate', stepTotal: '20' });
    for (const key of ['percentage', 'stepCurrent', 'stepTotal']) expect(typeof decoded[key]).toBe('string');
    expect(Number(decoded.stepCurrent)).toBeGreaterThan(Number((asObject as Record<string, string>).stepCurrent));

    expect((await control(emu, 'config', { progressAs: 'number' })).status).toBe(400);
    emu.reset();
    expect(emu.state().config.progressAs).toBe('object');
  });

  it('follows several tasks on one connection and closes after the last one ends', async () => {
    const a = await runWithToken(emu);
    const b = await runWithToken(emu);
    const ws = await subscribe(emu, a.token);
    ws.send(JSON.stringify({ type: 'task_info', tasktoken: b.token }));
    await ws.messageCount(2);
    expect(ws.messages.map((m) => [m.type, m.id, m.tasktoken])).toEqual([
      ['task_queue', a.taskid, a.token],
      ['task_queue', b.taskid, b.token],
    ]);

    await advance(emu, b.taskid, 'task_accept');
    await ws.messageCount(3);
    expect(ws.messages[2]).toMatchObject({ type: 'task_accept', id: b.taskid, tasktoken: b.token });

    // A repeated subscription resends the current status only; an unknown token gets an error
    // but does not close a connection that still follows live tasks; nor does a bad message.
    ws.send(JSON.stringify({ type: 'task_info', tasktoken: a.token }));
    ws.send(JSON.stringify({ type: 'task_info', tasktoken: 'Z'.repeat(30) }));
    ws.send('hello');
    await ws.messageCount(6);
    expect(ws.messages.slice(3)).toEqual([
      expect.objectContaining({ type: 'task_queue', id: a.taskid }),
      { type: 'error', id: '', tasktoken: 'Z'.repeat(30), message: 'Task not found', result: false },
      expect.objectContaining({ type: 'error', message: expect.stringContaining('task_info') }),
    ]);

    // The first task ends: the connection stays open for the other one.
    await advance(emu, a.taskid, 'task_cancel');
    await ws.messageCount(7);
    expect(ws.messages[6]).toMatchObject({ type: 'task_cancel', id: a.taskid, terminal: true });
    await advance(emu, b.taskid, 'task_assign');
    await ws.messageCount(8);
    expect(ws.messages[7]).toMatchObject({ type: 'task_assign', id: b.taskid });
    expect(ws.closeFrame).toBeNull();

    await advance(emu, b.taskid, 'task_postprocess_end');
    expect(await ws.closed).toEqual({ code: 1000, reason: 'Task finished' });
    expect(ws.messages.at(-1)).toMatchObject({ type: 'task_postprocess_end', id: b.taskid, terminal: true });
    expect(ws.messages.filter((m) => m.id === a.taskid).map((m) => m.type)).toEqual([
      'task_queue',
      'task_queue',
      'task_cancel',
    ]);
    expect(emu.state().sockets).toEqual([
      expect.objectContaining({ taskid: a.taskid, taskids: [a.taskid, b.taskid], closeCode: 1000 }),
    ]);

    // Nothing is replayed on a new connection: just each task's current status.
    const again = await subscribe(emu, a.token);
    expect(again.messages.map((m) => m.type)).toEqual(['task_cancel']);
    expect((await again.closed)?.code).toBe(1000);
  });

  it('answers an unknown token with an error, then closes 1008', async () => {
    await runWithToken(emu);
    const ws = await subscribe(emu, 'A'.repeat(30));
    expect(ws.messages).toEqual([
      { type: 'error', id: '', tasktoken: 'A'.repeat(30), message: 'Task not found', result: false },
    ]);
    expect(await ws.closed).toEqual({ code: 1008, reason: 'Task not found' });
    expect(emu.state().sockets[0]).toMatchObject({ taskid: null, messages: 1, closeCode: 1008 });
    expect(emu.state().socketMessages).toEqual([{ taskid: null, type: 'error', at: expect.any(Number) }]);
  });

  it('refuses a first message that is not a valid task_info', async () => {
    const { token } = await runWithToken(emu);
    for (const first of [
      'hello',
      JSON.stringify({ type: 'subscribe', tasktoken: token }),
      JSON.stringify({ type: 'task_info' }),
      JSON.stringify({ type: 'task_info', tasktoken: 42 }),
      JSON.stringify([token]),
    ]) {
      const ws = await openWs(emu);
      ws.send(first);
      const [error] = await ws.messageCount(1);
      expect(error).toEqual({
        type: 'error',
        id: '',
        tasktoken: '',
        message: expect.stringContaining('task_info'),
        result: false,
      });
      expect((await ws.closed)?.code).toBe(1008);
    }
  });

  it('reads 16- and 64-bit lengths and fragments, answers pings, and takes a client close', async () => {
    const { taskid, token } = await runWithToken(emu);
    const a = await openWs(emu);
    a.ping('are you there');
    await a.until(() => a.pongs.length === 1, 'a pong');
    expect(a.pongs).toEqual(['are you there']);
    a.send(JSON.stringify({ type: 'task_info', tasktoken: token, pad: 'x'.repeat(300) }), 3);
    await a.messageCount(1);
    expect(a.messages[0]).toMatchObject({ type: 'task_queue', id: taskid });

    const b = await openWs(emu);
    b.send(JSON.stringify({ type: 'task_info', tasktoken: token, pad: 'y'.repeat(70000) }));
    await b.messageCount(1);
    expect(b.messages[0]).toMatchObject({ type: 'task_queue', id: taskid });

    // The client closes first: the server answers with the same code and ends TCP.
    a.close(1000);
    expect((await a.closed)?.code).toBe(1000);
    // An unmasked client frame is a protocol error.
    b.socket.write(Buffer.from([0x81, 0x02, 0x7b, 0x7d]));
    expect((await b.closed)?.code).toBe(1002);
    await waitFor(() => (emu.state().sockets.every((s) => s.closedAt !== null) ? true : undefined));
    expect(emu.state().sockets.map((s) => s.closeCode)).toEqual([1000, 1002]);
  });

  it('refuses the upgrade with 503 while config socket is false', async () => {
    const { json } = await control(emu, 'config', { socket: false });
    expect(json.config).toMatchObject({ socket: false });
    expect(emu.state().config.socket).toBe(false);
    const refused = await tryWs(emu.socketUrl);
    expect(refused.status).toBe(503);
    if (refused.ws) throw new Error('accepted');
    const body = JSON.parse(refused.body) as { result: boolean; errors: Array<{ message: string }> };
    expect(body.result).toBe(false);
    expect(body.errors[0]?.message).toContain('socket');
    expect(emu.state().sockets).toEqual([expect.objectContaining({ status: 503, messages: 0, taskid: null })]);
    expect((await control(emu, 'config', { socket: 'no' })).status).toBe(400);
    emu.configure({ socket: true });
    const { token } = await runWithToken(emu);
    const ws = await subscribe(emu, token);
    expect(ws.messages[0]?.type).toBe('task_queue');
  });

  it('injects Socket faults: reset after the first message, and 500', async () => {
    const { taskid, token } = await runWithToken(emu);
    expect((await control(emu, 'faults', { route: 'Socket', kind: 'reset' })).status).toBe(200);
    emu.fault({ route: '*', kind: '500' }); // '*' is the Wiro API only: not the socket
    const dropped = await subscribe(emu, token);
    expect(await dropped.closed).toBeNull();
    expect(dropped.messages.map((m) => m.type)).toEqual(['task_queue']);
    await advance(emu, taskid); // nothing more arrives on a dropped socket
    expect(dropped.messages).toHaveLength(1);
    expect(emu.state().sockets[0]).toMatchObject({ fault: 'reset', closeCode: null, messages: 1 });

    emu.fault({ route: 'Socket', kind: '500', times: 2 });
    expect((await tryWs(emu.socketUrl)).status).toBe(500);
    expect((await tryWs(emu.socketUrl)).status).toBe(500);
    const ok = await subscribe(emu, token);
    expect(ok.messages[0]?.type).toBe('task_accept');
    expect(emu.state().sockets.map((s) => [s.status, s.fault])).toEqual([
      [101, 'reset'],
      [500, '500'],
      [500, '500'],
      [101, null],
    ]);
    expect((await control(emu, 'faults', { route: 'Socket', kind: 'slow' })).status).toBe(400);
    expect(emu.state().faults).toEqual([expect.objectContaining({ route: '*', kind: '500' })]);
  });

  it('sends the end to every socket of a task, and nothing to others', async () => {
    const { taskid, token } = await runWithToken(emu);
    const other = await runWithToken(emu);
    const sockets = await Promise.all([subscribe(emu, token), subscribe(emu, token), subscribe(emu, token)]);
    const bystander = await subscribe(emu, other.token);
    await advance(emu, taskid, 'task_start');
    await advance(emu, taskid, 'task_postprocess_end');
    for (const ws of sockets) {
      expect((await ws.closed)?.code).toBe(1000);
      expect(ws.messages.at(-1)).toMatchObject({ type: 'task_postprocess_end', terminal: true, exitCode: '0' });
      expect(ws.messages.map((m) => m.type)).toEqual(SOCKET_ORDER);
    }
    expect(bystander.messages.map((m) => m.type)).toEqual(['task_queue']);
    expect(emu.state().sockets.filter((s) => s.taskid === taskid)).toHaveLength(3);
  });

  it('closes open sockets with 1001 on close() and on reset()', async () => {
    const own = await startEmulator({ apiKey: KEY, apiSecret: SECRET, speed: 0 });
    const { token } = await runWithToken(own);
    const subscribed = await subscribe(own, token);
    const idle = await openWs(own);
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await subscribed.closed)?.code).toBe(1001);
    expect((await idle.closed)?.code).toBe(1001);

    const { token: mine } = await runWithToken(emu);
    const ws = await subscribe(emu, mine);
    emu.reset();
    expect((await ws.closed)?.code).toBe(1001);
  });

  it("works with Node 22's own WebSocket client", async () => {
    const node = fileURLToPath(new URL('../../node_modules/.bin/node', import.meta.url));
    const { taskid, token } = await runWithToken(emu);
    const script = `
      const ws = new WebSocket(process.argv[1]);
      const messages = [];
      ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'task_info', tasktoken: process.argv[2] })));
      ws.addEventListener('message', (event) => messages.push(JSON.parse(event.data)));
      ws.addEventListener('close', (event) => {
        process.stdout.write(JSON.stringify({ code: event.code, wasClean: event.wasClean, messages }));
      });`;
    const child = spawn(node, ['-e', script, emu.socketUrl, token], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await waitFor(() => (emu.state().sockets[0]?.messages === 1 ? true : undefined));
      await advance(emu, taskid, 'task_postprocess_end');
      expect(await exited, err).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const result = JSON.parse(out) as { code: number; wasClean: boolean; messages: WsMessage[] };
    expect(result).toMatchObject({ code: 1000, wasClean: true });
    expectGoodStream(result.messages, taskid, token, 1);
  });
});
