/**
 * History: this browser's generations in localStorage (`wiro-flux:` keys), kept across reloads,
 * and a task still running at reload picked up again.
 */
import { describe, expect, test, vi } from 'vitest';
import type { HistoryEntry } from '../../widget/src/history';
import { $, $$, ENDPOINT, generate, mount, part, settle, useFakeApi } from './helpers';

const fake = useFakeApi();
const KEY = `wiro-flux:history:${ENDPOINT}`;

function stored(): HistoryEntry[] {
  return JSON.parse(localStorage.getItem(KEY) ?? '[]');
}

describe('history', () => {
  test('a generation is stored under a wiro-flux: key, from Run to result', async () => {
    const element = await mount({ prompt: 'a lion' });
    const token = await generate(element, fake.api);
    expect(Object.keys(localStorage).every((key) => key.startsWith('wiro-flux:'))).toBe(true);
    expect(stored()[0]).toMatchObject({ token, status: 'task_queue', inputs: { prompt: 'a lion' }, outputs: [] });
    fake.api.finish(token, 2);
    await settle(element);
    const [entry] = stored();
    expect(entry?.status).toBe('task_postprocess_end');
    expect(entry?.pexit).toBe('0');
    expect(entry?.outputs.map((output) => output.name)).toEqual(['0.png', '1.png']);
  });

  test('it survives a reload and lists newest first, with thumbnails', async () => {
    let element = await mount({ prompt: 'first' });
    fake.api.finish(await generate(element, fake.api));
    await settle(element);
    fake.api.fail(await generate(element, fake.api));
    await settle(element);
    element.remove();
    element = await mount();
    const items = $$<HTMLButtonElement>(element, '[part="history"] li button');
    expect(items.length).toBe(2);
    expect(items[0]?.getAttribute('aria-label')).toBe('Failed: first');
    expect(items[1]?.getAttribute('aria-label')).toBe('Done: first');
    expect(items[1]?.querySelector('img')?.getAttribute('src')).toContain('data:image/png');
  });

  test('showing an entry puts its images in the gallery; "use these settings again" fills the form', async () => {
    const element = await mount({ prompt: 'a castle', lora: '1328' });
    fake.api.finish(await generate(element, fake.api));
    await settle(element);
    const seed = String(stored()[0]?.inputs.seed);
    const prompt = part<HTMLTextAreaElement>(element, 'prompt')!;
    prompt.value = 'something else';
    prompt.dispatchEvent(new Event('input'));
    $<HTMLButtonElement>(element, '[part="history"] li button')?.click();
    await element.updateComplete;
    expect($$(element, '[part="image"]').length).toBe(1);
    [...$$<HTMLButtonElement>(element, '.toolbar button')]
      .find((b) => b.textContent === 'Use these settings again')
      ?.click();
    await element.updateComplete;
    expect(prompt.value).toBe('a castle');
    expect(element.prompt).toBe('a castle');
    expect(part<HTMLSelectElement>(element, 'lora')?.value).toBe('1328');
    expect($$(element, '.chip').map((chip) => chip.textContent?.replace('×', '').trim())).toEqual(['wp4p']);
    expect($<HTMLInputElement>(element, '#seed')?.value).toBe(seed);
    expect($(element, 'button[aria-pressed]')?.getAttribute('aria-pressed')).toBe('true');
    await vi.waitFor(() => expect(element.shadowRoot?.activeElement).toBe(prompt));
  });

  test('failed and cancelled tiles show their status and prompt, and their settings can be used again', async () => {
    const element = await mount({ prompt: 'a stormy harbour', lora: '1328' });
    fake.api.fail(await generate(element, fake.api));
    await settle(element);
    const prompt = part<HTMLTextAreaElement>(element, 'prompt')!;
    prompt.value = 'a quiet meadow';
    prompt.dispatchEvent(new Event('input'));
    fake.api.push(await generate(element, fake.api), 'task_cancel');
    await settle(element);
    const tiles = $$<HTMLButtonElement>(element, '[part="history"] li button');
    expect(tiles.map((tile) => tile.textContent?.trim())).toEqual([
      'Cancelled: wp4p, a quiet meadow',
      'Failed: wp4p, a stormy harbour',
    ]);
    prompt.value = 'something else';
    prompt.dispatchEvent(new Event('input'));
    tiles[1]?.click();
    await element.updateComplete;
    [...$$<HTMLButtonElement>(element, '.toolbar button')]
      .find((b) => b.textContent === 'Use these settings again')
      ?.click();
    await element.updateComplete;
    expect(prompt.value).toBe('a stormy harbour');
    expect(part<HTMLSelectElement>(element, 'lora')?.value).toBe('1328');
    await vi.waitFor(() => expect(element.shadowRoot?.activeElement).toBe(prompt));
  });

  test('"use these settings again" after picking another style shows and sends the entry’s style', async () => {
    const element = await mount({ prompt: 'a castle' });
    const select = part<HTMLSelectElement>(element, 'lora')!;
    // As a user picks: the option's selectedness changes, which makes it "dirty" (its `selected`
    // attribute no longer moves the selection).
    const pick = async (value: string) => {
      [...select.options].find((option) => option.value === value)!.selected = true;
      select.dispatchEvent(new Event('change'));
      await element.updateComplete;
    };
    await pick('1236');
    fake.api.finish(await generate(element, fake.api));
    await settle(element);
    await pick('655');
    expect($$(element, '.chip')).toEqual([]);
    [...$$<HTMLButtonElement>(element, '.toolbar button')]
      .find((b) => b.textContent === 'Use these settings again')
      ?.click();
    await element.updateComplete;
    expect(select.value).toBe('1236');
    expect(element.lora).toBe('1236');
    expect($$(element, '.chip').map((chip) => chip.textContent?.replace('×', '').trim())).toEqual([
      'vintage comic book cover',
      '1950s pulp art style',
    ]);
    expect(part<HTMLTextAreaElement>(element, 'prompt')?.value).toBe('a castle');
    await generate(element, fake.api);
    const [first, second] = fake.api.runs();
    expect(second?.body).toEqual(first?.body);
  });

  test('an earlier result can be looked at while a new task runs', async () => {
    const element = await mount();
    fake.api.finish(await generate(element, fake.api));
    await settle(element);
    const token = await generate(element, fake.api);
    expect($$(element, '[part="image"]').length).toBe(0);
    $$<HTMLButtonElement>(element, '[part="history"] li button')[1]?.click();
    await element.updateComplete;
    expect($$(element, '[part="image"]').length).toBe(1);
    expect(part(element, 'status')).toBeTruthy();
    fake.api.finish(token, 2);
    await settle(element);
    expect($$(element, '[part="image"]').length).toBe(2); // the new result takes over
  });

  test('a refused Run does not touch the history', async () => {
    const element = await mount();
    fake.api.finish(await generate(element, fake.api));
    await settle(element);
    fake.api.runReply = { status: 404, body: { result: false, errors: [{ code: 1, message: 'No such route' }] } };
    part<HTMLButtonElement>(element, 'submit')?.click();
    await vi.waitFor(() => expect(part(element, 'error')?.textContent).toContain('No such route'));
    expect(stored().length).toBe(1);
  });

  test('Clear forgets it all', async () => {
    const element = await mount();
    fake.api.finish(await generate(element, fake.api));
    await settle(element);
    [...$$<HTMLButtonElement>(element, '[part="history"] button')].find((b) => b.textContent === 'Clear')?.click();
    await element.updateComplete;
    expect(localStorage.getItem(KEY)).toBeNull();
    expect(part(element, 'history')).toBeNull();
  });

  test('it keeps the latest 24', async () => {
    const old = Array.from({ length: 30 }, (_, i) => ({
      taskid: String(i),
      token: `t${i}`,
      status: 'task_postprocess_end',
      pexit: '0',
      inputs: {},
      outputs: [],
      createdAt: i,
    }));
    localStorage.setItem(KEY, JSON.stringify(old));
    const element = await mount();
    await generate(element, fake.api);
    expect(stored().length).toBe(24);
    expect(stored()[0]?.token).toBe(fake.api.lastToken());
  });

  test('unreadable storage means no history, not a broken widget', async () => {
    localStorage.setItem(KEY, '{not json');
    const element = await mount();
    expect(part(element, 'history')).toBeNull();
    await generate(element, fake.api);
    expect(stored().length).toBe(1);
  });
});

