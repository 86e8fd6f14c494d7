/** The task's state machine as pure functions: order, terminal statuses, Wiro's task made the client's. */
import { describe, expect, it } from 'vitest';
import type { WiroTask } from '../../../shared/protocol';
import { parseProgress, shouldApply, timedOut, toClientTask } from '../../../worker/task/state';

const ids = { taskid: 'T'.repeat(40), token: 'K'.repeat(40) };
const task = (status: string, extra: Partial<WiroTask> = {}): WiroTask => ({
  id: ids.taskid,
  socketaccesstoken: ids.token,
  status,
  outputs: [],
  ...extra,
});

describe('shouldApply', () => {
  it('moves forward, never backwards, and never out of a terminal status', () => {
    expect(shouldApply(task('task_queue'), task('task_start'))).toBe(true);
    expect(shouldApply(task('task_start'), task('task_queue'))).toBe(false);
    expect(shouldApply(task('task_postprocess_end'), task('task_cancel'))).toBe(false);
    expect(shouldApply(task('task_cancel'), task('task_postprocess_end'))).toBe(false);
  });

  it('takes repeated task_output for new progress only, and an unknown status at the current rank', () => {
    const at = (percentage: number) => task('task_output', { progress: { percentage } });
    expect(shouldApply(at(10), at(40))).toBe(true);
    expect(shouldApply(at(40), at(40))).toBe(false);
    expect(shouldApply(task('task_start'), task('task_something_new'))).toBe(true);
  });
});

describe('toClientTask', () => {
  it('puts the Worker’s ids in place of Wiro’s and drops the Worker’s callback URL', () => {
    const client = toClientTask(
      {
        id: '2221',
        socketaccesstoken: 'wiro-token',
        status: 'task_start',
        callbackurl: 'https://edge/v1/Callback/x/y',
        parameters: { prompt: 'a lion', callbackUrl: 'https://edge/v1/Callback/x/y' },
      },
      ids,
      'https://client.example/hook',
    );
    expect(client).toMatchObject({
      id: ids.taskid,
      socketaccesstoken: ids.token,
      callbackurl: 'https://client.example/hook',
    });
    expect(client.parameters).toEqual({ prompt: 'a lion' });
    expect(JSON.stringify(client)).not.toMatch(/2221|wiro-token|Callback/);
  });

  it('keeps the owner’s account, project and file keys from whoever holds the token', () => {
    // Fields as the tool page's Kill answer shows them.
    const client = toClientTask(
      {
        id: '534574',
        uuid: '15bce51f-442f-4f44-a71d-13c6374a62bd',
        guestid: null,
        projectid: '699',
        modelid: '598',
        status: 'task_postprocess_end',
        pexit: '0',
        totalcost: '0.003510000000',
        outputs: [
          {
            id: '6bc392c93856dfce3a7d1b4261e15af3',
            name: '0.png',
            contenttype: 'image/png',
            parentid: '6c1833f39da71e6175bf292b18779baf',
            uuid: '15bce51f-442f-4f44-a71d-13c6374a62bd',
            size: '202472',
            accesskey: 'dFKlMApaSgMeHKsJyaDeKrefcHahUK',
            url: 'https://cdn1.wiro.ai/6a6af820/0.png',
          },
        ],
      },
      { taskid: 'our-id', token: 'our-token' },
    );
    for (const field of ['uuid', 'guestid', 'projectid']) expect(client).not.toHaveProperty(field);
    expect(client).toMatchObject({ modelid: '598', totalcost: '0.003510000000', pexit: '0' });
    expect(client.outputs).toEqual([
      {
        id: '6bc392c93856dfce3a7d1b4261e15af3',
        name: '0.png',
        contenttype: 'image/png',
        size: '202472',
        url: 'https://cdn1.wiro.ai/6a6af820/0.png',
      },
    ]);
  });

  it('ends a fatal task_error as a failure every Wiro client stops at', () => {
    const fatal = toClientTask({ id: '1', status: 'task_error', pexit: '0', debugerror: 'no GPU' }, ids);
    expect(fatal).toMatchObject({ status: 'task_postprocess_end', pexit: '1', debugerror: 'no GPU', outputs: [] });
    expect(toClientTask({ id: '1', status: 'task_error', pexit: '137' }, ids)).toMatchObject({
      pexit: '137',
      debugerror: expect.stringMatching(/could not start/),
    });
  });
});

describe('parseProgress', () => {
  it('reads Wiro’s progress as an object or a JSON string, with numbers as numbers or strings', () => {
    expect(parseProgress({ percentage: '50', stepCurrent: '10', stepTotal: 20 })).toEqual({
      percentage: 50,
      stepCurrent: 10,
      stepTotal: 20,
    });
    expect(parseProgress('{"type":"progressGenerate","percentage":120}')).toEqual({ percentage: 100 });
    expect(parseProgress('not json')).toBeUndefined();
    expect(parseProgress({ stepCurrent: 1 })).toBeUndefined();
  });
});

describe('timedOut', () => {
  it('ends the task as failed with pexit -1 and says how long the Worker waited', () => {
    const ended = timedOut(task('task_output'), 15 * 60_000);
    expect(ended).toMatchObject({ status: 'task_postprocess_end', pexit: '-1' });
    expect(ended.debugerror).toMatch(/within 15 minutes/);
  });
});
