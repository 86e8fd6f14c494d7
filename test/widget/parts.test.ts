/** Shadow parts: every name CONTRACT.md promises, on the right element, at the right time. */
import { describe, expect, test, vi } from 'vitest';
import { $, $$, generate, mount, part, settle, useFakeApi } from './helpers';

const fake = useFakeApi();

describe('parts', () => {
  test('form, prompt, lora and submit are there once the form is built', async () => {
    const element = await mount();
    expect(part(element, 'form')?.tagName).toBe('FORM');
    expect(part(element, 'prompt')?.tagName).toBe('TEXTAREA');
    expect(part(element, 'lora')?.tagName).toBe('SELECT');
    expect(part(element, 'submit')?.getAttribute('type')).toBe('submit');
    for (const name of ['cancel', 'status', 'progress', 'gallery', 'image', 'error']) {
      expect(part(element, name), name).toBeNull();
    }
  });

  test('status, progress and cancel appear while a task runs', async () => {
    const element = await mount();
    await generate(element, fake.api);
    expect(part(element, 'status')).toBeTruthy();
    expect(part(element, 'progress')?.getAttribute('role') ?? part(element, 'progress')?.tagName).toMatch(
      /progressbar|PROGRESS/,
    );
    expect(part(element, 'cancel')?.tagName).toBe('BUTTON');
  });

  test('gallery and one image part per output when it is done; cancel goes', async () => {
    const element = await mount();
    const token = await generate(element, fake.api);
    fake.api.finish(token, 3);
    await vi.waitFor(() => expect($$(element, '[part="image"]').length).toBe(3));
    expect(part(element, 'gallery')).toBeTruthy();
    expect($$<HTMLImageElement>(element, '[part="image"]').every((img) => img.tagName === 'IMG')).toBe(true);
    expect(part(element, 'cancel')).toBeNull();
  });

  test('error shows a failed task', async () => {
    const element = await mount();
    const token = await generate(element, fake.api);
    fake.api.fail(token);
    await settle(element);
    expect(part(element, 'error')?.textContent).toContain('CUDA out of memory');
  });

  test('the parts style from outside the shadow root', async () => {
    const style = document.createElement('style');
    style.textContent = 'wiro-flux::part(submit) { text-transform: uppercase; }';
    document.head.append(style);
    try {
      const element = await mount();
      expect(getComputedStyle(part(element, 'submit')!).textTransform).toBe('uppercase');
    } finally {
      style.remove();
    }
  });

  test('custom properties theme it from outside', async () => {
    const element = await mount();
    element.style.setProperty('--wiro-flux-accent', 'rgb(1, 2, 3)');
    expect(getComputedStyle(part(element, 'submit')!).backgroundColor).toBe('rgb(1, 2, 3)');
    element.style.setProperty('--wiro-flux-radius', '3px');
    expect(getComputedStyle($(element, '.base')!).borderTopLeftRadius).toBe('3px');
  });

  test('the demo notice shows only when the Worker runs against the emulator', async () => {
    fake.api.emulator = true;
    const element = await mount();
    expect(part(element, 'notice')?.textContent).toContain('Demo mode: images come from the bundled Wiro emulator');
  });
});
