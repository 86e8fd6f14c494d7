/**
 * The form: built from the published schema, checked like the Worker checks, sent as the Worker
 * expects (one Run per submit, with an Idempotency-Key), and the Worker's refusals shown.
 */
import { describe, expect, test, vi } from 'vitest';
import { describeTool } from '../../shared/tool';
import { $, $$, generate, mount, part, settle, type, useFakeApi } from './helpers';

const fake = useFakeApi();
const tool = describeTool();

function submit(element: HTMLElement): void {
  element.shadowRoot?.querySelector<HTMLButtonElement>('[part="submit"]')?.click();
}

async function chooseCustomSize(element: HTMLElement & { updateComplete: Promise<boolean> }): Promise<void> {
  const radios = [...(element.shadowRoot?.querySelectorAll<HTMLInputElement>('input[name="size"]') ?? [])];
  radios.at(-1)?.click();
  await element.updateComplete;
}

describe('form from the schema', () => {
  test('every published input has a labelled control', async () => {
    const element = await mount();
    for (const field of tool.inputs) {
      if (field.name === 'samples') {
        expect($$(element, `input[name="samples"]`).length).toBe(field.max);
        continue;
      }
      if (field.name === 'width' || field.name === 'height') continue; // behind "Custom" size
      const control = $(element, `#${field.name}`);
      expect(control, field.name).toBeTruthy();
      expect($(element, `label[for="${field.name}"]`)?.textContent).toBe(field.label);
    }
  });

  test('the style picker lists every published LoRA by its friendly name, with source and trigger words', async () => {
    const element = await mount({ lora: '1236' });
    const options = $$<HTMLOptionElement>(element, '[part="lora"] option');
    expect(options.map((option) => option.value)).toEqual(tool.loras.map((lora) => lora.value));
    const text = Object.fromEntries(options.map((option) => [option.value, option.textContent]));
    expect(text['1236']).toBe('Vintage Comic Book Cover Sci-fi Pulp');
    expect(text['1328']).toBe('WPAP ART Style');
    expect(text['655']).toBe('No style (Wiro default)'); // a label written for people stays
    expect(options.some((option) => option.textContent?.includes('/'))).toBe(false);
    expect(part<HTMLSelectElement>(element, 'lora')?.value).toBe('1236');
    const info = $(element, '.lora-info')?.textContent ?? '';
    expect(info).toContain('WizardWhitebeard/Vintage-Comic-Book-Cover-Sci-fi-Pulp');
    expect(info).toContain('vintage comic book cover');
    expect(info).toContain('1950s pulp art style');
  });

  test('choosing a style adds its trigger words as removable chips, sent before the prompt', async () => {
    const element = await mount({ prompt: 'a rocket' });
    const select = part<HTMLSelectElement>(element, 'lora')!;
    select.value = '1236';
    select.dispatchEvent(new Event('change'));
    await element.updateComplete;
    const chips = $$(element, '.chip');
    expect(chips.map((chip) => chip.textContent?.replace('×', '').trim())).toEqual([
      'vintage comic book cover',
      '1950s pulp art style',
    ]);
    chips[1]?.querySelector('button')?.click();
    await element.updateComplete;
    expect($$(element, '.chip').length).toBe(1);
    await generate(element, fake.api);
    expect(fake.api.runs()[0]?.body.prompt).toBe('vintage comic book cover, a rocket');
  });

  test('trigger words already in the prompt are not added again', async () => {
    const element = await mount({ prompt: 'wp4p, a lion', lora: '1328' });
    expect($$(element, '.chip').length).toBe(0);
  });

  test('the style strength slider comes from the LoRA’s setting and is sent by its id', async () => {
    const element = await mount({ lora: '1328', prompt: 'a lion' });
    const setting = tool.loras.find((lora) => lora.value === '1328')!.settings[0]!;
    const slider = $<HTMLInputElement>(element, `input[name="${setting.id}"]`)!;
    expect([slider.min, slider.max, slider.step]).toEqual([
      String(setting.min),
      String(setting.max),
      String(setting.step),
    ]);
    type(slider, '0.6');
    await generate(element, fake.api);
    const body = fake.api.runs()[0]?.body;
    expect(body[setting.id]).toBe(0.6);
    expect(body.selectedLoraModel).toBe('1328');
    // Only the chosen style's scale is sent.
    expect(Object.keys(body).filter((key) => key.includes('-'))).toEqual([setting.id]);
  });

  test('the body has every input, numbers as numbers', async () => {
    const element = await mount({ prompt: 'a lion' });
    await generate(element, fake.api);
    const body = fake.api.runs()[0]?.body;
    expect(body).toMatchObject({ prompt: 'a lion', selectedLoraModel: '655', steps: 20, scale: 3.5, samples: 1 });
    expect(body.width).toBe(1024);
    expect(body.height).toBe(1024);
    expect(body.seed).toMatch(/^\d+$/);
    expect(body).not.toHaveProperty('selectedLoraModelPrivateUrl');
  });

  test('size presets set width and height; Custom shows the two fields', async () => {
    const element = await mount({ prompt: 'a lion' });
    const radios = $$<HTMLInputElement>(element, 'input[name="size"]');
    expect(radios.length).toBe(tool.sizes.length + 1);
    radios[3]?.click(); // 16:9
    await element.updateComplete;
    expect($(element, '#width')).toBeNull();
    await chooseCustomSize(element);
    expect($<HTMLInputElement>(element, '#width')?.value).toBe(String(tool.sizes[3]?.width));
    type($<HTMLInputElement>(element, '#height')!, '512');
    await generate(element, fake.api);
    expect(fake.api.runs()[0]?.body).toMatchObject({ width: 1344, height: 512 });
  });

  test('samples is a choice from the published range', async () => {
    const element = await mount({ prompt: 'a lion' });
    $$<HTMLInputElement>(element, 'input[name="samples"]')[2]?.click();
    await generate(element, fake.api);
    expect(fake.api.runs()[0]?.body.samples).toBe(3);
  });

  test('the seed is random per submit unless locked; the lock keeps it', async () => {
    const element = await mount({ prompt: 'a lion' });
    const seed = $<HTMLInputElement>(element, '#seed')!;
    type(seed, '42');
    await generate(element, fake.api);
    expect(fake.api.runs()[0]?.body.seed).not.toBe('42');
    fake.api.finish(fake.api.lastToken());
    await settle(element);
    const lock = $<HTMLButtonElement>(element, 'button[aria-pressed]')!;
    lock.click();
    await element.updateComplete;
    expect(lock.getAttribute('aria-pressed')).toBe('true');
    type(seed, '42');
    await generate(element, fake.api);
    expect(fake.api.runs()[1]?.body.seed).toBe('42');
  });

  test('a submit the form refuses leaves the seed as it was', async () => {
    const element = await mount({ prompt: 'a lion' });
    const seed = $<HTMLInputElement>(element, '#seed')!;
    type(seed, '42');
    type(part<HTMLTextAreaElement>(element, 'prompt')!, '');
    submit(element);
    await settle(element);
    submit(element);
    await settle(element);
    expect(fake.api.runs()).toEqual([]);
    expect(seed.value).toBe('42');
    type(part<HTMLTextAreaElement>(element, 'prompt')!, 'a lion');
    await generate(element, fake.api);
    expect(seed.value).toMatch(/^\d+$/);
    expect(String(fake.api.runs()[0]?.body.seed)).toBe(seed.value);
  });

  test('the randomize button draws a new seed', async () => {
    const element = await mount();
    const seed = $<HTMLInputElement>(element, '#seed')!;
    type(seed, '1');
    $$<HTMLButtonElement>(element, '.seed button')[1]?.click();
    await element.updateComplete;
    expect(seed.value).toMatch(/^\d+$/);
    expect(seed.value).not.toBe('1');
  });

  test('the private LoRA URL sits under Advanced and is sent when given', async () => {
    const element = await mount({ prompt: 'a lion' });
    const details = $<HTMLDetailsElement>(element, 'details')!;
    expect(details.open).toBe(false);
    expect(details.querySelector('#selectedLoraModelPrivateUrl')).toBeTruthy();
    type($<HTMLInputElement>(element, '#selectedLoraModelPrivateUrl')!, 'https://example.com/my.safetensors');
    await generate(element, fake.api);
    expect(fake.api.runs()[0]?.body.selectedLoraModelPrivateUrl).toBe('https://example.com/my.safetensors');
  });
});

