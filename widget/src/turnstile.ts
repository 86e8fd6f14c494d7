/**
 * Cloudflare Turnstile, for Workers that ask for it (`GET /v1/Tool` publishes a `turnstile.sitekey`):
 * Cloudflare's script is loaded on demand, once per page however many widgets it has, and only
 * when a widget needs it. A Run then carries the challenge's token in the header
 * `cf-turnstile-response`; each token is good for one Run.
 *
 * @example
 *   const turnstile = await loadTurnstile();
 *   const id = turnstile.render(box, { sitekey, callback: (token) => ... });
 */

/** The part of Turnstile's global API the widget uses. */
export interface Turnstile {
  render(container: HTMLElement, options: Record<string, unknown>): string | undefined;
  reset(widgetId?: string): void;
  remove(widgetId?: string): void;
}

declare global {
  interface Window {
    turnstile?: Turnstile;
  }
}

/** The Run header (and the error `field`) that carries the token. */
export const TURNSTILE_FIELD = 'cf-turnstile-response';

const SRC = 'https://challenges.cloudflare.com/turnstile/v0/api.js';
let loading: Promise<void> | undefined;

/** Turnstile's API, loading Cloudflare's script first unless the page already has it. */
export async function loadTurnstile(): Promise<Turnstile> {
  // One <script> per page: this promise is shared by every widget, and a script the page added
  // itself (or another copy of widget.js did) is waited for rather than added again.
  if (!window.turnstile) {
    loading ??= new Promise((resolve) => {
      let script = document.querySelector<HTMLScriptElement>(`script[src^="${SRC}"]`);
      if (!script) {
        script = document.createElement('script');
        script.src = `${SRC}?render=explicit`;
        document.head.append(script);
      }
      script.addEventListener('load', () => resolve());
      script.addEventListener('error', () => resolve());
    });
    await loading;
  }
  if (!window.turnstile) throw new Error('Turnstile did not load');
  return window.turnstile;
}
