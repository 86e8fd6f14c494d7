/** Events: names, details, and that they bubble out of the shadow root (composed). */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { generate, mount, recordEvents, settle, useFakeApi } from './helpers';

const fake = useFakeApi();
let recorder: ReturnType<typeof recordEvents>;
afterEach(() => recorder?.stop());

const of = (type: string) => recorder.events.filter((event) => event.type === type);

describe('events', () => {
  test('wiro-task carries the taskid and token of the new task', async () => {
    recorder = recordEvents();
    const element = await mount();
    const token = await generate(element, fake.api);
    const [event] = of('wiro-task');
    expect(event?.detail).toEqual({ taskid: fake.api.tasks.get(token)?.id, socketaccesstoken: token });
    expect(event?.bubbles).toBe(true);
    expect(event?.composed).toBe(true);
  });

  test('wiro-status follows every status change, with the task', async () => {
    recorder = recordEvents();
    const element = await mount();
    const token = await generate(element, fake.api);
    fake.api.push(token, 'task_start');
    fake.api.push(token, 'task_output', { progress: { percentage: 50, stepCurrent: 10, stepTotal: 20 } });
    fake.api.push(token, 'task_output', { progress: { percentage: 75, stepCurrent: 15, stepTotal: 20 } });
    fake.api.finish(token);
    await settle(element);
    const statuses = of('wiro-status').map((event) => event.detail.status);
    expect(statuses).toEqual(['task_queue', 'task_start', 'task_output', 'task_output', 'task_postprocess_end']);
    expect(of('wiro-status')[3]?.detail.task.progress.percentage).toBe(75);
    expect(of('wiro-status').every((event) => event.bubbles && event.composed)).toBe(true);
  });

  test('wiro-done once, when the task ends, with the outputs', async () => {
    recorder = recordEvents();
    const element = await mount();
    const token = await generate(element, fake.api);
    fake.api.finish(token, 2);
    fake.api.finish(token, 2); // a repeated terminal event changes nothing
    await settle(element);
    expect(of('wiro-done').length).toBe(1);
    expect(of('wiro-done')[0]?.detail.task.outputs.length).toBe(2);
    expect(of('wiro-error')).toEqual([]);
  });

  test('wiro-done and wiro-error for a failed task; the message is its debugerror', async () => {
    recorder = recordEvents();
    const element = await mount();
    const token = await generate(element, fake.api);
    fake.api.fail(token, 'Out of memory on the GPU');
    await settle(element);
    expect(of('wiro-done')[0]?.detail.task.pexit).toBe('1');
    expect(of('wiro-error')[0]?.detail).toEqual({ message: 'Out of memory on the GPU' });
  });

  test('wiro-done for a cancelled task, without wiro-error', async () => {
    recorder = recordEvents();
    const element = await mount();
    await generate(element, fake.api);
    element.shadowRoot?.querySelector<HTMLButtonElement>('[part="cancel"]')?.click();
    await vi.waitFor(() => expect(of('wiro-done')[0]?.detail.task.status).toBe('task_cancel'));
    expect(of('wiro-error')).toEqual([]);
  });

  test('wiro-error when a Run is refused, with the message', async () => {
    recorder = recordEvents();
    const element = await mount();
    fake.api.runReply = {
      status: 402,
      body: { result: false, errors: [{ code: 97, message: 'Insufficient balance' }] },
    };
    element.shadowRoot?.querySelector<HTMLButtonElement>('[part="submit"]')?.click();
    await vi.waitFor(() => expect(of('wiro-error')[0]?.detail.message).toBe('Insufficient balance'));
    expect(of('wiro-task')).toEqual([]);
  });

  test('wiro-error when the schema cannot be loaded', async () => {
    recorder = recordEvents();
    fake.api.toolReply = { status: 502, body: { result: false, errors: [{ code: 0, message: 'Wiro is down' }] } };
    const element = document.createElement('wiro-flux');
    element.endpoint = 'https://wiro-flux.test';
    document.body.append(element);
    await vi.waitFor(() => expect(of('wiro-error').length).toBe(1));
    expect(of('wiro-error')[0]?.detail.message).toContain('Could not load');
  });
});
