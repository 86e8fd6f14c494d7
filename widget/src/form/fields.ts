/**
 * The form's controls, one template per kind of published input: the prompt with its trigger
 * word chips, the style picker with its strength sliders, sliders, small-number choices, the
 * seed with lock and randomize, links, and the size presets with Custom width and height.
 * Templates only: the state is the form controller's (form/controller.ts), passed in as a `FormView`.
 *
 * Every control has a label; help and errors are tied to it with `aria-describedby`, and a bad
 * value sets `aria-invalid`, which is also how the component finds the first bad field.
 *
 * Values and checks are bound as properties (`.value`, `.checked`, `.selected`), and every
 * control writes its value back on each change, so what is rendered is what the control shows:
 * Lit's `live` directive (with the directive machinery it brings, 0.4 KB of widget.js) is not
 * needed.
 */
import { html, nothing, type TemplateResult } from 'lit';
import type { FieldSpec, Lora } from '../../../shared/tool';
import { diceIcon, lockIcon, unlockIcon } from '../icons';
import type { Strings } from '../strings';
import { TURNSTILE_FIELD } from '../turnstile';
import type WiroFlux from '../wiro-flux.component';
import {
  type FieldErrors,
  fullPrompt,
  hasSizes,
  randomSeed,
  roleField,
  type SizePreset,
  selectedLora,
  type ToolDescription,
  type Values,
} from './model';

/** What the templates read and the actions they call; the component builds it per render. */
export interface FormView {
  t: Strings;
  values: Values;
  errors: FieldErrors;
  chips: readonly string[];
  seedLocked: boolean;
  /** The size preset shown as chosen; undefined: Custom. */
  preset: SizePreset | undefined;
  set(name: string, value: string): void;
  chooseLora(value: string): void;
  removeChip(chip: string): void;
  toggleSeedLock(): void;
  /** A preset, or undefined for Custom. */
  chooseSize(size: SizePreset | undefined): void;
  promptKeydown(event: KeyboardEvent): void;
  /** Puts the example prompt in, with the style's trigger words as chips. */
  tryExample(): void;
}

const inputValue = (event: Event) => (event.target as HTMLInputElement).value;

function describedBy(view: FormView, name: string, help: string | undefined = `${name}-help`): string {
  return [help, view.errors[name] ? `${name}-error` : ''].filter(Boolean).join(' ');
}

/** "true" or "false": an attribute binding writes a boolean as its word. */
function invalid(view: FormView, name: string): boolean {
  return !!view.errors[name];
}

function fieldError(view: FormView, name: string): TemplateResult | typeof nothing {
  const message = view.errors[name];
  return message ? html`<p class="invalid-msg" id="${name}-error">${message}</p>` : nothing;
}

/** One published input, by the role it plays, else by its kind (width and height go with `renderSizes`). */
export function renderField(view: FormView, tool: ToolDescription, field: FieldSpec): TemplateResult {
  const { name } = field;
  const value = view.values[name] ?? '';
  const { t } = view;
  switch (field.role ?? field.kind) {
    case 'prompt':
      return html`<div class="field">
        <label for=${name}>${field.label}</label>
        ${
          view.chips.length > 0
            ? html`<ul class="chips" aria-label=${t.triggerWords}>
              ${view.chips.map(
                (chip) => html`<li class="chip">
                  ${chip}<button type="button" aria-label="${t.removeChip} ${chip}" @click=${() => view.removeChip(chip)}>×</button>
                </li>`,
              )}
            </ul>`
            : nothing
        }
        <textarea id=${name} name=${name} part="prompt" rows="4" aria-invalid=${invalid(view, name)}
          aria-describedby=${describedBy(view, name)} .value=${value}
          @input=${(event: Event) => view.set(name, inputValue(event))} @keydown=${view.promptKeydown}></textarea>
        <div class="row hint">
          <span class="keys" id="${name}-help">${t.promptHint}</span>
          ${
            field.maxLength
              ? html`<span class=${value.length > field.maxLength ? 'over' : ''} aria-hidden="true">${value.length} / ${field.maxLength}</span>`
              : nothing
          }
        </div>
        ${fieldError(view, name)}
        <button class="hint try" type="button" @click=${view.tryExample}>
          ${t.tryExample} ${fullPrompt(t.example, selectedLora(tool, view.values)?.triggerwords ?? [])}
        </button>
      </div>`;
    case 'style':
      return renderLora(view, tool, field);
    case 'seed':
      return html`<div class="field wide">
        <label for=${name}>${field.label}</label>
        <div class="seed">
          <input id=${name} name=${name} inputmode="numeric" autocomplete="off" aria-invalid=${invalid(view, name)}
            aria-describedby=${describedBy(view, name)} .value=${value}
            @input=${(event: Event) => view.set(name, inputValue(event))} />
          <button class="icon-btn" type="button" aria-label=${t.lockSeed} title=${t.lockSeed}
            aria-pressed=${view.seedLocked} @click=${view.toggleSeedLock}>
            ${view.seedLocked ? lockIcon : unlockIcon}
          </button>
          <button class="icon-btn" type="button" aria-label=${t.randomSeed} title=${t.randomSeed}
            @click=${() => view.set(name, randomSeed(field))}>${diceIcon}</button>
        </div>
        <p class="help" id="${name}-help">${field.help}</p>
        ${fieldError(view, name)}
      </div>`;
    case 'url':
      return html`<div class="field">
        <label for=${name}>${field.label}</label>
        <input id=${name} name=${name} type="url" inputmode="url" autocomplete="off" placeholder="https://"
          aria-invalid=${invalid(view, name)} aria-describedby=${describedBy(view, name)} .value=${value}
          @input=${(event: Event) => view.set(name, inputValue(event))} />
        <p class="help" id="${name}-help">${field.help}</p>
        ${fieldError(view, name)}
      </div>`;
    default:
      // A few whole numbers (how many images) read best as buttons; wider ranges as a slider.
      return field.kind === 'integer' && (field.max ?? 99) - (field.min ?? 0) <= 7
        ? renderChoice(view, field, value)
        : renderSlider(view, field, value);
  }
}

