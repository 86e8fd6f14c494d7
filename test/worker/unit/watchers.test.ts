/**
 * The SSE side of a task's watchers, on workerd's own streams: what a reader that falls behind
 * receives, and what happens to one that stops reading.
 */
import { describe, expect, it } from 'vitest';
import type { TaskEvent } from '../../../worker/task/record';
import { Watchers } from '../../../worker/task/watchers';

/** The only part of the object's state the SSE side touches: it has no sockets here. */
const noSockets = { getWebSockets: () => [] } as unknown as DurableObjectState;

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