describe('re-attach after a reload', () => {
  function leaveRunning(status: string): string {
    const task = fake.api.addTask(status);
    const entry: HistoryEntry = {
      taskid: task.id,
      token: task.socketaccesstoken,
      status: 'task_queue',
      inputs: { prompt: 'left running', width: 1024, height: 1024, samples: 1 },
      outputs: [],
      createdAt: Date.now() - 3000,
    };
    localStorage.setItem(KEY, JSON.stringify([entry]));
    return task.socketaccesstoken;
  }

  test('a task still running is followed again, and finishes', async () => {
    const token = leaveRunning('task_output');
    const element = await mount();
    expect(element.stream.token).toBe(token);
    await vi.waitFor(() => expect($(element, '.headline')?.textContent).toBe('Drawing your image…'));
    expect(fake.api.sources.map((source) => source.token)).toEqual([token]);
    expect($(element, '.meta')?.textContent).toMatch(/0:0[3-5] elapsed/);
    expect(part(element, 'cancel')?.textContent?.trim()).toBe('Stop');
    fake.api.finish(token);
    await vi.waitFor(() => expect($$(element, '[part="image"]').length).toBe(1));
    expect(stored()[0]?.status).toBe('task_postprocess_end');
  });

  test('the form shows the re-attached task’s prompt and settings, not the defaults', async () => {
    const task = fake.api.addTask('task_output');
    const entry: HistoryEntry = {
      taskid: task.id,
      token: task.socketaccesstoken,
      status: 'task_queue',
      inputs: {
        prompt: 'wp4p, left running',
        selectedLoraModel: '1328',
        seed: '424242',
        width: 1024,
        height: 1024,
        samples: 2,
      },
      outputs: [],
      createdAt: Date.now() - 3000,
    };
    localStorage.setItem(KEY, JSON.stringify([entry]));
    const element = await mount();
    await vi.waitFor(() => expect(part<HTMLTextAreaElement>(element, 'prompt')?.value).toBe('left running'));
    expect(element.prompt).toBe('left running');
    expect(part<HTMLSelectElement>(element, 'lora')?.value).toBe('1328');
    expect($$(element, '.chip').map((chip) => chip.textContent?.replace('×', '').trim())).toEqual(['wp4p']);
    expect($<HTMLInputElement>(element, '#seed')?.value).toBe('424242');
    // Not "use again": the next Generate still draws a new seed, and focus stays where the page has it.
    expect($(element, 'button[aria-pressed]')?.getAttribute('aria-pressed')).toBe('false');
    expect(element.shadowRoot?.activeElement).toBeNull();
  });

  test('a task that ended while the page was away shows its result at once', async () => {
    const token = leaveRunning('task_output');
    fake.api.finish(token);
    const element = await mount();
    await vi.waitFor(() => expect($$(element, '[part="image"]').length).toBe(1));
    expect(stored()[0]?.outputs.length).toBe(1);
  });

  test('a token the Worker does not know is forgotten quietly', async () => {
    leaveRunning('task_start');
    fake.api.tasks.clear();
    fake.api.blockStreams = true;
    const element = await mount();
    await vi.waitFor(() => expect(stored()).toEqual([]));
    await element.updateComplete;
    expect(element.stream.status).toBe('idle');
    expect(part(element, 'error')).toBeNull();
    expect(part(element, 'status')).toBeNull();
  });
});
