/**
 * The bot check (Cloudflare Turnstile), as a controller: rendered once the form is there and the
 * Worker (or the `turnstile-sitekey` attribute) asks for one, again for another site key or
 * theme (Turnstile cannot change either on a rendered challenge), and dropped when the widget
 * leaves the page. It holds the current token, which is good for one Run.
 *
 * @example
 *   turnstile = new TurnstileController(this, () => this.showError(...));
 *   turnstile.sync(formShown);          // in willUpdate
 *   const headers = turnstile.take();   // for a Run; undefined without a bot check
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { loadTurnstile, TURNSTILE_FIELD, type Turnstile } from '../turnstile';

export interface TurnstileHost extends ReactiveControllerHost, HTMLElement {
  theme: string;
  turnstileSitekey: string | undefined;
}

export class TurnstileController implements ReactiveController {
  /** The site key `GET /v1/Tool` published, if any. */
  published: string | undefined;
  /** The current token: unused yet, good for one Run. */
  token: string | undefined;
  readonly #host: TurnstileHost;
  readonly #failed: () => void;
  /** The rendered challenge: Turnstile's API, its widget id, its container, and what it was rendered for. */
  #ts: Turnstile | undefined;
  #widget: string | undefined;
  #box: HTMLElement | undefined;
  #key = '';

  constructor(host: TurnstileHost, failed: () => void) {
    this.#host = host;
    this.#failed = failed;
    host.addController(this);
  }

  /** The site key in effect: the attribute's, else the Worker's; none: no bot check. */
  get sitekey(): string | undefined {
    return this.#host.turnstileSitekey || this.published;
  }

  /** Whether a Run must wait for the bot check. */
  get waiting(): boolean {
    return !!this.sitekey && !this.token;
  }

  hostConnected(): void {
    // Back in the page: the challenge is rendered again (see sync).
    this.#host.requestUpdate();
  }

  hostDisconnected(): void {
    this.#drop();
  }

  /** Renders, re-renders or drops the challenge for what the widget shows now. */
  sync(formShown: boolean): void {
    const { sitekey } = this;
    const key = sitekey && formShown && this.#host.isConnected ? `${sitekey} ${this.#host.theme}` : '';
    if (key === this.#key) return;
    this.#drop();
    this.#key = key;
    if (sitekey && key) void this.#render(sitekey);
  }

  /** The Run's header with the token, which is used up; undefined without a bot check. */
  take(): Record<string, string> | undefined {
    const token = this.token;
    this.token = undefined;
    return token ? { [TURNSTILE_FIELD]: token } : undefined;
  }

  /** After a Run, whatever its answer: the challenge makes a new token for the next one. */
  reset(): void {
    if (this.#widget) this.#ts?.reset(this.#widget);
  }

  async #render(sitekey: string): Promise<void> {
    // Turnstile does not support containers inside a shadow root (its script works against
    // `document`; rendering into one fails, "document not found", as others have reported).
    // So the challenge goes into a child of the element, in the light DOM, which the form's
    // <slot name="turnstile"> shows above Generate.
    const box = document.createElement('div');
    box.slot = 'turnstile';
    this.#box = box;
    this.#host.append(box);
    try {
      const turnstile = await loadTurnstile();
      if (this.#box !== box) return;
      this.#ts = turnstile;
      const lost = () => this.#setToken(undefined);
      this.#widget = turnstile.render(box, {
        sitekey,
        theme: this.#host.theme,
        // Shown only when Cloudflare needs the visitor to click; most visitors never see it,
        // and after each Run the fresh token comes back without anything flashing.
        appearance: 'interaction-only',
        size: 'flexible',
        // A refusal of the previous token stays shown until the next submit.
        callback: (token: string) => this.#setToken(token),
        // Turnstile refreshes an expired token and retries after an error by itself.
        'expired-callback': lost,
        'error-callback': lost,
      });
    } catch {
      if (this.#box === box) this.#failed();
    }
  }

  #setToken(token: string | undefined): void {
    this.token = token;
    this.#host.requestUpdate();
  }

  #drop(): void {
    if (this.#widget) this.#ts?.remove(this.#widget);
    this.#box?.remove();
    this.#box = this.#widget = undefined;
    this.#key = '';
    this.token = undefined;
  }
}
