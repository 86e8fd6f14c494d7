/**
 * Following Wiro's realtime socket: statuses and progress reach watchers as Wiro sends them,
 * with no polling; an ending is confirmed with one Detail; a socket that is refused or drops
 * leaves polling in charge.
 */
import { createExecutionContext, env, runDurableObjectAlarm, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, inject, it, vi } from 'vitest';
import type { Bindings } from '../../worker/env';
import worker from '../../worker/index';
import { BASE, emulator, RUN_PATH, taskObjectOf, validRun, wiroIdOf } from './helpers';

beforeEach(async () => {
  await emulator.reset();
});

const socketUrl = () => `${inject('emulatorUrl').replace(/^http/, 'ws')}/v1`;

/** Starts a task with the socket on (the suite's env has it off). */
async function startFollowed(): Promise<{ taskid: string; socketaccesstoken: string; wiroId: string }> {
  const request = new Request(`${BASE}${RUN_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': '192.0.2.50' },
    body: JSON.stringify(validRun),
  });
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, { ...(env as unknown as Bindings), WIRO_SOCKET_URL: socketUrl() }, ctx);
  await waitOnExecutionContext(ctx);
  expect(response.status).toBe(200);
  const answer = (await response.json()) as { taskid: string; socketaccesstoken: string };
  return { ...answer, wiroId: await wiroIdOf(answer.taskid) };
}

async function socketsOf(wiroId: string) {
  return (await emulator.state()).sockets?.filter((socket) => socket.taskid === wiroId) ?? [];
}

/** Reads an SSE stream as it comes, so a test can see events arrive before the end. */
function watch(token: string) {
  const events: Array<{ event: string; data: any }> = [];
  const done = (async () => {
    const response = await SELF.fetch(`${BASE}/v1/Task/Events?tasktoken=${token}`);
    const reader = (response.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += value;
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const field = (name: string) => block.match(new RegExp(`^${name}: (.*)$`, 'm'))?.[1];
        const event = field('event');
        if (event) events.push({ event, data: JSON.parse(field('data') ?? 'null') });
        end = buffer.indexOf('\n\n');
      }
    }
  })();
  return { events, done };
}

describe('following Wiro’s socket', () => {
  it('streams statuses and progress as Wiro sends them, without polling, and confirms the end with Detail', async () => {
    const { wiroId, socketaccesstoken } = await startFollowed();
    await vi.waitFor(async () => expect(await socketsOf(wiroId)).toHaveLength(1));
    const watcher = watch(socketaccesstoken);
    await emulator.advance(wiroId, 'task_start');
    await emulator.advance(wiroId, 'task_output');
    await vi.waitFor(() => expect(watcher.events.map((e) => e.event)).toContain('task_output'));
    const output = watcher.events.find((e) => e.event === 'task_output');
    expect(output?.data.progress.percentage).toBeGreaterThan(0);
    expect((await emulator.state()).calls.filter((call) => call.route === 'Detail')).toHaveLength(0);

    await emulator.advance(wiroId, 'task_postprocess_end');
    await watcher.done;
    const last = watcher.events.at(-1);
    expect(last?.event).toBe('task_postprocess_end');
    expect(last?.data.outputs.length).toBeGreaterThan(0);
    const routes = (await emulator.state()).calls.map((call) => call.route);
    expect(routes).toEqual(['Run', 'Detail']);
  });

  it('keeps the socket open past the connect timeout (5 s)', async () => {
    const { wiroId, socketaccesstoken } = await startFollowed();
    await vi.waitFor(async () => expect(await socketsOf(wiroId)).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 5500));
    const watcher = watch(socketaccesstoken);
    await emulator.advance(wiroId, 'task_output');
    await vi.waitFor(() => expect(watcher.events.map((e) => e.event)).toContain('task_output'));
    const sockets = await socketsOf(wiroId);
    expect(sockets).toHaveLength(1);
    expect(sockets[0]?.closedAt).toBeFalsy();
    await emulator.advance(wiroId, 'task_postprocess_end');
    await watcher.done;
  });

  it('falls back to polling when Wiro’s socket is refused', async () => {
    await emulator.config({ socket: false });
    const { wiroId, socketaccesstoken } = await startFollowed();
    // A refused upgrade never names its task: it is the only socket since the reset.
    await vi.waitFor(async () => expect((await emulator.state()).sockets?.[0]?.status).toBe(503));
    await emulator.advance(wiroId, 'task_postprocess_end');
    await runDurableObjectAlarm(taskObjectOf(socketaccesstoken));
    const response = await SELF.fetch(`${BASE}/v1/Task/Events?tasktoken=${socketaccesstoken}`);
    expect(await response.text()).toContain('event: task_postprocess_end');
  });

  it('keeps polling when the socket drops mid-task, and subscribes again on the next alarm', async () => {
    await emulator.fault({ route: 'Socket', kind: 'reset', times: 1 });
    const { wiroId, socketaccesstoken } = await startFollowed();
    await vi.waitFor(async () => expect((await socketsOf(wiroId))[0]?.closedAt).toBeTruthy());
    await emulator.advance(wiroId, 'task_start');
    await runDurableObjectAlarm(taskObjectOf(socketaccesstoken));
    await vi.waitFor(async () => expect(await socketsOf(wiroId)).toHaveLength(2));
    const detail = await SELF.fetch(`${BASE}/v1/Task/Detail`, {
      method: 'POST',
      body: JSON.stringify({ tasktoken: socketaccesstoken }),
    });
    expect(await detail.json()).toMatchObject({ tasklist: [{ status: 'task_start' }] });
  });
});
