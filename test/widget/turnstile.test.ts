/**
 * The bot check (Cloudflare Turnstile), when the Worker asks for one: the challenge renders
 * with the published site key (or the page's) in the widget's theme, Generate waits for a
 * token, each Run carries one and the challenge resets after it, and the Worker's refusal is
 * shown next to the challenge. Without a site key nothing changes and no script is loaded.
 * Turnstile itself is faked (`FakeTurnstile`): there is no network.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { userEvent } from 'vitest/browser';
import type WiroFlux from '../../widget/src/wiro-flux.component';
import { FakeTurnstile } from './fake-api';
import { $, ENDPOINT, generate, mount, part, recordEvents, settle, useFakeApi } from './helpers';

const fake = useFakeApi();
let turnstile = new FakeTurnstile();

const SCRIPT = 'https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit';
const cloudflareScripts = () => document.querySelectorAll('script[src*="challenges.cloudflare.com"]');

beforeEach(() => {
  turnstile = new FakeTurnstile().install();
});

afterEach(() => {
  turnstile.uninstall();
});

/** Mounts a widget and waits for its challenge to be rendered. */
async function mountWithChallenge(attributes: Record<string, string> = {}): Promise<WiroFlux> {
  const before = turnstile.rendered.length;
  const element = await mount(attributes);
  await vi.waitFor(() => expect(turnstile.rendered.length).toBe(before + 1));
  await element.updateComplete;
  return element;
}

const submitButton = (element: WiroFlux) => part<HTMLButtonElement>(element, 'submit')!;

async function solve(element: WiroFlux, token: string): Promise<void> {
  turnstile.solve(token);
  await element.updateComplete;
}

describe('the challenge', () => {
  test('renders with the site key /v1/Tool publishes, in the widget’s theme, just above Generate', async () => {
    fake.api.sitekey = '0xTOOLKEY';
    const element = await mountWithChallenge({ theme: 'dark' });
    const { container, options } = turnstile.last;
    expect(options).toMatchObject({ sitekey: '0xTOOLKEY', theme: 'dark', appearance: 'interaction-only' });
    // In the light DOM (Turnstile cannot render into a shadow root), shown through the slot.
    expect(container.parentElement).toBe(element);
    expect(container.slot).toBe('turnstile');
    const box = part(element, 'turnstile')!;
    expect(box.querySelector<HTMLSlotElement>('slot[name="turnstile"]')?.assignedElements()).toEqual([container]);
    expect(box.nextElementSibling).toBe(submitButton(element));
    // window.turnstile was there already: no script added.
    expect(cloudflareScripts().length).toBe(0);
  });

  test('the theme follows the widget’s: auto by default, and a change renders it again', async () => {
    fake.api.sitekey = '0xTOOLKEY';
    const element = await mountWithChallenge();
    expect(turnstile.last.options.theme).toBe('auto');
    const first = turnstile.last;
    element.theme = 'light';
    await vi.waitFor(() => expect(turnstile.rendered.length).toBe(2));
    expect(turnstile.last.options.theme).toBe('light');
    expect(turnstile.removed).toEqual([first.id]);
    expect(first.container.isConnected).toBe(false);
    expect(element.querySelectorAll('[slot="turnstile"]').length).toBe(1);
  });

  test('the turnstile-sitekey attribute wins over the published key, and works without one', async () => {
    fake.api.sitekey = '0xTOOLKEY';
    const element = await mountWithChallenge({ 'turnstile-sitekey': '0xPAGEKEY' });
    expect(turnstile.last.options.sitekey).toBe('0xPAGEKEY');
    await settle(element);
    expect(turnstile.rendered.length).toBe(1);
    element.remove();

    fake.api.sitekey = undefined;
    await mountWithChallenge({ 'turnstile-sitekey': '0xPAGEKEY' });
    expect(turnstile.last.options.sitekey).toBe('0xPAGEKEY');
  });

  test('taken out of the page, the challenge is removed; put back, it renders again', async () => {
    fake.api.sitekey = '0xTOOLKEY';
    const element = await mountWithChallenge();
    const first = turnstile.last;
    element.remove();
    expect(turnstile.removed).toEqual([first.id]);
    expect(element.querySelector('[slot="turnstile"]')).toBeNull();
    document.body.append(element);
    await vi.waitFor(() => expect(turnstile.rendered.length).toBe(2));
    expect(element.querySelectorAll('[slot="turnstile"]').length).toBe(1);
  });

  test('a challenge that cannot render says so', async () => {
    fake.api.sitekey = '0xTOOLKEY';
    turnstile.failRender = new Error('Invalid sitekey');
    const recorder = recordEvents();
    try {
      const element = await mount();
      await vi.waitFor(() => expect(part(element, 'error')?.textContent).toContain('The bot check could not load'));
      expect(recorder.events.map((event) => event.detail.message)).toContain(
        'The bot check could not load. Reload the page to try again.',
      );
      expect(submitButton(element).disabled).toBe(true);
    } finally {
      recorder.stop();
    }
  });
});

