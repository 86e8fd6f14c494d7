/** Properties and attributes: endpoint, prompt, lora, theme, history-key, strings. */
import { describe, expect, test, vi } from 'vitest';
import { setStrings } from '../../widget/src/index';
import { defaultStrings } from '../../widget/src/strings';
import { $, ENDPOINT, generate, mount, part, type, useFakeApi } from './helpers';

const fake = useFakeApi();

describe('properties', () => {
  test('is defined as <wiro-flux> with an open shadow root', async () => {
    const element = await mount();
    expect(customElements.get('wiro-flux')).toBe(element.constructor);
    expect(element.shadowRoot?.mode).toBe('open');
  });

  test('endpoint defaults to the origin that served the script', () => {
    const element = document.createElement('wiro-flux');
    // In the test runner the widget's module comes from the page's own dev server.
    expect(element.endpoint).toBe(location.origin);
  });

  test('endpoint is where every request goes', async () => {
    await mount();
    expect(fake.api.calls[0]?.path).toBe('/v1/Tool');
    expect(fake.api.calls.every((call) => call.path.startsWith('/v1/'))).toBe(true);
  });

  test('changing endpoint reloads the form from the new one', async () => {
    const element = await mount();
    const before = fake.api.callsTo('/v1/Tool').length;
    element.endpoint = `${ENDPOINT}/`;
    await vi.waitFor(() => expect(fake.api.callsTo('/v1/Tool').length).toBe(before + 1));
  });

  test('the prompt attribute fills the prompt, and the property follows the user', async () => {
    const element = await mount({ prompt: 'a red fox in snow' });
    const textarea = part<HTMLTextAreaElement>(element, 'prompt')!;
    expect(textarea.value).toBe('a red fox in snow');
    type(textarea, 'a blue fox');
    expect(element.prompt).toBe('a blue fox');
    element.prompt = 'set from the page';
    await element.updateComplete;
    expect(textarea.value).toBe('set from the page');
  });

  test('prompt and lora set as properties before the form is built are what it shows', async () => {
    const element = document.createElement('wiro-flux');
    element.endpoint = ENDPOINT;
    element.prompt = 'a fox set early';
    element.lora = '1328';
    expect(element.prompt).toBe('a fox set early');
    document.body.append(element);
    await vi.waitFor(() => expect(part(element, 'prompt')).toBeTruthy());
    await element.updateComplete;
    expect(part<HTMLTextAreaElement>(element, 'prompt')!.value).toBe('a fox set early');
    expect(part<HTMLSelectElement>(element, 'lora')!.value).toBe('1328');
    expect(element.lora).toBe('1328');
    // One value: what the user types is what the property and the Run say.
    type(part<HTMLTextAreaElement>(element, 'prompt')!, 'a fox typed later');
    expect(element.prompt).toBe('a fox typed later');
    await generate(element, fake.api);
    expect(fake.api.runs()[0]?.body.prompt).toBe('wp4p, a fox typed later');
  });

  test('without a prompt attribute the schema default is offered, and the properties say so', async () => {
    const element = await mount();
    expect(part<HTMLTextAreaElement>(element, 'prompt')!.value).toMatch(/matchbox/);
    expect(element.prompt).toMatch(/matchbox/);
    expect(element.lora).toBe('655');
  });

  test('taken out while loading and put back, it still builds its form', async () => {
    const element = document.createElement('wiro-flux');
    element.endpoint = ENDPOINT;
    document.body.append(element);
    element.remove();
    document.body.append(element);
    await vi.waitFor(() => expect(part(element, 'prompt')).toBeTruthy());
  });

  test('the lora attribute picks the style and shows its trigger words', async () => {
    const element = await mount({ lora: '1328', prompt: 'a lion' });
    expect(part<HTMLSelectElement>(element, 'lora')!.value).toBe('1328');
    expect($(element, '.chips')?.textContent).toContain('wp4p');
    element.lora = '1214';
    await element.updateComplete;
    expect(part<HTMLSelectElement>(element, 'lora')!.value).toBe('1214');
    expect($(element, '.chips')?.textContent).toContain('vintage mascot logotype');
  });

  test('an unknown lora value leaves the default style', async () => {
    const element = await mount({ lora: 'nope' });
    expect(part<HTMLSelectElement>(element, 'lora')!.value).toBe('655');
  });

  test('theme reflects to the attribute, default auto', async () => {
    const element = await mount();
    expect(element.theme).toBe('auto');
    expect(element.getAttribute('theme')).toBe('auto');
    element.theme = 'dark';
    await element.updateComplete;
    expect(element.getAttribute('theme')).toBe('dark');
    const background = getComputedStyle($(element, '.base')!).backgroundColor;
    element.theme = 'light';
    await element.updateComplete;
    expect(getComputedStyle($(element, '.base')!).backgroundColor).not.toBe(background);
  });

  test('history-key names the localStorage entry', async () => {
    const element = await mount({ 'history-key': 'shop' });
    await generate(element, fake.api);
    expect(localStorage.getItem('wiro-flux:history:shop')).toContain(fake.api.lastToken());
  });

  test('strings override the English words for one widget', async () => {
    const element = await mount();
    element.strings = { generate: 'Générer' };
    await element.updateComplete;
    expect(part(element, 'submit')?.textContent?.trim()).toBe('Générer');
  });

  test('setStrings overrides them for every widget', async () => {
    setStrings({ generate: 'Make it' });
    try {
      const element = await mount();
      expect(part(element, 'submit')?.textContent?.trim()).toBe('Make it');
    } finally {
      setStrings({ generate: defaultStrings.generate });
    }
  });
});