/**
 * A style's name for people: its description, when its label is a repository name
 * ("WizardWhitebeard/Vintage-Comic-Book-Cover-Sci-fi-Pulp"); labels written for people stay.
 */
const styleName = (lora: Lora) => (lora.label.includes('/') && lora.description) || lora.label;

/** The style picker, what the chosen style is, and its own scale settings as sliders. */
function renderLora(view: FormView, tool: ToolDescription, field: FieldSpec): TemplateResult {
  const { t } = view;
  const { name } = field;
  const lora = selectedLora(tool, view.values);
  const settings = lora?.settings ?? [];
  const sliders = settings.map((setting) =>
    renderSlider(
      view,
      {
        ...setting,
        name: setting.id,
        kind: 'float',
        help: '',
        label: settings.length === 1 ? t.strength : setting.label,
      },
      view.values[setting.id] ?? String(setting.default),
    ),
  );
  const words = lora?.triggerwords ?? [];
  return html`<div class="field">
      <label for=${name}>${field.label}</label>
      <select id=${name} name=${name} part="lora" aria-invalid=${invalid(view, name)}
        aria-describedby=${describedBy(view, name)} @change=${(event: Event) => view.chooseLora(inputValue(event))}>
        ${tool.loras.map(
          (item) =>
            // A property: once the user has picked an option the `selected` attribute no longer
            // moves the selection, and the form's values must stay what the select shows.
            html`<option value=${item.value} .selected=${item.value === view.values[name]}>${styleName(item)}</option>`,
        )}
      </select>
      <p class="lora-info" id="${name}-help">
        ${
          // The repository name, when the picker shows the description instead.
          (lora && (styleName(lora) === lora.label ? lora.description : lora.label)) ?? field.help
        }${
          words.length > 0
            ? html`. ${t.triggerWords}: ${words.map((word, i) => html`${i ? ', ' : ''}<code>${word}</code>`)}`
            : nothing
        }
      </p>
      ${fieldError(view, name)}
    </div>
    ${sliders}`;
}

function renderSlider(view: FormView, field: FieldSpec, value: string): TemplateResult {
  const { name } = field;
  return html`<div class="field">
    <div class="row">
      <label for=${name}>${field.label}</label>
      <output for=${name}>${value}</output>
    </div>
    <input id=${name} name=${name} type="range" min=${field.min ?? 0} max=${field.max ?? 100} step=${field.step ?? 'any'}
      aria-invalid=${invalid(view, name)} aria-describedby=${describedBy(view, name, field.help ? undefined : '')}
      .value=${value} @input=${(event: Event) => view.set(name, inputValue(event))} />
    ${field.help ? html`<p class="help" id="${name}-help">${field.help}</p>` : nothing} ${fieldError(view, name)}
  </div>`;
}

function renderChoice(view: FormView, field: FieldSpec, value: string): TemplateResult {
  const { name } = field;
  const options: number[] = [];
  for (let n = field.min ?? 1; n <= (field.max ?? 1); n += field.step ?? 1) options.push(n);
  return html`<fieldset class="field wide" aria-describedby=${describedBy(view, name)}>
    <legend>${field.label}</legend>
    <div class="segmented nums">
      ${options.map(
        (n) => html`<label>
          <input type="radio" name=${name} .value=${String(n)} .checked=${value === String(n)}
            @change=${() => view.set(name, String(n))} /><span>${n}</span>
        </label>`,
      )}
    </div>
    <p class="help" id="${name}-help">${field.help}</p>
    ${fieldError(view, name)}
  </fieldset>`;
}

