/**
 * Live status: the stepper in plain words, the progress bar, the elapsed time, stopping a task
 * the right way, failures with Retry, and following a task without a working stream.
 */
import { describe, expect, test, vi } from 'vitest';
import { $, $$, generate, mount, part, settle, useFakeApi } from './helpers';

const fake = useFakeApi();

function steps(element: HTMLElement): { label: string; current: boolean }[] {
  return [...(element.shadowRoot?.querySelectorAll('.steps li') ?? [])].map((li) => ({
    label: li.textContent?.trim() ?? '',
    current: li.getAttribute('aria-current') === 'step',
  }));
}

const currentStep = (element: HTMLElement) => steps(element).find((step) => step.current)?.label;

describe('stepper', () => {
  test('Queued → Starting → Generating → Finishing → Done, in plain words', async () => {
    const element = await mount();
    const token = await generate(element, fake.api);
    expect(steps(element).map((step) => step.label)).toEqual(['Queued', 'Starting', 'Generating', 'Finishing', 'Done']);
    const seen: (string | undefined)[] = [currentStep(element)];
    for (const status of ['task_accept', 'task_preprocess_start', 'task_start', 'task_output', 'task_end']) {
      fake.api.push(token, status);
      await settle(element);
      seen.push(currentStep(element));
    }
    fake.api.finish(token);
    await settle(element);
    seen.push(currentStep(element));
    expect(seen).toEqual(['Queued', 'Queued', 'Starting', 'Starting', 'Generating', 'Finishing', 'Done']);
    expect($(element, '.headline')?.textContent).toBe('Ready');
  });

  test('the progress bar shows Wiro’s real step progress', async () => {
    const element = await mount();
    const token = await generate(element, fake.api);
    const bar = part(element, 'progress')!;
    const before = Number(bar.getAttribute('aria-valuenow'));
    fake.api.push(token, 'task_output', {
      progress: { percentage: 60, stepCurrent: 12, stepTotal: 20, remainingTime: '00:04' },
    });
    await settle(element);
    const now = Number(bar.getAttribute('aria-valuenow'));
    expect(now).toBeGreaterThan(before);
    expect(bar.getAttribute('aria-valuemin')).toBe('0');
    expect(bar.getAttribute('aria-valuemax')).toBe('100');
    expect(bar.getAttribute('aria-valuetext')).toBe('Step 12 of 20');
    expect($(element, '.meta')?.textContent).toContain('Step 12 of 20');
    expect($(element, '.meta')?.textContent).toContain('0:04 left');
    fake.api.finish(token);
    await settle(element);
    expect(bar.getAttribute('aria-valuenow')).toBe('100');
  });

  test('the bar is full when the task is done, and gone when it was stopped', async () => {
    const element = await mount();
    let token = await generate(element, fake.api);
    fake.api.finish(token);
    await settle(element);
    expect(part<HTMLProgressElement>(element, 'progress')?.value).toBe(100);
    token = await generate(element, fake.api);
    fake.api.push(token, 'task_output', { progress: { percentage: 40, stepCurrent: 8, stepTotal: 20 } });
    await settle(element);
    expect(part<HTMLProgressElement>(element, 'progress')?.value).toBe(44);
    part<HTMLButtonElement>(element, 'cancel')?.click();
    await vi.waitFor(() => expect(currentStep(element)).toBe('Cancelled'));
    expect(part(element, 'progress')).toBeNull();
  });

  test('the elapsed time ticks while the task runs', async () => {
    const element = await mount();
    await generate(element, fake.api);
    expect($(element, '.meta')?.textContent).toContain('0:00 elapsed');
    element.stream.startedAt -= 65_000;
    await vi.waitFor(() => expect($(element, '.meta')?.textContent).toMatch(/1:0[5-8] elapsed/), { timeout: 2500 });
  });
});