describe('example prompts', () => {
  test('one click puts the style’s example in the prompt, trigger words as chips, and it is sent so', async () => {
    const element = await mount({ lora: '1328', prompt: 'something' });
    const example = $<HTMLButtonElement>(element, '.try')!;
    expect(example.textContent?.trim()).toBe('Try: wp4p, a lion at dusk');
    $<HTMLButtonElement>(element, '.chip button')?.click(); // the user had removed the chip
    await element.updateComplete;
    expect($$(element, '.chip')).toEqual([]);
    example.click();
    await element.updateComplete;
    expect(part<HTMLTextAreaElement>(element, 'prompt')?.value).toBe('a lion at dusk');
    expect(element.prompt).toBe('a lion at dusk');
    expect($$(element, '.chip').map((chip) => chip.textContent?.replace('×', '').trim())).toEqual(['wp4p']);
    await generate(element, fake.api);
    expect(fake.api.runs()[0]?.body.prompt).toBe('wp4p, a lion at dusk');
  });

  test('the example follows the chosen style', async () => {
    const element = await mount({ lora: '1236' });
    expect($(element, '.try')?.textContent?.trim()).toBe(
      'Try: vintage comic book cover, 1950s pulp art style, a lion at dusk',
    );
    element.lora = '1328';
    await element.updateComplete;
    expect($(element, '.try')?.textContent?.trim()).toBe('Try: wp4p, a lion at dusk');
  });
});