/** The published size presets (each with a little picture of its shape), and Custom. */
export function renderSizes(view: FormView, tool: ToolDescription): TemplateResult {
  const { t, preset } = view;
  const fields = [roleField(tool, 'width'), roleField(tool, 'height')] as FieldSpec[];
  // Width and height usually share their help ("a multiple of 16"): say it once, under both.
  const shared = fields.every((field) => field.help === fields[0]?.help);
  const number = (field: FieldSpec) => {
    const { name } = field;
    const help = shared ? 'size-help' : `${name}-help`;
    return html`<div class="field">
      <label for=${name}>${field.label}</label>
      <input id=${name} name=${name} type="number" inputmode="numeric" min=${field.min ?? 0} max=${field.max ?? 0}
        step=${field.step ?? 1} aria-invalid=${invalid(view, name)} aria-describedby=${describedBy(view, name, help)}
        .value=${view.values[name] ?? ''} @input=${(event: Event) => {
          // A partial entry ("-", "1e") is no value yet: leave it as typed, the value as it was.
          if (!(event.target as HTMLInputElement).validity.badInput) view.set(name, inputValue(event));
        }} />
      ${shared ? nothing : html`<p class="help" id=${help}>${field.help}</p>`} ${fieldError(view, name)}
    </div>`;
  };
  return html`<fieldset class="field">
    <legend>${t.size}</legend>
    <div class="segmented">
      ${tool.sizes.map(
        (size) => html`<label title="${size.width} × ${size.height}">
          <input type="radio" name="size" .checked=${preset === size}
            aria-label="${size.label}, ${size.width} × ${size.height}" @change=${() => view.chooseSize(size)} />
          <span><svg viewBox="0 0 ${size.width + 160} ${size.height + 160}" aria-hidden="true">
            <rect x="80" y="80" width=${size.width} height=${size.height} rx="120" stroke-width="140" /></svg>${size.label}</span>
        </label>`,
      )}
      <label>
        <input type="radio" name="size" .checked=${!preset} @change=${() => view.chooseSize(undefined)} />
        <span>${t.custom}</span>
      </label>
    </div>
    ${
      preset
        ? nothing
        : html`<div class="pair">${fields.map(number)}</div>
          ${shared ? html`<p class="help" id="size-help">${fields[0]?.help}</p>` : nothing}`
    }
  </fieldset>`;
}

/**
 * The whole form: the prompt and style first, the size presets, the other settings in a grid,
 * the advanced ones folded, the bot check (when the Worker asks for one) and Generate.
 */
export function renderForm(host: WiroFlux, tool: ToolDescription): TemplateResult {
  const { _t: t, form, stream, turnstile } = host;
  const sized = hasSizes(tool);
  const main: TemplateResult[] = [];
  const settings: TemplateResult[] = [];
  const advanced: TemplateResult[] = [];
  for (const field of tool.inputs) {
    if (sized && (field.role === 'width' || field.role === 'height')) continue;
    const rendered = renderField(form, tool, field);
    if (field.advanced) advanced.push(rendered);
    else if (field.role === 'prompt' || field.role === 'style') main.push(rendered);
    else settings.push(rendered);
  }
  const busy = stream.active;
  const { sitekey, waiting } = turnstile;
  const botError = form.errors[TURNSTILE_FIELD];
  // The hint, or the Worker's refusal of the last token; none while a task starts or runs.
  const botMessage = botError || (waiting && !busy && t.botCheck);
  return html`<form class="main" part="form" novalidate @submit=${(event: SubmitEvent) => {
    event.preventDefault();
    void host.submit();
  }}>
    ${main} ${sized ? renderSizes(form, tool) : nothing}
    <div class="grid">${settings}</div>
    ${advanced.length > 0 ? html`<details><summary>${t.advanced}</summary>${advanced}</details>` : nothing}
    ${
      sitekey
        ? html`<div class="field" part="turnstile">
          <slot name="turnstile"></slot>
          ${botMessage ? html`<p class=${botError ? 'invalid-msg' : 'hint'} id="ts-msg">${botMessage}</p>` : nothing}
        </div>`
        : nothing
    }
    <button class="btn primary" part="submit" type="submit" ?disabled=${busy || waiting}
      aria-describedby=${botMessage ? 'ts-msg' : nothing}>
      ${busy ? (stream.status === 'starting' ? t.sending : t.generating) : t.generate}
    </button>
  </form>`;
}
