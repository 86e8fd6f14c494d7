/** The `/v1` WebSocket speaks Wiro's realtime socket protocol, so Wiro's socket clients work. */
import { runDurableObjectAlarm, SELF } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import { BASE, emulator, post, startTask, taskObjectOf } from './helpers';

beforeEach(async () => {
  await emulator.reset();
});

interface Client {
  messages: Array<Record<string, any>>;
  closed: Promise<number>;
  socket: WebSocket;
}

async function connect(tasktoken?: string): Promise<Client> {
  const response = await SELF.fetch(`${BASE}/v1`, { headers: { upgrade: 'websocket' } });
  expect(response.status).toBe(101);
  const socket = response.webSocket as WebSocket;
  socket.accept();
  const messages: Client['messages'] = [];
  socket.addEventListener('message', (event) => {
    messages.push(JSON.parse(String(event.data)));
  });
  const closed = new Promise<number>((resolve) => socket.addEventListener('close', (event) => resolve(event.code)));
  if (tasktoken) socket.send(JSON.stringify({ type: 'task_info', tasktoken }));
  return { messages, closed, socket };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check(), what).toBe(true);
}

describe('the task WebSocket', () => {
  it('answers task_info with the current status, then every change, outputs on the end, then closes', async () => {
    const { taskid, wiroId, socketaccesstoken } = await startTask();
    const client = await connect(socketaccesstoken);
    await until(() => client.messages.length === 1, 'the current status');
    // Wiro's frame: the Worker's id and token, and no message on a lifecycle frame.
    expect(client.messages[0]).toEqual({
      type: 'task_queue',
      id: taskid,
      tasktoken: socketaccesstoken,
      message: null,
      result: true,
      success: true,
      terminal: false,
    });

    await emulator.advance(wiroId, 'task_output');
    await runDurableObjectAlarm(taskObjectOf(socketaccesstoken));
    await until(() => client.messages.length === 2, 'task_output');
    expect(client.messages[1]).toMatchObject({ type: 'task_output', message: { type: 'progressGenerate' } });
    expect(client.messages[1]?.message.percentage).toBeGreaterThan(0);

    await emulator.advance(wiroId, 'task_postprocess_end');
    await runDurableObjectAlarm(taskObjectOf(socketaccesstoken));
    expect(await client.closed).toBe(1000);
    const last = client.messages.at(-1);
    expect(last).toMatchObject({ type: 'task_postprocess_end', id: taskid, result: true, terminal: true });
    expect(last?.message[0]).toMatchObject({ name: '0.png', contenttype: 'image/png' });
  });

  it('follows several tasks on one connection, by token or taskid, and closes after the last ends', async () => {
    const first = await startTask();
    const second = await startTask();
    const client = await connect(first.socketaccesstoken);
    client.socket.send(JSON.stringify({ type: 'task_info', tasktoken: second.taskid }));
    await until(() => client.messages.length === 2, 'both current statuses');
    // An unknown token is refused without closing a connection that follows tasks.
    client.socket.send(JSON.stringify({ type: 'task_info', tasktoken: 'E'.repeat(40) }));
    await until(() => client.messages.length === 3, 'the refusal');
    expect(client.messages[2]).toMatchObject({ type: 'error', result: false });

    await emulator.advance(first.wiroId, 'task_postprocess_end');
    await runDurableObjectAlarm(taskObjectOf(first.socketaccesstoken));
    await until(() => client.messages.length === 4, 'the first task’s end');
    await emulator.advance(second.wiroId, 'task_cancel');
    await runDurableObjectAlarm(taskObjectOf(second.socketaccesstoken));
    expect(await client.closed).toBe(1000);
    const ends = client.messages.filter((message) => message.terminal);
    expect(ends.map((message) => [message.id, message.type])).toEqual([
      [first.taskid, 'task_postprocess_end'],
      [second.taskid, 'task_cancel'],
    ]);
  });

  it('tells a client with an unknown token so, and closes', async () => {
    const client = await connect('D'.repeat(32));
    expect(await client.closed).toBe(1008);
    expect(client.messages[0]).toMatchObject({ type: 'error', result: false });
  });

  it('refuses a first message that is not task_info', async () => {
    const client = await connect();
    client.socket.send('hello');
    expect(await client.closed).toBe(1008);
    expect(client.messages[0]?.message).toContain('task_info');
  });

  it('gives a late joiner of an ended task the final state and closes', async () => {
    const { socketaccesstoken } = await startTask();
    await post('/v1/Task/Cancel', { tasktoken: socketaccesstoken });
    const client = await connect(socketaccesstoken);
    expect(await client.closed).toBe(1000);
    expect(client.messages).toEqual([expect.objectContaining({ type: 'task_cancel', terminal: true })]);
  });

  it('answers a plain GET /v1 with 426 in Wiro’s envelope', async () => {
    const response = await SELF.fetch(`${BASE}/v1`);
    expect(response.status).toBe(426);
    expect(await response.json()).toMatchObject({ result: false });
  });
});