describe('generating with the bot check', () => {
  test('Generate waits for a token, with a hint', async () => {
    fake.api.sitekey = '0xTOOLKEY';
    const element = await mountWithChallenge({ prompt: 'a lion' });
    const button = submitButton(element);
    expect(button.disabled).toBe(true);
    const hint = $(element, '#ts-msg')!;
    expect(hint.textContent).toBe('Complete the check above to generate');
    expect(part(element, 'turnstile')?.contains(hint)).toBe(true);
    expect(button.getAttribute('aria-describedby')).toBe('ts-msg');
    // Enter in the prompt does not get around it.
    const prompt = part<HTMLTextAreaElement>(element, 'prompt')!;
    prompt.focus();
    await userEvent.keyboard('{Enter}');
    await settle(element);
    expect(fake.api.runs()).toEqual([]);
    await solve(element, 'token-1');
    expect(button.disabled).toBe(false);
    expect($(element, '#ts-msg')).toBeNull();
    expect(button.hasAttribute('aria-describedby')).toBe(false);
    // An expired token is no token.
    turnstile.expire();
    await element.updateComplete;
    expect(button.disabled).toBe(true);
  });

  test('the Run carries the token in cf-turnstile-response; the challenge resets after it', async () => {
    fake.api.sitekey = '0xTOOLKEY';
    const element = await mountWithChallenge({ prompt: 'a lion' });
    await solve(element, 'token-1');
    const token = await generate(element, fake.api);
    const run = fake.api.runs()[0]!;
    expect(run.headers.get('cf-turnstile-response')).toBe('token-1');
    expect(run.body).not.toHaveProperty('cf-turnstile-response');
    // No "complete the check" while the task runs.
    expect($(element, '#ts-msg')).toBeNull();
    await vi.waitFor(() => expect(turnstile.resets).toEqual([turnstile.last.id]));
    // Single use: the next Run needs the next token.
    fake.api.finish(token);
    await settle(element);
    expect(submitButton(element).disabled).toBe(true);
    expect($(element, '#ts-msg')?.textContent).toBe('Complete the check above to generate');
    expect(localStorage.getItem(`wiro-flux:history:${ENDPOINT}`)).not.toContain('token-1');
    await solve(element, 'token-2');
    await generate(element, fake.api);
    expect(fake.api.runs()[1]?.headers.get('cf-turnstile-response')).toBe('token-2');
    await vi.waitFor(() => expect(turnstile.resets.length).toBe(2));
  });

  test('a refused Run resets the challenge too', async () => {
    fake.api.sitekey = '0xTOOLKEY';
    const element = await mountWithChallenge({ prompt: 'a lion' });
    fake.api.runReply = {
      status: 402,
      body: { result: false, errors: [{ code: 97, message: 'Insufficient balance' }] },
    };
    await solve(element, 'token-1');
    submitButton(element).click();
    await vi.waitFor(() => expect(part(element, 'error')?.textContent).toContain('Insufficient balance'));
    expect(turnstile.resets).toEqual([turnstile.last.id]);
    // Retry waits for the next token as well.
    part(element, 'error')?.querySelector('button')?.click();
    await settle(element);
    expect(fake.api.runs().length).toBe(1);
    await solve(element, 'token-2');
    part(element, 'error')?.querySelector('button')?.click();
    await vi.waitFor(() => expect(fake.api.runs().length).toBe(2));
    expect(fake.api.runs()[1]?.headers.get('cf-turnstile-response')).toBe('token-2');
  });

  test('a 403 from the bot check shows next to the challenge, which resets', async () => {
    fake.api.sitekey = '0xTOOLKEY';
    const element = await mountWithChallenge({ prompt: 'a lion' });
    const message = 'The bot check failed (timeout-or-duplicate): please try it again';
    fake.api.runReply = {
      status: 403,
      body: { result: false, errors: [{ code: 0, field: 'cf-turnstile-response', message }] },
    };
    const recorder = recordEvents();
    await solve(element, 'token-1');
    submitButton(element).click();
    await vi.waitFor(() => expect($(element, '#ts-msg')?.textContent).toBe(message));
    recorder.stop();
    const shown = $(element, '#ts-msg')!;
    expect(shown.classList.contains('invalid-msg')).toBe(true);
    expect(part(element, 'turnstile')?.contains(shown)).toBe(true);
    expect(part(element, 'error')?.textContent).toContain('Please fix the highlighted fields.');
    expect(part(element, 'error')?.querySelector('button')).toBeNull();
    expect(recorder.events.at(-1)?.detail.message).toBe(message);
    expect(turnstile.resets).toEqual([turnstile.last.id]);
    // A new token enables Generate; the message stays until the next submit.
    await solve(element, 'token-2');
    expect(submitButton(element).disabled).toBe(false);
    expect($(element, '#ts-msg')?.textContent).toBe(message);
    await generate(element, fake.api);
    expect(part(element, 'turnstile')?.textContent).not.toContain(message);
  });
});