describe('stopping', () => {
  test('while queued the button says Cancel and calls Task/Cancel', async () => {
    const element = await mount();
    const token = await generate(element, fake.api);
    const cancel = part<HTMLButtonElement>(element, 'cancel')!;
    expect(cancel.textContent?.trim()).toBe('Cancel');
    cancel.click();
    await vi.waitFor(() => expect(currentStep(element)).toBe('Cancelled'));
    expect(fake.api.callsTo('/v1/Task/Cancel')[0]?.body).toEqual({ tasktoken: token });
    expect(fake.api.callsTo('/v1/Task/Kill')).toEqual([]);
    expect(part(element, 'cancel')).toBeNull();
  });

  test('while running it says Stop and calls Task/Kill', async () => {
    const element = await mount();
    const token = await generate(element, fake.api);
    fake.api.push(token, 'task_start');
    await settle(element);
    const stop = part<HTMLButtonElement>(element, 'cancel')!;
    expect(stop.textContent?.trim()).toBe('Stop');
    stop.click();
    await vi.waitFor(() => expect(fake.api.callsTo('/v1/Task/Kill').length).toBe(1));
    expect(fake.api.callsTo('/v1/Task/Cancel')).toEqual([]);
    await vi.waitFor(() => expect(part(element, 'cancel')).toBeNull());
  });

  test('a task that ended meanwhile (409) just shows how it ended', async () => {
    const element = await mount();
    const token = await generate(element, fake.api);
    // It finished on the server, but the widget has not heard yet.
    fake.api.tasks.set(token, {
      ...fake.api.tasks.get(token)!,
      status: 'task_postprocess_end',
      pexit: '0',
      outputs: [],
    });
    part<HTMLButtonElement>(element, 'cancel')?.click();
    await vi.waitFor(() => expect(currentStep(element)).toBe('Done'));
    expect(part(element, 'error')).toBeNull();
  });
});

describe('stopping refused', () => {
  test('a refused stop says why, without offering to Run again', async () => {
    const element = await mount();
    await generate(element, fake.api);
    const fakeFetch = globalThis.fetch;
    globalThis.fetch = async (input, init) =>
      String(input).endsWith('/v1/Task/Cancel')
        ? new Response(JSON.stringify({ result: false, errors: [{ code: 0, message: 'Wiro refused' }] }), {
            status: 502,
          })
        : fakeFetch(input, init);
    try {
      part<HTMLButtonElement>(element, 'cancel')?.click();
      await vi.waitFor(() => expect(part(element, 'error')?.textContent).toContain('Wiro refused'));
      expect(part(element, 'error')?.querySelector('button')).toBeNull();
      expect(part(element, 'cancel')).toBeTruthy();
    } finally {
      globalThis.fetch = fakeFetch;
    }
  });
});

describe('failure', () => {
  test('shows debugerror in plain words, and Retry starts the same inputs again', async () => {
    const element = await mount({ prompt: 'a lion' });
    const token = await generate(element, fake.api);
    fake.api.fail(token, 'RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB');
    await settle(element);
    const error = part(element, 'error')!;
    expect(error.textContent).toContain('The image could not be made');
    expect(error.textContent).toContain('CUDA out of memory');
    expect(currentStep(element)).toBe('Failed');
    error.querySelector('button')?.click();
    await vi.waitFor(() => expect(fake.api.runs().length).toBe(2));
    expect(fake.api.runs()[1]?.body).toEqual(fake.api.runs()[0]?.body);
    await vi.waitFor(() => expect(part(element, 'error')).toBeNull());
  });
});

