/**
 * Accessibility: axe-core finds no serious or critical problem in any state; every control is
 * labelled; the status is announced politely and errors assertively; the keyboard does
 * everything; focus moves where the user needs it next.
 */
import axe from 'axe-core';
import { describe, expect, test, vi } from 'vitest';
import { userEvent } from 'vitest/browser';
import type WiroFlux from '../../widget/src/wiro-flux.component';
import { FakeTurnstile } from './fake-api';
import { $, $$, generate, mount, part, settle, type, useFakeApi } from './helpers';

const fake = useFakeApi();

/** Serious and critical axe violations in the widget (its shadow root included). */
async function violations(element: WiroFlux): Promise<string[]> {
  await element.updateComplete;
  const result = await axe.run(element, {
    resultTypes: ['violations'],
    // The test page is the widget alone; landmarks are the host page's business.
    rules: { region: { enabled: false } },
  });
  return result.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id}: ${violation.nodes.map((node) => JSON.stringify(node.target)).join(', ')}`);
}

function active(element: WiroFlux): Element | null {
  return element.shadowRoot?.activeElement ?? null;
}

describe('axe', () => {
  test('the form, light and dark', async () => {
    const element = await mount({ lora: '1328' });
    expect(await violations(element)).toEqual([]);
    element.theme = 'dark';
    expect(await violations(element)).toEqual([]);
  });

  test('with the demo notice, advanced fields and custom size open', async () => {
    fake.api.emulator = true;
    const element = await mount();
    $<HTMLDetailsElement>(element, 'details')!.open = true;
    $$<HTMLInputElement>(element, 'input[name="size"]').at(-1)?.click();
    expect(await violations(element)).toEqual([]);
  });

  test('while a task runs', async () => {
    const element = await mount();
    const token = await generate(element, fake.api);
    fake.api.push(token, 'task_output', { progress: { percentage: 40, stepCurrent: 8, stepTotal: 20 } });
    await settle(element);
    expect(await violations(element)).toEqual([]);
  });

  test('with results, history and the full-size viewer', async () => {
    const element = await mount();
    fake.api.finish(await generate(element, fake.api), 2);
    await settle(element);
    expect(await violations(element)).toEqual([]);
    $<HTMLButtonElement>(element, '.tile .open')?.click();
    await vi.waitFor(() => expect($<HTMLDialogElement>(element, 'dialog')?.open).toBe(true));
    expect(await violations(element)).toEqual([]);
  });

  test('with the bot check: waiting for it, and refused, light and dark', async () => {
    const turnstile = new FakeTurnstile().install();
    try {
      fake.api.sitekey = '0xTOOLKEY';
      const element = await mount({ prompt: 'a lion' });
      await vi.waitFor(() => expect(turnstile.rendered.length).toBe(1));
      // What Turnstile puts in the container is Cloudflare's; the widget's own markup is checked.
      expect(await violations(element)).toEqual([]);
      fake.api.runReply = {
        status: 403,
        body: {
          result: false,
          errors: [{ code: 0, field: 'cf-turnstile-response', message: 'Please complete the bot check first' }],
        },
      };
      turnstile.solve('token-1');
      await element.updateComplete;
      part<HTMLButtonElement>(element, 'submit')?.click();
      await vi.waitFor(() => expect($(element, '#ts-msg')?.textContent).toContain('Please complete'));
      expect(await violations(element)).toEqual([]);
      element.theme = 'dark';
      expect(await violations(element)).toEqual([]);
    } finally {
      turnstile.uninstall();
    }
  });

  test('with field errors and a failed task, light and dark', async () => {
    const element = await mount();
    fake.api.fail(await generate(element, fake.api));
    await settle(element);
    expect(await violations(element)).toEqual([]);
    type(part<HTMLTextAreaElement>(element, 'prompt')!, '');
    part<HTMLButtonElement>(element, 'submit')?.click();
    await settle(element);
    expect(await violations(element)).toEqual([]);
    element.theme = 'dark';
    expect(await violations(element)).toEqual([]);
  });
});

describe('labels and live regions', () => {
  test('every control has a name', async () => {
    const element = await mount({ lora: '1328' });
    $$<HTMLInputElement>(element, 'input[name="size"]').at(-1)?.click();
    await element.updateComplete;
    const controls = $$<HTMLElement>(element, 'input, select, textarea, button');
    expect(controls.length).toBeGreaterThan(15);
    for (const control of controls) {
      const labelled =
        control.getAttribute('aria-label') ||
        (control as HTMLInputElement).labels?.length ||
        (control.tagName === 'BUTTON' && control.textContent?.trim());
      expect(labelled, control.outerHTML.slice(0, 80)).toBeTruthy();
    }
  });

  test('the status is a polite live region; the ticking clock is outside it', async () => {
    const element = await mount();
    await generate(element, fake.api);
    const status = part(element, 'status')!;
    expect(status.getAttribute('role')).toBe('status');
    expect(status.getAttribute('aria-live')).toBe('polite');
    expect(status.textContent).toContain('Queued');
    expect(status.contains($(element, '.meta'))).toBe(false);
    expect(part(element, 'progress')?.getAttribute('aria-label')).toBe('Queued');
  });

  test('errors are alerts', async () => {
    const element = await mount();
    fake.api.fail(await generate(element, fake.api));
    await settle(element);
    expect(part(element, 'error')?.getAttribute('role')).toBe('alert');
  });

  test('help and errors are tied to their fields', async () => {
    const element = await mount();
    const steps = $(element, '#steps')!;
    expect(steps.getAttribute('aria-describedby')).toBe('steps-help');
    expect($(element, '#steps-help')?.textContent).toContain('More steps');
  });
});

describe('keyboard', () => {
  test('Tab walks the form in reading order and reaches Generate', async () => {
    const element = await mount({ lora: '1328' });
    part(element, 'prompt')?.focus();
    const order: string[] = [];
    for (let i = 0; i < 13; i++) {
      await userEvent.tab();
      const focused = active(element) as HTMLElement | null;
      const name =
        focused?.getAttribute('part') ||
        focused?.id ||
        focused?.getAttribute('name') ||
        focused?.getAttribute('aria-label') ||
        focused?.tagName.toLowerCase() ||
        'outside';
      order.push(name);
      if (name === 'submit') break;
    }
    expect(order).toEqual([
      'button', // "Try: wp4p, a lion at dusk", under the prompt
      'lora',
      'WPAP-ART-Style',
      'size', // the size presets: one stop for the radio group
      'steps',
      'scale',
      'samples', // the number of images: one stop for the radio group
      'seed',
      'Keep this seed',
      'New random seed',
      'summary',
      'submit',
    ]);
  });

  test('Enter in the prompt generates; Shift+Enter makes a new line', async () => {
    const element = await mount({ prompt: 'a lion' });
    const prompt = part<HTMLTextAreaElement>(element, 'prompt')!;
    prompt.focus();
    prompt.setSelectionRange(prompt.value.length, prompt.value.length);
    await userEvent.keyboard('{Shift>}{Enter}{/Shift}');
    expect(prompt.value).toBe('a lion\n');
    expect(fake.api.runs()).toEqual([]);
    await userEvent.keyboard('{Enter}');
    await vi.waitFor(() => expect(fake.api.runs().length).toBe(1));
    expect(fake.api.runs()[0]?.body.prompt).toBe('a lion');
  });

  test('Enter in another field submits the form too', async () => {
    const element = await mount({ prompt: 'a lion' });
    $<HTMLInputElement>(element, '#seed')?.focus();
    await userEvent.keyboard('{Enter}');
    await vi.waitFor(() => expect(fake.api.runs().length).toBe(1));
  });

  test('focus goes to the status on submit and to the results when done', async () => {
    const element = await mount({ prompt: 'a lion' });
    part(element, 'prompt')?.focus();
    await userEvent.keyboard('{Enter}');
    await vi.waitFor(() => expect(active(element)?.classList.contains('status')).toBe(true));
    fake.api.finish(fake.api.lastToken());
    await vi.waitFor(() => expect(active(element)?.getAttribute('part')).toBe('gallery'));
  });

  test('focus is left alone when the user went on typing', async () => {
    const element = await mount({ prompt: 'a lion' });
    const token = await generate(element, fake.api);
    part(element, 'prompt')?.focus();
    fake.api.finish(token);
    await settle(element);
    await settle(element);
    expect(active(element)).toBe(part(element, 'prompt'));
  });

  test('the viewer opens from the keyboard and Escape closes it', async () => {
    const element = await mount();
    fake.api.finish(await generate(element, fake.api));
    await settle(element);
    const open = $<HTMLButtonElement>(element, '.tile .open')!;
    open.focus();
    await userEvent.keyboard('{Enter}');
    const dialog = $<HTMLDialogElement>(element, 'dialog')!;
    await vi.waitFor(() => expect(dialog.open).toBe(true));
    expect(dialog.querySelector('img')?.getAttribute('alt')).toContain('Image 1 of 1');
    await userEvent.keyboard('{Escape}');
    await vi.waitFor(() => expect(dialog.open).toBe(false));
  });

  test('the viewer has a caption, named previous/next buttons, and ArrowLeft/ArrowRight', async () => {
    const element = await mount({ prompt: 'a lion at dusk' });
    fake.api.finish(await generate(element, fake.api), 4);
    await settle(element);
    const open = $$<HTMLButtonElement>(element, '.tile .open')[0]!;
    open.focus();
    await userEvent.keyboard('{Enter}');
    const dialog = $<HTMLDialogElement>(element, 'dialog')!;
    await vi.waitFor(() => expect(dialog.open).toBe(true));
    const caption = () => dialog.querySelector('p')?.textContent;
    expect(caption()).toBe('Image 1 of 4: a lion at dusk');
    await userEvent.keyboard('{ArrowRight}');
    await element.updateComplete;
    expect(caption()).toBe('Image 2 of 4: a lion at dusk');
    expect(dialog.querySelector('img')?.getAttribute('src')).toBe(
      fake.api.tasks.values().next().value?.outputs[1]?.url,
    );
    await userEvent.keyboard('{ArrowLeft}{ArrowLeft}');
    await element.updateComplete;
    expect(caption()).toBe('Image 4 of 4: a lion at dusk');
    const buttons = [...dialog.querySelectorAll('button')];
    const next = buttons.find((button) => button.getAttribute('aria-label') === 'Next image')!;
    expect(buttons.find((button) => button.getAttribute('aria-label') === 'Previous image')).toBeTruthy();
    next.click();
    await element.updateComplete;
    expect(caption()).toBe('Image 1 of 4: a lion at dusk');
    expect(dialog.getAttribute('aria-labelledby')).toBe(dialog.querySelector('p')?.id);
    expect(await violations(element)).toEqual([]);
  });

  test('chips are removable from the keyboard', async () => {
    const element = await mount({ lora: '1328', prompt: 'a lion' });
    const remove = $<HTMLButtonElement>(element, '.chip button')!;
    expect(remove.getAttribute('aria-label')).toBe('Remove wp4p');
    remove.focus();
    await userEvent.keyboard('{Enter}');
    await element.updateComplete;
    expect($$(element, '.chip').length).toBe(0);
  });
});
