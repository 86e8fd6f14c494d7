/**
 * `<wiro-flux>`: text to image with Wiro's Flux + LoRA model, through the wiro-flux-edge Worker.
 * The form is built from what `GET /v1/Tool` publishes; a submit starts one task, whose status
 * streams in live; results land in a gallery and in this browser's history.
 *
 * @example
 *   <script type="module" src="https://YOUR-WORKER/widget.js"></script>
 *   <wiro-flux endpoint="https://YOUR-WORKER"></wiro-flux>
 *
 * @tag wiro-flux
 *
 * @event wiro-task - A Run was accepted. detail: `{ taskid, socketaccesstoken }`.
 * @event wiro-status - The task's status or progress changed. detail: `{ status, task }`.
 * @event wiro-done - The task ended: finished, failed (`task.pexit` not "0") or cancelled. detail: `{ task }`.
 * @event wiro-error - A request was refused, the service was unreachable or the task failed. detail: `{ message }`.
 *
 * @csspart form - The form.
 * @csspart prompt - The prompt textarea.
 * @csspart lora - The style (LoRA) picker.
 * @csspart turnstile - The bot check (Cloudflare Turnstile) above Generate, with its hint or error;
 *   only when the Worker asks for one. The challenge itself is a child of the element, `slot="turnstile"`.
 * @csspart submit - The Generate button.
 * @csspart cancel - The Cancel / Stop button (only while a task runs).
 * @csspart status - The live status: steps and headline (an aria-live region).
 * @csspart progress - The progress bar (none once a task was stopped or failed).
 * @csspart gallery - The results.
 * @csspart image - Each result image.
 * @csspart error - An error message.
 * @csspart notice - The demo-mode notice.
 * @csspart history - This browser's past generations.
 *
 * @cssproperty --wiro-flux-accent - Buttons, focus rings, progress. Default a violet.
 * @cssproperty --wiro-flux-accent-fg - Text on the accent colour.
 * @cssproperty --wiro-flux-bg - Background.
 * @cssproperty --wiro-flux-fg - Text colour.
 * @cssproperty --wiro-flux-muted - Secondary text.
 * @cssproperty --wiro-flux-border - Borders and tracks.
 * @cssproperty --wiro-flux-surface - The results pane and wells.
 * @cssproperty --wiro-flux-danger - Errors.
 * @cssproperty --wiro-flux-radius - Corner radius of the widget; inner corners follow.
 * @cssproperty --wiro-flux-font - Font family.
 */
