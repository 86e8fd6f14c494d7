/**
 * Upstream trouble is said plainly: whatever Wiro does wrong, the client gets Wiro's envelope
 * with a status that says what happened, never a hang, an HTML page or a stack trace; a Run is
 * never sent twice; a task's known state survives a failing Wiro.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { detail, emulator, post, RUN_PATH, startTask, validRun } from './helpers';

beforeEach(async () => {
  await emulator.reset();
});

async function runWith(kind: string, delayMs?: number) {
  await emulator.fault({ route: 'Run', kind, times: 1, ...(delayMs ? { delayMs } : {}) });
  const response = await post(RUN_PATH, validRun);
  const text = await response.text();
  return {
    response,
    text,
    answer: JSON.parse(text) as { result: boolean; errors: Array<{ code: number; message: string }> },
  };
}

describe('a Run when Wiro', () => {
  it.each([
    ['answers 500', '500', 502, /Wiro|server/i],
    ['answers 502', '502', 502, /./],
    ['answers an HTML error page', 'html', 502, /not its JSON/],
    ['answers garbage', 'garbage', 502, /not its JSON/],
    ['drops the connection', 'reset', 502, /could not be reached/],
  ])('%s (fault %s) gives %i in Wiro’s envelope, and the Run was sent once', async (_, kind, status, message) => {
    const { response, text, answer } = await runWith(kind);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(text).not.toMatch(/<html|at .*\.ts:\d+/i);
    expect(answer.result).toBe(false);
    expect(answer.errors[0]?.message).toMatch(message);
    const { calls } = await emulator.state();
    expect(calls.filter((call) => call.route === 'Run')).toHaveLength(1);
  });

  it('is too slow gives 504 after the timeout, and the Run is not retried', async () => {
    const { response, answer } = await runWith('slow', 3000);
    expect(response.status).toBe(504);
    expect(answer.errors[0]?.message).toMatch(/did not answer/);
    const { calls } = await emulator.state();
    expect(calls.filter((call) => call.route === 'Run')).toHaveLength(1);
  });

  it.each([
    ['has no balance left', 'balance', 402, 97],
    ['is at its concurrency limit', 'concurrency', 429, 96],
    ['refuses the credentials', 'unauthorized', 401, 0],
  ])('%s (fault %s) passes Wiro’s error through (HTTP %i, code %i)', async (_, kind, status, code) => {
    const { response, answer } = await runWith(kind);
    expect(response.status).toBe(status);
    expect(answer).toMatchObject({ result: false, errors: [{ code }] });
  });

  it('fails leaves no task behind: its token was never handed out', async () => {
    await runWith('500');
    const { calls } = await emulator.state();
    expect(calls).toHaveLength(1);
  });
});

describe('Detail when Wiro fails', () => {
  it('retries a 5xx and then answers the fresh state', async () => {
    const { wiroId, socketaccesstoken } = await startTask();
    await emulator.advance(wiroId, 'task_start');
    await emulator.fault({ route: 'Detail', kind: '500', times: 1 });
    const { response, body } = await detail(socketaccesstoken);
    expect(response.status).toBe(200);
    expect(body.tasklist[0].status).toBe('task_start');
    const { calls } = await emulator.state();
    expect(calls.filter((call) => call.route === 'Detail').map((call) => call.status)).toEqual([500, 200]);
  });

  it('answers the last known state when Wiro stays down: nothing is lost', async () => {
    const { taskid, socketaccesstoken } = await startTask();
    await emulator.fault({ route: 'Detail', kind: 'garbage', times: 5 });
    const { response, body } = await detail(socketaccesstoken);
    expect(response.status).toBe(200);
    expect(body.tasklist[0]).toMatchObject({ id: taskid, status: 'task_queue' });
  });
});

describe('Cancel when Wiro fails', () => {
  it('gives 502 and leaves the task as it was', async () => {
    const { socketaccesstoken } = await startTask();
    await emulator.fault({ route: 'Cancel', kind: '500', times: 1 });
    const response = await post('/v1/Task/Cancel', { tasktoken: socketaccesstoken });
    expect(response.status).toBe(502);
    const { body } = await detail(socketaccesstoken);
    expect(body.tasklist[0].status).toBe('task_queue');
    const { calls } = await emulator.state();
    expect(calls.filter((call) => call.route === 'Cancel')).toHaveLength(1);
  });
});
