/** Mounting `<wiro-flux>` against the fake API, and finding things in its shadow root. */
import { afterEach, beforeEach, expect, vi } from 'vitest';
import '../../widget/src/index';
import type WiroFlux from '../../widget/src/wiro-flux.component';
import { ENDPOINT, FakeApi } from './fake-api';

export { ENDPOINT, FakeApi };

/** One fake API per test, installed before and removed after; localStorage starts empty. */
export function useFakeApi(): { api: FakeApi } {
  const holder = { api: new FakeApi() };
  beforeEach(() => {
    localStorage.clear();
    holder.api = new FakeApi().install();
  });
  afterEach(() => {
    for (const element of document.querySelectorAll('wiro-flux')) element.remove();
    holder.api.uninstall();
    localStorage.clear();
  });
  return holder;
}

/** Adds a widget to the page and waits until its form is built. */
export async function mount(attributes: Record<string, string> = {}): Promise<WiroFlux> {
  const element = document.createElement('wiro-flux');
  element.setAttribute('endpoint', ENDPOINT);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  document.body.append(element);
  await vi.waitFor(() => expect(part(element, 'prompt')).toBeTruthy());
  await element.updateComplete;
  return element;
}

export function $<T extends Element = HTMLElement>(element: WiroFlux, selector: string): T | null {
  return element.shadowRoot?.querySelector<T>(selector) ?? null;
}

export function $$<T extends Element = HTMLElement>(element: WiroFlux, selector: string): T[] {
  return [...(element.shadowRoot?.querySelectorAll<T>(selector) ?? [])];
}

export function part<T extends Element = HTMLElement>(element: WiroFlux, name: string): T | null {
  return $<T>(element, `[part~="${name}"]`);
}

/** Types into an input the way a user does (value, then an input event). */
export function type(input: HTMLInputElement | HTMLTextAreaElement, value: string): void {
  input.value = value;
  input.dispatchEvent(new Event('input', { bubbles: true, composed: true }));
}

/** Submits and waits for the Run the fake receives. */
export async function generate(element: WiroFlux, api: FakeApi): Promise<string> {
  const before = api.runs().length;
  part<HTMLButtonElement>(element, 'submit')?.click();
  await vi.waitFor(() => expect(api.runs().length).toBe(before + 1));
  await vi.waitFor(() => expect(element.stream.status).toBe('running'));
  await element.updateComplete;
  return api.lastToken();
}

/** Waits for the widget to have rendered what the fake just sent. */
export async function settle(element: WiroFlux): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  await element.updateComplete;
}

/** Collects the widget's events as the page sees them (on document: they bubble and cross the shadow root). */
export function recordEvents(): { events: CustomEvent[]; stop: () => void } {
  const events: CustomEvent[] = [];
  const names = ['wiro-task', 'wiro-status', 'wiro-done', 'wiro-error'] as const;
  const listener = (event: Event) => events.push(event as CustomEvent);
  for (const name of names) document.addEventListener(name, listener);
  const stop = () => {
    for (const name of names) document.removeEventListener(name, listener);
  };
  return { events, stop };
}