describe('without a site key', () => {
  test('no script, no challenge, and Generate works as before', async () => {
    turnstile.uninstall();
    const element = await mount({ prompt: 'a lion' });
    await settle(element);
    expect(cloudflareScripts().length).toBe(0);
    expect(turnstile.rendered).toEqual([]);
    expect(part(element, 'turnstile')).toBeNull();
    expect(element.children.length).toBe(0);
    expect($(element, 'slot')).toBeNull();
    const button = submitButton(element);
    expect(button.disabled).toBe(false);
    expect(button.hasAttribute('aria-describedby')).toBe(false);
    await generate(element, fake.api);
    expect(fake.api.runs()[0]?.headers.has('cf-turnstile-response')).toBe(false);
  });

  test('a 403 naming the bot check is shown as a plain message', async () => {
    const element = await mount({ prompt: 'a lion' });
    fake.api.runReply = {
      status: 403,
      body: {
        result: false,
        errors: [
          { code: 0, field: 'cf-turnstile-response', message: 'Please complete the bot check (Turnstile) first' },
        ],
      },
    };
    submitButton(element).click();
    await vi.waitFor(() =>
      expect(part(element, 'error')?.textContent).toContain('Please complete the bot check (Turnstile) first'),
    );
  });
});

describe('loading Cloudflare’s script', () => {
  test('added once to the page for several widgets; the challenges render once it has loaded', async () => {
    turnstile.uninstall();
    fake.api.sitekey = '0xTOOLKEY';
    // Keep the script out of the page (there is no network), but see what the widget adds.
    const added: HTMLScriptElement[] = [];
    const append = document.head.append.bind(document.head);
    const spy = vi.spyOn(document.head, 'append').mockImplementation((...nodes) => {
      for (const node of nodes) {
        if (node instanceof HTMLScriptElement && node.src.includes('challenges.cloudflare.com')) added.push(node);
        else append(node);
      }
    });
    try {
      const first = await mount();
      const second = await mount();
      await settle(first);
      await settle(second);
      expect(added.map((script) => script.src)).toEqual([SCRIPT]);
      expect(submitButton(first).disabled).toBe(true);
      turnstile.install();
      added[0]?.dispatchEvent(new Event('load'));
      await vi.waitFor(() => expect(turnstile.rendered.length).toBe(2));
      expect(turnstile.rendered.map((item) => item.container.parentElement)).toEqual([first, second]);
      expect(added.length).toBe(1);
    } finally {
      spy.mockRestore();
    }
  });
});
