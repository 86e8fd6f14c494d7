/**
 * The SSE side of a task's watchers, on workerd's own streams: what a reader that falls behind
 * receives, and what happens to one that stops reading.
 */
import { describe, expect, it } from 'vitest';
import type { TaskEvent } from '../../../worker/task/record';
import { Watchers } from '../../../worker/task/watchers';

/** The only part of the object's state the SSE side touches: it has no sockets here. */
const noSockets = { getWebSockets: () => [] } as unknown as DurableObjectState;

/** An object's state that accepts sockets as hibernatable ones would be: its sockets get every frame. */
function withSockets() {
  const sockets: WebSocket[] = [];
  const ctx = {
    getWebSockets: () => [...sockets],
    acceptWebSocket: (ws: WebSocket) => {
      ws.accept();
      sockets.push(ws);
    },
  } as unknown as DurableObjectState;
  return { ctx, sockets };
}

/** Connects a socket watcher and returns the statuses its client receives. */
function connect(watchers: Watchers, task: TaskEvent['task']): string[] {
  const response = watchers.open(new Request('http://task/', { headers: { upgrade: 'websocket' } }), task, () => []);
  const client = response.webSocket as WebSocket;
  client.accept();
  const received: string[] = [];
  client.addEventListener('message', (message) => {
    received.push((JSON.parse(String(message.data)) as { type: string }).type);
  });
  return received;
}

/** Waits until `done` holds, checking after each turn. */
async function until(done: () => boolean): Promise<void> {
  for (let turn = 0; turn < 500 && !done(); turn++) await nextTurn();
  expect(done()).toBe(true);
}

function event(id: number, status: string, debugoutput = ''): TaskEvent {
  return { id, status, at: id, task: { id: 'task', socketaccesstoken: 'token', status, outputs: [], debugoutput } };
}

/** Lets the current turn end, so what it sent has been handed to the streams. */
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

async function readAll(body: ReadableStream<Uint8Array>): Promise<string[]> {
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  for await (const chunk of body) chunks.push(decoder.decode(chunk));
  return chunks;
}

describe('Watchers: SSE streams', () => {
  it('gives a reader that fell behind every event in order, in one write instead of one each', async () => {
    const watchers = new Watchers(noSockets);
    const response = watchers.stream([], false);
    // Nobody reads yet, so the opening `retry:` write is still on its way when the events come,
    // each in a turn of its own, as Wiro's socket messages do.
    for (let id = 1; id <= 20; id++) {
      watchers.send(event(id, id === 20 ? 'task_postprocess_end' : 'task_output'));
      await nextTurn();
    }
    const chunks = await readAll(response.body as ReadableStream<Uint8Array>);
    const ids = [...chunks.join('').matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]));
    expect(ids).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
    expect(chunks[0]).toMatch(/^retry: /);
    expect(chunks).toHaveLength(2);
  });

  it('sends an event to a reader that keeps up as soon as its turn ends', async () => {
    const watchers = new Watchers(noSockets);
    const reader = (watchers.stream([], false).body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    watchers.send(event(1, 'task_start'));
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toContain('event: task_start');
    await reader.cancel();
  });

  it('drops a reader that stops reading once a megabyte waits for it, and forgets it', async () => {
    const watchers = new Watchers(noSockets);
    const response = watchers.stream([], false);
    expect(watchers.size).toBe(1);
    const big = 'x'.repeat(200_000);
    for (let id = 1; id <= 6; id++) {
      watchers.send(event(id, 'task_output_full', big));
      await nextTurn();
    }
    expect(watchers.size).toBe(0);
    await expect(readAll(response.body as ReadableStream<Uint8Array>)).rejects.toThrow();
  });
});

describe('Watchers: many watchers at once', () => {
  it('sends a burst to every socket in order, one frame per status, the latest progress standing for the ones before', async () => {
    const { ctx } = withSockets();
    const watchers = new Watchers(ctx);
    const clients = Array.from({ length: 200 }, () => connect(watchers, event(1, 'task_start').task));
    let id = 1;
    for (let step = 1; step <= 5; step++) watchers.send(event(++id, 'task_output'));
    watchers.send(event(++id, 'task_output_full'));
    watchers.send(event(++id, 'task_end'));
    watchers.send(event(++id, 'task_postprocess_start'));
    await until(() => clients.every((received) => received.length === 5));
    for (const received of clients) {
      expect(received).toEqual(['task_start', 'task_output', 'task_output_full', 'task_end', 'task_postprocess_start']);
    }
  });

  it('gives a watcher that joins while a batch waits only what it does not have', async () => {
    const { ctx } = withSockets();
    const watchers = new Watchers(ctx);
    const early = Array.from({ length: 200 }, () => connect(watchers, event(1, 'task_start').task));
    await until(() => early.every((received) => received.length === 1));
    const output = event(2, 'task_output');
    // With 200 watchers the status waits a moment for others; two watchers join meanwhile.
    watchers.send(output);
    const lateSocket = connect(watchers, output.task);
    const lateStream = watchers.stream([output], false);
    watchers.send(event(3, 'task_postprocess_end'));
    await until(() => early.every((received) => received.length === 3) && lateSocket.length === 2);
    expect(lateSocket).toEqual(['task_output', 'task_postprocess_end']);
    expect(early[0]).toEqual(['task_start', 'task_output', 'task_postprocess_end']);
    const text = (await readAll(lateStream.body as ReadableStream<Uint8Array>)).join('');
    expect([...text.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]))).toEqual([2, 3]);
  });
});
