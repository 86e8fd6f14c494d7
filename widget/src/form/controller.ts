/**
 * The form's state, in one place: the published tool, every value by input name, the trigger
 * word chips, the errors, the seed lock and the Custom size choice. The one source of truth for
 * every form value: the component's `prompt` and `lora` properties read and write these values
 * (by the role of the input), the inputs write them as the user types, and the Run body is made
 * from them. So a prompt goes textarea → `set()` → `values` → `body()` → the Run, and nowhere else.
 * It is also the `FormView` the templates of fields.ts read.
 *
 * @example
 *   form = new FormController(this, onEnter);
 *   form.load(tool);             // the published tool, with what the page gave
 *   form.set('prompt', 'a lion');
 *   const body = form.body(); // undefined, and `errors` set, when a field is bad
 */
import type { ReactiveControllerHost } from 'lit';
import type { FieldRole } from '../../../shared/tool';
import type { Strings } from '../strings';
import type { FormView } from './fields';
import {
  type FieldErrors,
  type Given,
  hasSizes,
  initialValues,
  missingTriggerWords,
  presetOf,
  randomSeed,
  roleField,
  runBody,
  type SizePreset,
  selectedLora,
  splitPrompt,
  type ToolDescription,
  type Values,
  validate,
  valuesFromInputs,
} from './model';

export class FormController implements FormView {
  /** The words in effect: the host sets them before each render. */
  t!: Strings;
  /** The host's Enter-to-generate. */
  readonly promptKeydown: (event: KeyboardEvent) => void;
  tool: ToolDescription | undefined;
  values: Values = {};
  chips: string[] = [];
  errors: FieldErrors = {};
  seedLocked = false;
  customSize = false;
  /** What the page set before the form was built, by role; the defaults fill in the rest. */
  #given: Given = {};
  readonly #host: ReactiveControllerHost;

  constructor(host: ReactiveControllerHost, promptKeydown: (event: KeyboardEvent) => void) {
    this.#host = host;
    this.promptKeydown = promptKeydown;
  }

  /** The value of the input that plays `role` (before the form is built: what the page gave). */
  get(role: FieldRole): string {
    const name = this.#name(role);
    return name ? (this.values[name] ?? '') : (this.#given[role] ?? '');
  }

  /** Sets the value of the input that plays `role`: the style through `chooseLora`, for its chips. */
  put(role: FieldRole, value: string): void {
    const name = this.#name(role);
    if (!name) this.#given[role] = value;
    else if (this.values[name] === value) return;
    else if (role === 'style') this.chooseLora(value);
    else this.set(name, value);
  }

  /** The published tool arrived: the form starts from its defaults and what the page gave. */
  load(tool: ToolDescription): void {
    this.tool = tool;
    this.#fill(initialValues(tool, this.#given));
    this.chips = missingTriggerWords(selectedLora(tool, this.values), this.get('prompt'));
  }

  /** One input's new value (the user typed or chose it); its error, if any, is gone. */
  set(name: string, value: string): void {
    this.values = { ...this.values, [name]: value };
    const { [name]: _fixed, ...rest } = this.errors;
    this.errors = rest;
    this.#host.requestUpdate();
  }

  /** Chooses a style: its trigger words not yet in the prompt become chips. */
  chooseLora(value: string): void {
    const tool = this.tool;
    const name = this.#name('style');
    if (!tool || !name || !tool.loras.some((lora) => lora.value === value)) return;
    this.set(name, value);
    this.chips = missingTriggerWords(selectedLora(tool, this.values), this.get('prompt'));
  }

  /** Fills the form from a Run's inputs; the trigger words sent inside the prompt come back as chips. */
  use(inputs: Record<string, unknown>, keepSeed: boolean): void {
    const tool = this.tool;
    if (!tool) return;
    const values = valuesFromInputs(tool, inputs);
    const { prompt, chips } = splitPrompt(selectedLora(tool, values), values[this.#name('prompt')] ?? '');
    values[this.#name('prompt')] = prompt;
    this.#fill(values);
    this.chips = chips;
    this.seedLocked = keepSeed;
  }

  /**
   * The Run body, or undefined with `errors` set when a field is bad. A new random seed (unless
   * locked) is kept only by a submit that goes: a refused one leaves the field as it was.
   */
  body(): Record<string, unknown> | undefined {
    const tool = this.tool;
    if (!tool) return undefined;
    const seed = roleField(tool, 'seed');
    const values = seed && !this.seedLocked ? { ...this.values, [seed.name]: randomSeed(seed) } : this.values;
    // No update requested here: the host renders next anyway (with "fix the fields", or the Run).
    this.errors = validate(tool, values, this.t, this.chips);
    if (Object.keys(this.errors).length > 0) return undefined;
    this.values = values;
    return runBody(tool, values, this.chips);
  }

  /** The size preset shown as chosen; undefined: Custom. */
  get preset(): SizePreset | undefined {
    return this.customSize || !this.tool ? undefined : presetOf(this.tool, this.values);
  }

  removeChip(chip: string): void {
    this.chips = this.chips.filter((item) => item !== chip);
    this.#host.requestUpdate();
  }

  // Arrow functions: the templates use these two as listeners, unbound.
  toggleSeedLock = (): void => {
    this.seedLocked = !this.seedLocked;
    this.#host.requestUpdate();
  };

  tryExample = (): void => {
    this.set(this.#name('prompt'), this.t.example);
    // Choosing the style again brings back its trigger words as chips.
    this.chooseLora(this.get('style'));
  };

  chooseSize(size: SizePreset | undefined): void {
    this.customSize = !size;
    if (size) {
      this.set(this.#name('width'), String(size.width));
      this.set(this.#name('height'), String(size.height));
    } else this.#host.requestUpdate();
  }

  /** The name of the input that plays `role`; '' before the form is built, or if the tool has none. */
  #name(role: FieldRole): string {
    return (this.tool && roleField(this.tool, role)?.name) ?? '';
  }

  #fill(values: Values): void {
    const tool = this.tool as ToolDescription;
    this.values = values;
    this.errors = {};
    this.customSize = hasSizes(tool) && !presetOf(tool, values);
    this.#host.requestUpdate();
  }
}