import { html, LitElement, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { type Api, connect, type WiroError } from '../../client/core';
import { isTerminal, type WiroTask } from '../../shared/protocol';
import { HistoryController } from './controllers/history';
import { TaskStreamController } from './controllers/task-stream';
import { TurnstileController } from './controllers/turnstile';
import { emit } from './events';
import { FormController } from './form/controller';
import { renderForm } from './form/fields';
import type { FieldErrors, ToolDescription } from './form/model';
import type { HistoryEntry } from './history';
import { renderHistory } from './render/history';
import { renderLoading, renderOutput } from './render/output';
import { renderViewer } from './render/viewer';
import { endingOf } from './status';
import { format, resolveStrings, type Strings } from './strings';
import { TURNSTILE_FIELD } from './turnstile';
import styles from './wiro-flux.styles';

/** The origin that served this module: where the Worker (and its API) lives. */
const SCRIPT_ORIGIN = new URL(import.meta.url).origin;

/** What `GET /v1/Tool` answers, as far as the widget reads it. */
interface ToolAnswer {
  tool: ToolDescription;
  upstream?: { emulator?: boolean };
  /** Present when Runs need a Cloudflare Turnstile token: the challenge's public site key. */
  turnstile?: { sitekey?: string };
}

export default class WiroFlux extends LitElement {
  static override styles = styles;

  static override properties = {
    endpoint: {},
    // Views of the form's values (see their accessors): nothing of their own to keep in sync.
    prompt: { noAccessor: true },
    lora: { noAccessor: true },
    theme: { reflect: true },
    historyKey: { attribute: 'history-key' },
    turnstileSitekey: { attribute: 'turnstile-sitekey' },
    strings: { attribute: false },
    _toolError: { state: true },
    _emulator: { state: true },
    _message: { state: true },
    _viewing: { state: true },
    _copied: { state: true },
    _stopping: { state: true },
  };

  /** The Worker's origin. Default: the origin that served widget.js. */
  declare endpoint: string;
  /** "light", "dark" or "auto" (follows the system's prefers-color-scheme). */
  declare theme: 'light' | 'dark' | 'auto';
  /** Names this widget's history in localStorage (`wiro-flux:history:<name>`). Default: the endpoint. */
  declare historyKey: string;
  /** Words to show instead of the English defaults (any subset); see also `setStrings()`. */
  declare strings: Partial<Strings> | undefined;
  /** A Cloudflare Turnstile site key; wins over the one `GET /v1/Tool` publishes. */
  declare turnstileSitekey: string | undefined;

  // Internal state. Not `private`: the render modules (render/*.ts) read it and call the `_`
  // methods below; a page should not.
  /** @internal Why the form could not be loaded. */
  declare _toolError: string | undefined;
  declare private _emulator: boolean | undefined;
  /** @internal A request's refusal (or "fix the fields"), shown in the error part. */
  declare _message: { text: string; retry: boolean } | undefined;
  /** @internal The image in the full-size viewer: which result of which entry. */
  declare _viewing: { entry: HistoryEntry; index: number } | undefined;
  /** @internal "Seed copied" is being announced. */
  declare _copied: boolean | undefined;
  /** @internal A Cancel or Stop request is out. */
  declare _stopping: boolean | undefined;
  /** @internal The body of the latest Run, for Retry (and, after a reload mid-task, the re-attached task's). */
  _lastBody: Record<string, unknown> | undefined;

  /** The client's core (client/core.ts): the one implementation of the protocol, shared with /client.js. */
  #api: Api = connect(SCRIPT_ORIGIN);
  #toolLoad: AbortController | undefined;
  #copiedTimer: ReturnType<typeof setTimeout> | undefined;

  /** Every form value, once: the inputs write it, `prompt` and `lora` read it, the Run body is made from it. */
  readonly form = new FormController(this, (event) => {
    // Enter generates, as in a chat box; Shift+Enter is a new line (and IME composition is left alone).
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      void this.submit();
    }
  });
  readonly history = new HistoryController(this);
  readonly turnstile = new TurnstileController(this, () => this.#say(this._t.botCheckFailed, false));
  readonly stream = new TaskStreamController(this, {
    api: () => this.#api,
    onTask: (task) => {
      emit(this, 'wiro-task', { taskid: task.id, socketaccesstoken: task.socketaccesstoken });
      this.history.started(task, this._lastBody as Record<string, unknown>, this.stream.startedAt);
    },
    onStatus: (task) => {
      emit(this, 'wiro-status', { status: task.status, task });
      this.history.update(task);
    },
    onEnd: (task) => this.#onEnd(task),
    onError: (error, during) => this.#onRequestError(error, during),
  });

  constructor() {
    super();
    this.endpoint = SCRIPT_ORIGIN;
    this.theme = 'auto';
    this.historyKey = '';
  }

  /** The prompt (initially and as the user edits it), without the style's trigger words. */
  get prompt(): string {
    return this.form.get('prompt');
  }

  set prompt(value: string) {
    this.form.put('prompt', value);
  }

  /** The chosen style: a LoRA `value` from `GET /v1/Tool` (e.g. "1328"). */
  get lora(): string {
    return this.form.get('style');
  }

  set lora(value: string) {
    this.form.put('style', value);
  }

  /** @internal The words in effect for this widget. */
  get _t(): Strings {
    return resolveStrings(this.strings);
  }

  override connectedCallback(): void {
    super.connectedCallback();
    // Taken out of the page while the form was loading, and put back: load it again.
    if (this.hasUpdated && !this.form.tool) void this._loadTool();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.#toolLoad?.abort();
  }

  override willUpdate(changed: PropertyValues): void {
    if (changed.has('endpoint') || changed.has('historyKey')) this.#useEndpoint();
    this.turnstile.sync(!!this.form.tool);
    this.form.t = this._t;
  }

  // ---- data ------------------------------------------------------------------------------------

  #useEndpoint(): void {
    this.#api = connect(this.endpoint || SCRIPT_ORIGIN);
    this.history.use(this.historyKey || this.#api.endpoint);
    void this._loadTool();
    // A task that was still running when the page went away: follow it again.
    const latest = this.history.entries[0];
    if (latest && !isTerminal(latest.status) && this.stream.token !== latest.token) {
      this._lastBody = latest.inputs;
      const task: WiroTask = { id: latest.taskid, socketaccesstoken: latest.token, status: latest.status, outputs: [] };
      this.stream.attach(task, latest.createdAt);
    }
  }

  /** @internal Loads the form from `GET /v1/Tool`. */
  async _loadTool(): Promise<void> {
    this.#toolLoad?.abort();
    const abort = new AbortController();
    this.#toolLoad = abort;
    this._toolError = undefined;
    try {
      const answer = await this.#api.tool<ToolAnswer>(abort);
      if (abort.signal.aborted) return;
      this._emulator = !!answer.upstream?.emulator;
      this.turnstile.published = answer.turnstile?.sitekey;
      this.form.load(answer.tool);
      // A task before the form is built was re-attached after a reload: the form shows what
      // that task was sent, not the defaults.
      if (this.stream.task && this._lastBody) this.form.use(this._lastBody, false);
    } catch (error) {
      if (abort.signal.aborted) return;
      const t = this._t;
      // The Worker's 403 for a page it does not serve is readable: say what the owner must do.
      const refused = (error as WiroError).status === 403 && /ALLOWED_ORIGINS/.test((error as Error).message);
      this._toolError = refused ? format(t.originRefused, { origin: location.origin }) : t.loadFailed;
      emit(this, 'wiro-error', {
        message: refused ? this._toolError : `${t.loadFailed} ${(error as Error).message}`.trim(),
      });
    }
  }

  /** Shows a message in the error part (with Retry when there is a Run to send again) and tells the page. */
  #say(text: string, retry: boolean, message = text): void {
    this._message = { text, retry };
    emit(this, 'wiro-error', { message });
  }

  // ---- actions ---------------------------------------------------------------------------------

  /** Validates the form and starts a task; does nothing while one is being started or runs. */
  async submit(): Promise<void> {
    if (!this.form.tool || this.stream.active) return;
    const body = this.form.body();
    if (body) return this.#start(body);
    this._message = { text: this._t.fixFields, retry: false };
    await this.#focus('[aria-invalid="true"]');
  }

  #start(body: Record<string, unknown>): void {
    // No token yet: Generate is disabled with a hint until the bot check gives one.
    if (this.turnstile.waiting) return;
    const headers = this.turnstile.take();
    this._message = undefined;
    this.history.shownId = undefined;
    this._lastBody = body;
    const running = this.stream.run(body, headers);
    void this.#focus('.status');
    // Tokens are single use: whatever the answer, the challenge makes a new one for the next Run.
    void running.then(() => this.turnstile.reset());
  }

  /** @internal Sends the last Run again. */
  _retry(): void {
    if (this._lastBody && !this.stream.active) this.#start(this._lastBody);
  }

  /** @internal Cancels the task while queued, stops it once running. */
  async _stop(): Promise<void> {
    this._stopping = true;
    try {
      await this.stream.stop();
    } finally {
      this._stopping = false;
    }
  }

  #onEnd(task: WiroTask): void {
    emit(this, 'wiro-done', { task });
    const ending = endingOf(task);
    if (ending === 'failed') emit(this, 'wiro-error', { message: task.debugerror || this._t.failedTitle });
    if (ending === 'done') {
      this.history.shownId = undefined;
      // Move focus to the results only if it was on the status (where submit put it), not if
      // the user went on to type elsewhere meanwhile.
      const active = this.shadowRoot?.activeElement;
      if (!active || active.closest('.output')) void this.#focus('.gallery');
    }
  }

  #onRequestError(error: WiroError, during: 'run' | 'follow' | 'stop'): void {
    const t = this._t;
    // A task from history this Worker no longer knows: forget it quietly.
    if (during === 'follow' && this.stream.task) {
      this.history.remove(this.stream.task.id);
      this.stream.reset();
      return;
    }
    const fields: FieldErrors = {};
    const names = new Set(Object.keys(this.form.values));
    // A refused bot check shows next to the challenge (when there is one to show it by).
    if (this.turnstile.sitekey) names.add(TURNSTILE_FIELD);
    for (const item of error.errors) {
      if (item.field && names.has(item.field)) fields[item.field] = this.#humanize(item.field, item.message);
    }
    let text: string;
    if (error.status === 0) text = t.networkError;
    else if (Object.keys(fields).length > 0) text = t.fixFields;
    // A WiroError's message is its first error's, else the HTTP status.
    else text = error.message;
    if (error.retryAfter) text += ` ${format(t.retryAfter, { seconds: error.retryAfter })}`;
    this.form.errors = fields;
    // Retry re-sends the Run; after a refused stop, or with fields to fix, there is nothing to retry.
    const fix = text === t.fixFields;
    this.#say(text, during === 'run' && error.status !== 400 && !fix, fix ? error.message : text);
    if (!fix) return;
    void this.#focus('[aria-invalid="true"]');
  }

  /** The Worker's messages name the field ("steps must be…"); say it with the form's label. */
  #humanize(name: string, message: string): string {
    const spec = this.form.tool?.inputs.find((field) => field.name === name);
    return spec && message.startsWith(name) ? spec.label + message.slice(name.length) : message;
  }

  /** Moves focus once the next render is done. */
  async #focus(selector: string): Promise<void> {
    await this.updateComplete;
    this.renderRoot.querySelector<HTMLElement>(selector)?.focus();
  }

  /** @internal "Use these settings again": the form gets a Run's inputs, its seed kept. */
  _use(inputs: Record<string, unknown>): void {
    this.form.use(inputs, true);
    void this.#focus('[part="prompt"]');
  }

  /** @internal */
  async _copySeed(seed: string): Promise<void> {
    try {
      await navigator.clipboard.writeText(seed);
      this._copied = true;
      clearTimeout(this.#copiedTimer);
      this.#copiedTimer = setTimeout(() => {
        this._copied = false;
      }, 2000);
    } catch {
      // No clipboard (insecure page, denied): the seed is on screen to select by hand.
    }
  }

  /** @internal Opens the full-size viewer on one result. */
  async _view(entry: HistoryEntry, index: number): Promise<void> {
    this._viewing = { entry, index };
    await this.updateComplete;
    const dialog = this.renderRoot.querySelector('dialog');
    if (dialog && !dialog.open) dialog.showModal();
  }

  /** @internal The viewer's previous (-1) or next (1) image, round the ends. */
  _step(by: number): void {
    const viewing = this._viewing;
    const count = viewing?.entry.outputs.length ?? 0;
    if (viewing && count > 1) this._viewing = { ...viewing, index: (viewing.index + by + count) % count };
  }

  /** @internal Shows a history entry in the gallery (the current task's: back to following it). */
  _show(entry: HistoryEntry): void {
    if (entry.taskid === this.stream.task?.id) this.history.shownId = undefined;
    else {
      if (!this.stream.active) this.stream.reset();
      this.history.shownId = entry.taskid;
      this._message = undefined;
    }
    this.requestUpdate();
  }

  // ---- rendering -------------------------------------------------------------------------------

  override render(): TemplateResult {
    const t = this._t;
    const { tool } = this.form;
    return html`<div class="base">
      ${this._emulator ? html`<p class="notice" part="notice">${t.demoMode}</p>` : nothing}
      <div class="layout">
        ${tool ? renderForm(this, tool) : renderLoading(this)}
        <section class="output" aria-label=${t.results}>${renderOutput(this)}</section>
      </div>
      ${renderHistory(this)} ${renderViewer(this)}
    </div>`;
  }
}