describe('client-side checks', () => {
  test('an empty prompt is refused before any request, next to the field', async () => {
    const element = await mount();
    type(part<HTMLTextAreaElement>(element, 'prompt')!, '   ');
    submit(element);
    await settle(element);
    expect(fake.api.runs()).toEqual([]);
    const prompt = part(element, 'prompt')!;
    expect(prompt.getAttribute('aria-invalid')).toBe('true');
    expect($(element, '#prompt-error')?.textContent).toBe('Prompt is required.');
    expect(prompt.getAttribute('aria-describedby')).toContain('prompt-error');
    expect(element.shadowRoot?.activeElement).toBe(prompt);
    expect(part(element, 'error')?.textContent).toContain('Please fix the highlighted fields.');
  });

  test('too long a prompt (trigger words included) is refused', async () => {
    const element = await mount({ lora: '1328' });
    type(part<HTMLTextAreaElement>(element, 'prompt')!, 'x'.repeat(1998));
    submit(element);
    await settle(element);
    expect(fake.api.runs()).toEqual([]);
    expect($(element, '#prompt-error')?.textContent).toBe('Prompt must be at most 2000 characters.');
  });

  test('the prompt counter turns to the error colour past the limit', async () => {
    const element = await mount();
    const prompt = part<HTMLTextAreaElement>(element, 'prompt')!;
    const counter = () => $(element, '.row.hint span[aria-hidden]')!;
    type(prompt, 'a lion');
    await element.updateComplete;
    const normal = getComputedStyle(counter()).color;
    type(prompt, 'x'.repeat(3000));
    await element.updateComplete;
    expect(counter().textContent).toBe('3000 / 2000');
    submit(element);
    await settle(element);
    const danger = getComputedStyle($(element, '#prompt-error')!).color;
    expect(danger).not.toBe(normal);
    expect(getComputedStyle(counter()).color).toBe(danger);
    type(prompt, 'x'.repeat(2000));
    await element.updateComplete;
    expect(getComputedStyle(counter()).color).toBe(normal);
  });

  test('width and height must be in range and multiples of 16', async () => {
    const element = await mount({ prompt: 'a lion' });
    await chooseCustomSize(element);
    type($<HTMLInputElement>(element, '#width')!, '1000');
    type($<HTMLInputElement>(element, '#height')!, '4096');
    submit(element);
    await settle(element);
    expect(fake.api.runs()).toEqual([]);
    expect($(element, '#width-error')?.textContent).toBe('Width must be a multiple of 16.');
    expect($(element, '#height-error')?.textContent).toBe('Height must be between 256 and 2048.');
    expect(element.shadowRoot?.activeElement?.id).toBe('width');
  });

  test('a locked seed must be a whole number in range', async () => {
    const element = await mount({ prompt: 'a lion' });
    $<HTMLButtonElement>(element, 'button[aria-pressed]')?.click();
    type($<HTMLInputElement>(element, '#seed')!, '12ab');
    submit(element);
    await settle(element);
    expect(fake.api.runs()).toEqual([]);
    expect($(element, '#seed-error')?.textContent).toBe('Seed must be between 0 and 4294967295.');
  });

  test('the private LoRA must be an https link', async () => {
    const element = await mount({ prompt: 'a lion' });
    type($<HTMLInputElement>(element, '#selectedLoraModelPrivateUrl')!, 'http://example.com/x.safetensors');
    submit(element);
    await settle(element);
    expect($(element, '#selectedLoraModelPrivateUrl-error')?.textContent).toContain('https://');
  });

  test('editing a field clears its error', async () => {
    const element = await mount();
    const prompt = part<HTMLTextAreaElement>(element, 'prompt')!;
    type(prompt, '');
    submit(element);
    await settle(element);
    type(prompt, 'a lion');
    await element.updateComplete;
    expect(prompt.getAttribute('aria-invalid')).toBe('false');
    expect($(element, '#prompt-error')).toBeNull();
  });
});