describe('following a task', () => {
  test('opens one event stream for the task', async () => {
    const element = await mount();
    const token = await generate(element, fake.api);
    expect(fake.api.sources.map((source) => source.url)).toEqual([
      `https://wiro-flux.test/v1/Task/Events?tasktoken=${encodeURIComponent(token)}`,
    ]);
    fake.api.finish(token);
    await settle(element);
    expect(fake.api.sources).toEqual([]); // closed after the terminal event
  });

  test('a blocked stream falls back to polling Task/Detail', async () => {
    fake.api.blockStreams = true;
    const element = await mount();
    const token = await generate(element, fake.api);
    await vi.waitFor(() => expect(element.stream.transport).toBe('poll'));
    await vi.waitFor(() => expect(fake.api.callsTo('/v1/Task/Detail').length).toBeGreaterThan(0));
    fake.api.finish(token);
    await vi.waitFor(() => expect($$(element, '[part="image"]').length).toBe(1), { timeout: 4000 });
    expect(element.stream.transport).toBeUndefined();
  });

  test('repeated stream errors without events also fall back to polling', async () => {
    const element = await mount();
    await generate(element, fake.api);
    // Dropped twice: reconnected each time (from the last event, so nothing new arrives).
    for (const _ of [1, 2]) {
      const source = fake.api.sources.at(-1);
      source?.drop();
      await vi.waitFor(() => expect(fake.api.sources.length === 1 && fake.api.sources[0] !== source).toBe(true), {
        timeout: 2000,
      });
      expect(element.stream.transport).toBe('stream');
    }
    expect(fake.api.callsTo('/v1/Task/Events').at(-1)?.path).toMatch(/[?&]lastEventId=\d+/);
    fake.api.sources.at(-1)?.drop();
    await vi.waitFor(() => expect(element.stream.transport).toBe('poll'));
  });

  test('a stream answered without a body (a proxy that strips it) polls', async () => {
    fake.api.bodilessStreams = true;
    const element = await mount();
    const token = await generate(element, fake.api);
    await vi.waitFor(() => expect(element.stream.transport).toBe('poll'));
    fake.api.finish(token);
    await vi.waitFor(() => expect(element.stream.status).toBe('ended'), { timeout: 4000 });
  });

  test('it needs no EventSource: it reads the stream with fetch', async () => {
    const saved = globalThis.EventSource;
    // @ts-expect-error: a browser (or a sandbox) without EventSource
    delete globalThis.EventSource;
    try {
      const element = await mount();
      const token = await generate(element, fake.api);
      expect(element.stream.transport).toBe('stream');
      fake.api.finish(token);
      await vi.waitFor(() => expect(element.stream.status).toBe('ended'));
      expect(fake.api.callsTo('/v1/Task/Detail')).toEqual([]);
    } finally {
      globalThis.EventSource = saved;
    }
  });

  test('a status Wiro adds tomorrow reaches the widget and is shown by its name', async () => {
    const element = await mount();
    const statuses: string[] = [];
    element.addEventListener('wiro-status', (event) => statuses.push(event.detail.status));
    const token = await generate(element, fake.api);
    fake.api.push(token, 'task_output', { progress: { percentage: 50, stepCurrent: 10, stepTotal: 20 } });
    await settle(element);
    fake.api.push(token, 'task_upscale_start');
    await vi.waitFor(() => expect($(element, '.headline')?.textContent).toBe('task_upscale_start'));
    expect(statuses).toContain('task_upscale_start');
    // Shown in the stage it came after (Generating), not sent back to an earlier one.
    expect(currentStep(element)).toBe('Generating');
    expect(part(element, 'cancel')?.textContent?.trim()).toBe('Stop');
    fake.api.finish(token);
    await vi.waitFor(() => expect(currentStep(element)).toBe('Done'));
    expect(fake.api.callsTo('/v1/Task/Detail')).toEqual([]);
  });

  test('only the latest run lands: a late event of an earlier task changes nothing', async () => {
    const element = await mount();
    const first = await generate(element, fake.api);
    fake.api.finish(first);
    await settle(element);
    const [oldSource] = [...fake.api.sources];
    const second = await generate(element, fake.api);
    // A stale stream of the first task delivering late must not touch the second.
    oldSource?.send({ ...fake.api.tasks.get(first)!, status: 'task_cancel' });
    await settle(element);
    expect(element.stream.task?.socketaccesstoken).toBe(second);
    expect(element.stream.status).toBe('running');
  });

  test('removing the widget closes the stream; putting it back resumes it', async () => {
    const element = await mount();
    const token = await generate(element, fake.api);
    element.remove();
    expect(fake.api.sources).toEqual([]);
    document.body.append(element);
    expect(fake.api.sources.length).toBe(1);
    fake.api.finish(token);
    await vi.waitFor(() => expect(element.stream.status).toBe('ended'));
  });
});
