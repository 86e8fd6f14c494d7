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
import type { FieldRole, FieldSpec } from '../../shared/tool';
import { TaskStreamController } from './controllers/task-stream';
import { emit } from './events';
import { type FormView, renderField, renderSizes } from './form/fields';
import {
  type FieldErrors,
  type Given,
  hasSizes,
  initialValues,
  inputOf,
  missingTriggerWords,
  presetOf,
  randomSeed,
  roleField,
  runBody,
  selectedLora,
  splitPrompt,
  type ToolDescription,
  type Values,
  validate,
  valuesFromInputs,
} from './form/model';
import { type HistoryEntry, HistoryStore } from './history';
import { downloadIcon, imageIcon } from './icons';
import { clock, endingOf, percentOf, STAGES, stageOf, stopKind, unknownLabel } from './status';
import { format, resolveStrings, type Strings } from './strings';
import { loadTurnstile, TURNSTILE_FIELD, type Turnstile } from './turnstile';
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
    _sitekey: { state: true },
    _token: { state: true },
    _tool: { state: true },
    _toolError: { state: true },
    _emulator: { state: true },
    _values: { state: true },
    _chips: { state: true },
    _errors: { state: true },
    _message: { state: true },
    _seedLocked: { state: true },
    _customSize: { state: true },
    _history: { state: true },
    _shownId: { state: true },
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

  /** The Turnstile site key `GET /v1/Tool` published, if any. */
  declare private _sitekey: string | undefined;
  /** The current Turnstile token: unused yet, good for one Run. */
  declare private _token: string | undefined;

  declare private _tool: ToolDescription | undefined;
  declare private _toolError: string | undefined;
  declare private _emulator: boolean;
  declare private _values: Values;
  declare private _chips: string[];
  declare private _errors: FieldErrors;
  /** A request's refusal (or "fix the fields"), shown in the error part. */
  declare private _message: { text: string; retry: boolean } | undefined;
  declare private _seedLocked: boolean;
  declare private _customSize: boolean;
  declare private _history: HistoryEntry[];
  /** The history entry shown in the gallery; default: the current task's. */
  declare private _shownId: string | undefined;
  /** The image in the full-size viewer: which result of which entry. */
  declare private _viewing: { entry: HistoryEntry; index: number } | undefined;
  declare private _copied: boolean;
  declare private _stopping: boolean;

  /** The client's core (client/core.ts): the one implementation of the protocol, shared with /client.js. */
  #api: Api = connect(SCRIPT_ORIGIN);
  #store = new HistoryStore(SCRIPT_ORIGIN);
  #toolLoad: AbortController | undefined;
  /** What the page set as `prompt` and `lora` before the form was built, by role. */
  #given: Given = {};
  /** The body of the latest Run, for Retry (and, after a reload mid-task, the re-attached task's). */
  #lastBody: Record<string, unknown> | undefined;
  #copiedTimer: ReturnType<typeof setTimeout> | undefined;
  /** The rendered challenge: Turnstile's API, its widget id, its container, and what it was rendered for. */
  #ts: Turnstile | undefined;
  #widget: string | undefined;
  #box: HTMLElement | undefined;
  #tsKey = '';

  readonly stream = new TaskStreamController(this, {
    api: () => this.#api,
    onTask: (task) => this.#onTask(task),
    onStatus: (task) => this.#onStatus(task),
    onEnd: (task) => this.#onEnd(task),
    onError: (error, during) => this.#onRequestError(error, during),
  });

  constructor() {
    super();
    this.endpoint = SCRIPT_ORIGIN;
    this.theme = 'auto';
    this.historyKey = '';
    this._emulator = false;
    this._values = {};
    this._chips = [];
    this._errors = {};
    this._seedLocked = false;
    this._customSize = false;
    this._history = [];
    this._copied = false;
    this._stopping = false;
  }

  /** The words in effect for this widget. */
  get #t(): Strings {
    return resolveStrings(this.strings);
  }

  override connectedCallback(): void {
    super.connectedCallback();
    // Taken out of the page while the form was loading, and put back: load it again.
    if (this.hasUpdated && !this._tool) void this.#loadTool();
    // Back in the page: the bot check is rendered again (see willUpdate).
    this.requestUpdate();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.#toolLoad?.abort();
    this.#dropChallenge();
  }

  override willUpdate(changed: PropertyValues): void {
    if (changed.has('endpoint') || changed.has('historyKey')) this.#useEndpoint();
    // The bot check, rendered once the form is there, and again for another site key or theme
    // (Turnstile cannot change either on a rendered challenge).
    const sitekey = this.#sitekey;
    const key = sitekey && this._tool && this.isConnected ? `${sitekey} ${this.theme}` : '';
    if (key !== this.#tsKey) {
      this.#dropChallenge();
      this.#tsKey = key;
      if (sitekey && key) void this.#renderChallenge(sitekey);
    }
  }

  /**
   * The prompt (initially and as the user edits it), without the style's trigger words. One
   * value: the form's, read and written through (before the form is built, what the page gave).
   */
  get prompt(): string {
    return this.#value('prompt');
  }

  set prompt(value: string) {
    this.#put('prompt', value);
  }

  /** The chosen style: a LoRA `value` from `GET /v1/Tool` (e.g. "1328"); the form's value, as `prompt`. */
  get lora(): string {
    return this.#value('style');
  }

  set lora(value: string) {
    this.#put('style', value);
  }

  #value(role: FieldRole): string {
    const name = this.#field(role)?.name;
    return (name ? this._values[name] : this.#given[role]) ?? '';
  }

  #put(role: FieldRole, value: string): void {
    const name = this.#field(role)?.name;
    if (!name) this.#given = { ...this.#given, [role]: value };
    else if (this._values[name] !== value) {
      if (role === 'style') this.#chooseLora(value);
      else this.#set(name, value);
    }
  }

  // ---- data ------------------------------------------------------------------------------------

  #useEndpoint(): void {
    this.#api = connect(this.endpoint || SCRIPT_ORIGIN);
    this.#store = new HistoryStore(this.historyKey || this.#api.endpoint);
    this._history = this.#store.list();
    void this.#loadTool();
    // A task that was still running when the page went away: follow it again.
    const latest = this._history[0];
    if (latest && !isTerminal(latest.status) && this.stream.token !== latest.token) {
      this.#lastBody = latest.inputs;
      const task: WiroTask = { id: latest.taskid, socketaccesstoken: latest.token, status: latest.status, outputs: [] };
      this.stream.attach(task, latest.createdAt);
    }
  }

  async #loadTool(): Promise<void> {
    this.#toolLoad?.abort();
    const abort = new AbortController();
    this.#toolLoad = abort;
    this._toolError = undefined;
    try {
      const answer = await this.#api.tool<ToolAnswer>(abort);
      if (abort.signal.aborted) return;
      const tool = answer.tool;
      const values = initialValues(tool, this.#given);
      this._emulator = answer.upstream?.emulator === true;
      this._sitekey = answer.turnstile?.sitekey;
      this._values = values;
      this._customSize = hasSizes(tool) && !presetOf(tool, values);
      this._tool = tool;
      this._chips = missingTriggerWords(selectedLora(tool, values), this.prompt);
      // A task before the form is built was re-attached after a reload: the form shows what
      // that task was sent, not the defaults.
      if (this.stream.task && this.#lastBody) this.#useSettings(this.#lastBody, false);
    } catch (error) {
      if (abort.signal.aborted) return;
      // The Worker's 403 for a page it does not serve is readable: say what the owner must do.
      const refused = (error as WiroError).status === 403 && /ALLOWED_ORIGINS/.test((error as Error).message);
      this._toolError = refused ? format(this.#t.originRefused, { origin: location.origin }) : this.#t.loadFailed;
      emit(this, 'wiro-error', {
        message: refused ? this._toolError : `${this.#t.loadFailed} ${(error as Error).message}`.trim(),
      });
    }
  }

  /** The input that plays a role: the prompt, the style, the seed, the size, the count. */
  #field(role: FieldRole): FieldSpec | undefined {
    return this._tool && roleField(this._tool, role);
  }

  #set(name: string, value: string): void {
    this._values = { ...this._values, [name]: value };
    if (this._errors[name]) {
      const { [name]: _fixed, ...rest } = this._errors;
      this._errors = rest;
    }
  }

  // ---- bot check (Cloudflare Turnstile) --------------------------------------------------------

  /** The Turnstile site key in effect: the attribute's, else the Worker's; none: no bot check. */
  get #sitekey(): string | undefined {
    return this.turnstileSitekey || this._sitekey;
  }

  /** Whether a Run must wait for the bot check. */
  get #waiting(): boolean {
    return !!this.#sitekey && !this._token;
  }

  async #renderChallenge(sitekey: string): Promise<void> {
    // Turnstile does not support containers inside a shadow root (its script works against
    // `document`; rendering into one fails, "document not found", as others have reported).
    // So the challenge goes into a child of this element, in the light DOM, which the form's
    // <slot name="turnstile"> shows above Generate.
    const box = document.createElement('div');
    box.slot = 'turnstile';
    this.#box = box;
    this.append(box);
    try {
      const turnstile = await loadTurnstile();
      if (this.#box !== box) return;
      this.#ts = turnstile;
      const lost = () => {
        this._token = undefined;
      };
      this.#widget = turnstile.render(box, {
        sitekey,
        theme: this.theme,
        // Shown only when Cloudflare needs the visitor to click; most visitors never see it,
        // and after each Run the fresh token comes back without anything flashing.
        appearance: 'interaction-only',
        size: 'flexible',
        // A refusal of the previous token stays shown until the next submit.
        callback: (token: string) => {
          this._token = token;
        },
        // Turnstile refreshes an expired token and retries after an error by itself.
        'expired-callback': lost,
        'error-callback': lost,
      });
    } catch {
      if (this.#box !== box) return;
      this._message = { text: this.#t.botCheckFailed, retry: false };
      emit(this, 'wiro-error', { message: this.#t.botCheckFailed });
    }
  }

  #dropChallenge(): void {
    if (this.#widget) this.#ts?.remove(this.#widget);
    this.#box?.remove();
    this.#box = this.#widget = undefined;
    this.#tsKey = '';
    this._token = undefined;
  }

  #chooseLora(value: string): void {
    const tool = this._tool;
    const field = this.#field('style');
    if (!tool || !field) return;
    this.#set(field.name, value);
    this._chips = missingTriggerWords(selectedLora(tool, this._values), this.prompt);
  }

  // ---- actions ---------------------------------------------------------------------------------

  /** Validates the form and starts a task; does nothing while one is being started or runs. */
  async submit(): Promise<void> {
    const tool = this._tool;
    if (!tool || this.stream.active) return;
    const seed = this.#field('seed');
    // A new random seed is kept only by a submit that goes: a refused one leaves the field as it was.
    const values = seed && !this._seedLocked ? { ...this._values, [seed.name]: randomSeed(seed) } : this._values;
    const errors = validate(tool, values, this.#t, this._chips);
    this._errors = errors;
    if (Object.keys(errors).length > 0) {
      this._message = { text: this.#t.fixFields, retry: false };
      await this.#focus('[aria-invalid="true"]');
      return;
    }
    this._values = values;
    this.#start(runBody(tool, values, this._chips));
  }

  #start(body: Record<string, unknown>): void {
    // No token yet: Generate is disabled with a hint until the bot check gives one.
    if (this.#waiting) return;
    const token = this._token;
    this._token = undefined;
    this._message = undefined;
    this._shownId = undefined;
    this.#lastBody = body;
    const running = this.stream.run(body, token ? { [TURNSTILE_FIELD]: token } : undefined);
    void this.#focus('.status');
    // Tokens are single use: whatever the answer, the challenge makes a new one for the next Run.
    void running.then(() => this.#widget && this.#ts?.reset(this.#widget));
  }

  #retry(): void {
    if (this.#lastBody && !this.stream.active) this.#start(this.#lastBody);
  }

  async #stop(): Promise<void> {
    this._stopping = true;
    try {
      await this.stream.stop();
    } finally {
      this._stopping = false;
    }
  }

  #onTask(task: WiroTask): void {
    emit(this, 'wiro-task', { taskid: task.id, socketaccesstoken: task.socketaccesstoken });
    this._history = this.#store.put({
      taskid: task.id,
      token: task.socketaccesstoken,
      status: task.status,
      inputs: this.#lastBody ?? {},
      outputs: [],
      createdAt: this.stream.startedAt,
    });
  }

  #onStatus(task: WiroTask): void {
    emit(this, 'wiro-status', { status: task.status, task });
    const entry = this._history.find((item) => item.taskid === task.id);
    if (entry && entry.status !== task.status) {
      const { status, pexit, debugerror, outputs } = task;
      // Stored as JSON, which leaves out the ones that are undefined (all but status, until it ends).
      this._history = this.#store.put({
        ...entry,
        status,
        pexit,
        debugerror,
        outputs: outputs.map(({ name, url }) => ({ name, url })),
      });
    }
  }

  /** After `#onStatus`, which has stored how it ended. */
  #onEnd(task: WiroTask): void {
    emit(this, 'wiro-done', { task });
    const ending = endingOf(task);
    if (ending === 'failed') emit(this, 'wiro-error', { message: task.debugerror || this.#t.failedTitle });
    if (ending === 'done') {
      this._shownId = undefined;
      // Move focus to the results only if it was on the status (where submit put it), not if
      // the user went on to type elsewhere meanwhile.
      const active = this.shadowRoot?.activeElement;
      if (!active || active.closest('.output')) {
        void this.#focus('.gallery');
      }
    }
  }

  #onRequestError(error: WiroError, during: 'run' | 'follow' | 'stop'): void {
    const t = this.#t;
    // A task from history this Worker no longer knows: forget it quietly.
    if (during === 'follow' && this.stream.task) {
      this._history = this.#store.remove(this.stream.task.id);
      this.stream.reset();
      return;
    }
    const fields: FieldErrors = {};
    const names = new Set(Object.keys(this._values));
    // A refused bot check shows next to the challenge (when there is one to show it by).
    if (this.#sitekey) names.add(TURNSTILE_FIELD);
    for (const item of error.errors) {
      if (item.field && names.has(item.field)) fields[item.field] = this.#humanize(item.field, item.message);
    }
    let text: string;
    if (error.status === 0) text = t.networkError;
    else if (Object.keys(fields).length > 0) text = t.fixFields;
    else text = error.errors[0]?.message ?? `HTTP ${error.status}`;
    if (error.retryAfter) text += ` ${format(t.retryAfter, { seconds: error.retryAfter })}`;
    this._errors = fields;
    // Retry re-sends the Run; after a refused stop, or with fields to fix, there is nothing to retry.
    this._message = { text, retry: during === 'run' && error.status !== 400 && text !== t.fixFields };
    emit(this, 'wiro-error', { message: text === t.fixFields ? (error.errors[0]?.message ?? text) : text });
    if (Object.keys(fields).length > 0) void this.#focus('[aria-invalid="true"]');
  }

  /** The Worker's messages name the field ("steps must be…"); say it with the form's label. */
  #humanize(name: string, message: string): string {
    const spec = this._tool?.inputs.find((field) => field.name === name);
    return spec && message.startsWith(name) ? spec.label + message.slice(name.length) : message;
  }

  /** Moves focus once the next render is done. */
  async #focus(selector: string): Promise<void> {
    await this.updateComplete;
    this.renderRoot.querySelector<HTMLElement>(selector)?.focus();
  }

  /** Fills the form from a Run's inputs; `again` (the button) also keeps its seed and focuses the prompt. */
  #useSettings(inputs: Record<string, unknown>, again = true): void {
    const tool = this._tool;
    if (!tool) return;
    const values = valuesFromInputs(tool, inputs);
    // The Run sent the trigger words inside the prompt: they come back as the chips they were.
    const name = this.#field('prompt')?.name ?? '';
    const { prompt, chips } = splitPrompt(selectedLora(tool, values), values[name] ?? '');
    values[name] = prompt;
    this._values = values;
    this._errors = {};
    this._chips = chips;
    this._seedLocked = again;
    this._customSize = hasSizes(tool) && !presetOf(tool, values);
    if (again) void this.#focus('[part="prompt"]');
  }

  async #copySeed(seed: string): Promise<void> {
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

  async #download(url: string, name: string): Promise<void> {
    // `download` only works same-origin; the images usually live elsewhere, so fetch them first.
    try {
      const response = await fetch(url);
      if (!response.ok) throw new Error(String(response.status));
      const href = URL.createObjectURL(await response.blob());
      const link = document.createElement('a');
      link.href = href;
      link.download = name;
      link.click();
      setTimeout(() => URL.revokeObjectURL(href), 30_000);
    } catch {
      window.open(url, '_blank', 'noopener');
    }
  }

  async #view(entry: HistoryEntry, index: number): Promise<void> {
    this._viewing = { entry, index };
    await this.updateComplete;
    const dialog = this.renderRoot.querySelector('dialog');
    if (dialog && !dialog.open) dialog.showModal();
  }

  /** The viewer's previous (-1) or next (1) image, round the ends. */
  #step(by: number): void {
    const viewing = this._viewing;
    const count = viewing?.entry.outputs.length ?? 0;
    if (viewing && count > 1) this._viewing = { ...viewing, index: (viewing.index + by + count) % count };
  }

  /** One result's URL, its alt text ("Image 2 of 4: the prompt") and its download file name. */
  #image(entry: HistoryEntry, index: number): { url: string; alt: string; name: string; label: string } {
    const label = format(this.#t.image, { n: index + 1, count: entry.outputs.length });
    return {
      url: entry.outputs[index]?.url ?? '',
      alt: `${label}: ${inputOf(this._tool, entry.inputs, 'prompt') ?? ''}`,
      name: `wiro-${entry.taskid}-${index + 1}.png`,
      label,
    };
  }

  #show(entry: HistoryEntry): void {
    if (entry.taskid === this.stream.task?.id) this._shownId = undefined;
    else {
      if (!this.stream.active) this.stream.reset();
      this._shownId = entry.taskid;
      this._message = undefined;
    }
  }

  #clearHistory(): void {
    this.#store.clear();
    this._history = [];
    this._shownId = undefined;
  }

  #onSubmit(event: SubmitEvent): void {
    event.preventDefault();
    void this.submit();
  }

  #onKeydown(event: KeyboardEvent): void {
    // Enter generates, as in a chat box; Shift+Enter is a new line (and IME composition is left alone).
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      void this.submit();
    }
  }

  // ---- rendering -------------------------------------------------------------------------------

  override render(): TemplateResult {
    const t = this.#t;
    return html`<div class="base">
      ${this._emulator ? html`<p class="notice" part="notice">${t.demoMode}</p>` : nothing}
      <div class="layout">
        ${this._tool ? this.#renderForm(this._tool) : this.#renderLoading()}
        <section class="output" aria-label=${t.results}>${this.#renderOutput()}</section>
      </div>
      ${this.#renderHistory()} ${this.#renderViewer()}
    </div>`;
  }

  #renderLoading(): TemplateResult {
    const t = this.#t;
    return html`<form part="form" class="main loading" aria-busy=${!this._toolError}>
      ${
        this._toolError
          ? this.#alert(html`<p>${this._toolError}</p>`, t.reload, () => this.#loadTool())
          : html`<p>${t.loading}</p>`
      }
    </form>`;
  }

  /** An error part: what went wrong, and a button to try again when there is something to try. */
  #alert(body: TemplateResult, label: string, action: (() => void) | undefined): TemplateResult {
    return html`<div class="error" part="error" role="alert">
      ${body}
      ${action ? html`<div class="actions"><button class="btn" type="button" @click=${action}>${label}</button></div>` : nothing}
    </div>`;
  }

  #formView(tool: ToolDescription): FormView {
    return {
      t: this.#t,
      values: this._values,
      errors: this._errors,
      chips: this._chips,
      seedLocked: this._seedLocked,
      preset: this._customSize ? undefined : presetOf(tool, this._values),
      set: (name, value) => this.#set(name, value),
      chooseLora: (value) => this.#chooseLora(value),
      removeChip: (chip) => {
        this._chips = this._chips.filter((item) => item !== chip);
      },
      toggleSeedLock: () => {
        this._seedLocked = !this._seedLocked;
      },
      chooseSize: (size) => {
        this._customSize = !size;
        if (size) {
          this.#set(this.#field('width')?.name ?? '', String(size.width));
          this.#set(this.#field('height')?.name ?? '', String(size.height));
        }
      },
      promptKeydown: (event) => this.#onKeydown(event),
      tryExample: () => {
        this.#set(this.#field('prompt')?.name ?? '', this.#t.example);
        // Choosing the style again brings back its trigger words as chips.
        this.#chooseLora(this.lora);
      },
    };
  }

  #renderForm(tool: ToolDescription): TemplateResult {
    const t = this.#t;
    const sized = hasSizes(tool);
    const main: TemplateResult[] = [];
    const settings: TemplateResult[] = [];
    const advanced: TemplateResult[] = [];
    const view = this.#formView(tool);
    for (const field of tool.inputs) {
      if (sized && (field.role === 'width' || field.role === 'height')) continue;
      const rendered = renderField(view, tool, field);
      if (field.advanced) advanced.push(rendered);
      else if (field.role === 'prompt' || field.role === 'style') main.push(rendered);
      else settings.push(rendered);
    }
    const busy = this.stream.active;
    const waiting = this.#waiting;
    const botError = this._errors[TURNSTILE_FIELD];
    // The hint, or the Worker's refusal of the last token; none while a task starts or runs.
    const botMessage = botError || (waiting && !busy && t.botCheck);
    return html`<form class="main" part="form" novalidate @submit=${this.#onSubmit}>
      ${main} ${sized ? renderSizes(view, tool) : nothing}
      <div class="grid">${settings}</div>
      ${advanced.length > 0 ? html`<details><summary>${t.advanced}</summary>${advanced}</details>` : nothing}
      ${
        this.#sitekey
          ? html`<div class="field" part="turnstile">
            <slot name="turnstile"></slot>
            ${botMessage ? html`<p class=${botError ? 'invalid-msg' : 'hint'} id="ts-msg">${botMessage}</p>` : nothing}
          </div>`
          : nothing
      }
      <button class="btn primary" part="submit" type="submit" ?disabled=${busy || waiting}
        aria-describedby=${botMessage ? 'ts-msg' : nothing}>
        ${busy ? (this.stream.status === 'starting' ? t.sending : t.generating) : t.generate}
      </button>
    </form>`;
  }

  #renderOutput(): TemplateResult {
    const t = this.#t;
    const { status, task } = this.stream;
    const shown = this.#shownEntry();
    const showStatus = status !== 'idle' && status !== 'error' && !(this._shownId && !this.stream.active);
    const ending = task && status === 'ended' ? endingOf(task) : undefined;
    const empty = !showStatus && !shown && !this._message;
    return html`${showStatus ? this.#renderStatus() : nothing}
    ${
      ending === 'failed' && !this._shownId
        ? this.#alert(
            html`<p><strong>${t.failedTitle}</strong></p><pre>${task?.debugerror || t.failedTitle}</pre>`,
            t.retry,
            this.#retry,
          )
        : nothing
    }
    ${
      this._message
        ? this.#alert(html`<p>${this._message.text}</p>`, t.retry, this._message.retry ? this.#retry : undefined)
        : nothing
    }
    ${this.stream.active && !this._shownId ? this.#renderPlaceholders() : shown ? this.#renderGallery(shown) : nothing}
    ${ending === 'done' && task?.outputs.length === 0 && !this._shownId ? html`<p class="hint">${t.noOutputs}</p>` : nothing}
    ${empty ? html`<div class="empty">${imageIcon}<p>${t.empty}</p></div>` : nothing}`;
  }

  #shownEntry(): HistoryEntry | undefined {
    const id = this._shownId ?? (this.stream.status === 'ended' ? this.stream.task?.id : undefined);
    // One without images (failed, cancelled) still has its settings to use again.
    return id ? this._history.find((item) => item.taskid === id) : undefined;
  }

  #renderStatus(): TemplateResult {
    const t = this.#t;
    const { task, status } = this.stream;
    const ending = task && status === 'ended' ? endingOf(task) : undefined;
    const stage = status === 'starting' || !task ? undefined : this.stream.stage;
    const current = stage ? STAGES.indexOf(stage) : -1;
    // The last step says how it ended: Done, Failed or Cancelled.
    const stepLabel = (name: (typeof STAGES)[number]) => t[name === 'done' && ending ? ending : name];
    const headline =
      status === 'starting'
        ? t.sending
        : ending === 'failed'
          ? t.failedTitle
          : ending === 'cancelled'
            ? t.cancelled
            : // A status Wiro added after our table says its own name.
              ((task && unknownLabel(task.status)) ?? t[`${stage ?? 'queued'}Head`]);
    const percent = stage && task ? percentOf(task, stage) : 0;
    const progress = task?.progress;
    const details: string[] = [];
    if (progress?.stepCurrent !== undefined && progress.stepTotal && stage === 'running') {
      details.push(format(t.stepOf, { current: progress.stepCurrent, total: progress.stepTotal }));
      if (progress.remainingTime) {
        details.push(format(t.left, { time: progress.remainingTime.replace(/^0(\d:)/, '$1') }));
      }
    } else if (stage === 'running') details.push(t.waiting);
    const seconds = ending
      ? Number(task?.elapsedseconds) || (Date.now() - this.stream.startedAt) / 1000
      : (Date.now() - this.stream.startedAt) / 1000;
    const canStop = status === 'running' && task && !isTerminal(task.status);
    const stopLabel = task && stopKind(task.status) === 'Cancel' ? t.cancel : t.stop;
    return html`<div class="status" tabindex="-1" aria-labelledby="headline">
      <div part="status" role="status" aria-live="polite">
        <ol class="steps">
          ${STAGES.map(
            (name, index) =>
              html`<li class=${index < current ? 'past' : name === 'done' && ending && ending !== 'done' ? 'bad' : ''}
                aria-current=${index === current ? 'step' : nothing}>${stepLabel(name)}</li>`,
          )}
        </ol>
        <p class="headline" id="headline">${headline}</p>
      </div>
      ${
        // A stopped or failed task did not get to the end: no bar, rather than a full one.
        ending && ending !== 'done'
          ? nothing
          : html`<progress part="progress" max="100" .value=${percent} aria-label=${stage ? stepLabel(stage) : headline}
            aria-valuemin="0" aria-valuemax="100" aria-valuenow=${percent} aria-valuetext=${details[0] ?? `${percent}%`}></progress>`
      }
      <div class="row">
        <div class="meta">
          ${details.map((text) => html`<span>${text}</span>`)}
          <span>${format(t.elapsed, { time: clock(seconds) })}</span>
        </div>
        ${
          canStop
            ? html`<button class="btn small" part="cancel" type="button" ?disabled=${this._stopping}
              @click=${this.#stop}>${stopLabel}</button>`
            : nothing
        }
      </div>
    </div>`;
  }

  #renderPlaceholders(): TemplateResult {
    const body = this.#lastBody ?? {};
    const width = Number(inputOf(this._tool, body, 'width')) || 1;
    const height = Number(inputOf(this._tool, body, 'height')) || 1;
    const count = Number(inputOf(this._tool, body, 'count')) || 1;
    return html`<div class="tiles ${count === 1 ? 'one' : ''}" aria-hidden="true">
      ${Array.from(
        { length: count },
        () => html`<div class="tile"><svg class="placeholder" viewBox="0 0 ${width} ${height}">
          <rect width=${width} height=${height} /></svg></div>`,
      )}
    </div>`;
  }

  #renderGallery(entry: HistoryEntry): TemplateResult {
    const t = this.#t;
    const seed = String(inputOf(this._tool, entry.inputs, 'seed') ?? '');
    const count = entry.outputs.length;
    return html`<div class="gallery" part="gallery" tabindex="-1" role="region" aria-label=${t.results}>
      <div class="tiles ${count === 1 ? 'one' : ''}">
        ${entry.outputs.map((_, index) => {
          const { url, alt, name, label } = this.#image(entry, index);
          return html`<figure class="tile">
            <button class="open" type="button" aria-label="${t.open}: ${label}" @click=${() => this.#view(entry, index)}>
              <img part="image" src=${url} alt=${alt} width=${Number(inputOf(this._tool, entry.inputs, 'width')) || nothing}
                height=${Number(inputOf(this._tool, entry.inputs, 'height')) || nothing} />
            </button>
            <button class="btn small dl" type="button" aria-label="${t.download}: ${label}"
              @click=${() => this.#download(url, name)}>${downloadIcon}</button>
          </figure>`;
        })}
      </div>
      <div class="toolbar">
        ${
          seed
            ? html`<span class="seedv">${t.seed} ${seed}</span>
              <button class="btn small" type="button" @click=${() => this.#copySeed(seed)}>${t.copySeed}</button>`
            : nothing
        }
        <button class="btn small" type="button" @click=${() => this.#useSettings(entry.inputs)}>${t.reuse}</button>
        <span class="sr-only" role="status">${this._copied ? t.copied : ''}</span>
      </div>
    </div>`;
  }

  #renderHistory(): TemplateResult | typeof nothing {
    const t = this.#t;
    if (this._history.length === 0) return nothing;
    const currentId = this._shownId ?? this.stream.task?.id;
    return html`<section class="history" part="history" aria-labelledby="history-title">
      <div class="row">
        <div>
          <h2 id="history-title">${t.history}</h2>
          <p class="hint">${t.historyHint}</p>
        </div>
        <button class="btn small" type="button" @click=${this.#clearHistory}>${t.clearHistory}</button>
      </div>
      <ul>
        ${this._history.map((entry) => {
          const first = entry.outputs[0];
          const prompt = String(inputOf(this._tool, entry.inputs, 'prompt') ?? '');
          const state = t[endingOf(entry) ?? stageOf(entry.status)];
          // Also the text of a tile without an image, so what is read is what is shown.
          const name = `${state}: ${prompt.slice(0, 80)}`;
          return html`<li>
            <button type="button" aria-current=${entry.taskid === currentId}
              aria-label=${name} title=${prompt} @click=${() => this.#show(entry)}>
              ${first ? html`<img src=${first.url} alt="" loading="lazy" />` : html`<span>${name}</span>`}
            </button>
          </li>`;
        })}
      </ul>
    </section>`;
  }

  #renderViewer(): TemplateResult {
    const t = this.#t;
    const viewing = this._viewing;
    const image = viewing && this.#image(viewing.entry, viewing.index);
    const arrow = (by: number, label: string, text: string) =>
      html`<button class="btn" type="button" aria-label=${label} @click=${() => this.#step(by)}>${text}</button>`;
    return html`<dialog class="viewer" aria-labelledby="caption" @close=${() => {
      this._viewing = undefined;
    }} @keydown=${(event: KeyboardEvent) => this.#step(event.key === 'ArrowLeft' ? -1 : event.key === 'ArrowRight' ? 1 : 0)}>
      ${
        image
          ? html`<img src=${image.url} alt=${image.alt} />
            <form method="dialog" class="actions">
              <p class="hint" id="caption">${image.alt}</p>
              ${(viewing?.entry.outputs.length ?? 0) > 1 ? [arrow(-1, t.previous, '‹'), arrow(1, t.next, '›')] : nothing}
              <button class="btn" type="button" @click=${() => this.#download(image.url, image.name)}>
                ${downloadIcon} ${t.download}
              </button>
              <button class="btn" value="close">${t.close}</button>
            </form>`
          : nothing
      }
    </dialog>`;
  }
}