describe('submitting', () => {
  test('each submit sends a fresh Idempotency-Key', async () => {
    const element = await mount({ prompt: 'a lion' });
    await generate(element, fake.api);
    fake.api.finish(fake.api.lastToken());
    await settle(element);
    await generate(element, fake.api);
    const keys = fake.api.runs().map((call) => call.headers.get('idempotency-key'));
    expect(keys[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(keys[1]).not.toBe(keys[0]);
  });

  test('a double click starts one task; the button is disabled while the Run is out', async () => {
    const element = await mount({ prompt: 'a lion' });
    const release = fake.api.holdRuns();
    const button = part<HTMLButtonElement>(element, 'submit')!;
    button.click();
    button.click();
    await element.updateComplete;
    expect(button.disabled).toBe(true);
    expect(button.textContent?.trim()).toBe('Sending…');
    button.click();
    release();
    await vi.waitFor(() => expect(element.stream.status).toBe('running'));
    expect(fake.api.runs().length).toBe(1);
    expect(button.disabled).toBe(true);
    fake.api.finish(fake.api.lastToken());
    await settle(element);
    expect(button.disabled).toBe(false);
  });
});

describe('the Worker’s refusals', () => {
  test('400: each error lands next to its field, labelled, and focus goes to the first', async () => {
    const element = await mount({ prompt: 'a lion' });
    fake.api.runReply = {
      status: 400,
      body: {
        result: false,
        errors: [
          { code: 0, field: 'steps', message: 'steps must be between 1 and 50' },
          { code: 0, field: 'prompt', message: 'prompt must be at most 2000 characters' },
        ],
      },
    };
    submit(element);
    await vi.waitFor(() => expect($(element, '#steps-error')).toBeTruthy());
    expect($(element, '#steps-error')?.textContent).toBe('Inference steps must be between 1 and 50');
    expect($(element, '#prompt-error')?.textContent).toBe('Prompt must be at most 2000 characters');
    await vi.waitFor(() => expect(element.shadowRoot?.activeElement).toBe(part(element, 'prompt')));
    expect(part(element, 'error')?.textContent).toContain('Please fix the highlighted fields.');
    expect(part(element, 'error')?.textContent).not.toContain('Retry');
    expect(part<HTMLButtonElement>(element, 'submit')?.disabled).toBe(false);
  });

  test('402 (balance) shows the message in plain words, with Retry', async () => {
    const element = await mount({ prompt: 'a lion' });
    fake.api.runReply = {
      status: 402,
      body: { result: false, errors: [{ code: 97, message: 'Insufficient balance' }] },
    };
    submit(element);
    await vi.waitFor(() => expect(part(element, 'error')?.textContent).toContain('Insufficient balance'));
    expect(part(element, 'error')?.getAttribute('role')).toBe('alert');
    expect(part(element, 'error')?.querySelector('button')?.textContent).toBe('Retry');
  });

  test('429 says when to try again (Retry-After); Retry sends the same inputs again', async () => {
    const element = await mount({ prompt: 'a lion' });
    fake.api.runReply = {
      status: 429,
      body: { result: false, errors: [{ code: 96, message: 'Too many requests from this client' }] },
      headers: { 'retry-after': '12' },
    };
    submit(element);
    await vi.waitFor(() =>
      expect(part(element, 'error')?.textContent).toContain(
        'Too many requests from this client Try again in 12 seconds.',
      ),
    );
    part(element, 'error')?.querySelector('button')?.click();
    await vi.waitFor(() => expect(fake.api.runs().length).toBe(2));
    const [first, second] = fake.api.runs();
    expect(second?.body).toEqual(first?.body);
    expect(second?.headers.get('idempotency-key')).not.toBe(first?.headers.get('idempotency-key'));
    await vi.waitFor(() => expect(part(element, 'error')).toBeNull());
  });

  test('502 / 504 with Wiro’s envelope: its message', async () => {
    const element = await mount({ prompt: 'a lion' });
    fake.api.runReply = {
      status: 504,
      body: { result: false, errors: [{ code: 0, message: 'Wiro did not answer in time' }] },
    };
    submit(element);
    await vi.waitFor(() => expect(part(element, 'error')?.textContent).toContain('Wiro did not answer in time'));
  });

  test('an answer that is not JSON still gives a plain message', async () => {
    const element = await mount({ prompt: 'a lion' });
    fake.api.runReply = { status: 503, body: undefined };
    submit(element);
    await vi.waitFor(() => expect(part(element, 'error')?.textContent).toContain('HTTP 503'));
  });

  test('no network at all: say so', async () => {
    const element = await mount({ prompt: 'a lion' });
    const fakeFetch = globalThis.fetch;
    globalThis.fetch = () => Promise.reject(new TypeError('Failed to fetch'));
    try {
      submit(element);
      await vi.waitFor(() =>
        expect(part(element, 'error')?.textContent).toContain('Could not reach the image service'),
      );
    } finally {
      globalThis.fetch = fakeFetch;
    }
  });
});
