/**
 * The form's data, built only from what `GET /v1/Tool` publishes: initial values from the
 * defaults, client-side checks that mirror the Worker's (min, max, multipleOf, maxLength), and
 * the Run body. Values are kept as the strings the inputs hold; the body has real numbers.
 *
 * @example
 *   const values = initialValues(tool, { prompt: 'a lion', style: '1328' });
 *   const errors = validate(tool, values, strings); // {} when good
 *   const body = runBody(tool, values, ['wp4p']);
 */
import type { describeTool, FieldRole, FieldSpec, Lora } from '../../../shared/tool';
import { format, type Strings } from '../strings';

/** What `GET /v1/Tool` publishes under `tool`: everything the form is built from. */
export type ToolDescription = ReturnType<typeof describeTool>;
export type SizePreset = ToolDescription['sizes'][number];
export type Values = Record<string, string>;
export type FieldErrors = Record<string, string>;
/** Values the page gave before the form was built, by role (the `prompt` and `lora` properties). */
export type Given = Partial<Record<FieldRole, string>>;

/**
 * The input that plays a role (the prompt, the style picker, the seed…), found by its published
 * `role` (shared/tool.ts's `fieldWith`, which the widget does not import: that module's data
 * would come along into widget.js).
 */
export function roleField(tool: ToolDescription, role: FieldRole): FieldSpec | undefined {
  return tool.inputs.find((field) => field.role === role);
}

/** A Run's input that plays a role (without the tool at hand: the input named for the role). */
export function inputOf(tool: ToolDescription | undefined, inputs: Record<string, unknown>, role: FieldRole): unknown {
  return inputs[(tool && roleField(tool, role)?.name) ?? role];
}

export function selectedLora(tool: ToolDescription, values: Values): Lora | undefined {
  const field = roleField(tool, 'style');
  return field ? tool.loras.find((lora) => lora.value === values[field.name]) : undefined;
}

/** Whether the tool has a width and a height: then the form offers its size presets. */
export function hasSizes(tool: ToolDescription): boolean {
  return !!roleField(tool, 'width') && !!roleField(tool, 'height');
}

/** The size preset the values are, if any. */
export function presetOf(tool: ToolDescription, values: Values): SizePreset | undefined {
  const [width, height] = [roleField(tool, 'width'), roleField(tool, 'height')].map(
    (field) => values[field?.name ?? ''],
  );
  return tool.sizes.find((size) => String(size.width) === width && String(size.height) === height);
}

export function initialValues(tool: ToolDescription, given: Given = {}): Values {
  const values: Values = {};
  for (const field of tool.inputs) values[field.name] = String(field.default);
  for (const lora of tool.loras) {
    for (const setting of lora.settings) values[setting.id] = String(setting.default);
  }
  const prompt = roleField(tool, 'prompt');
  if (prompt && given.prompt) values[prompt.name] = given.prompt;
  const style = roleField(tool, 'style');
  if (style && tool.loras.some((item) => item.value === given.style)) values[style.name] = given.style as string;
  return values;
}

/** Values back from a Run body (history's "use these settings again"). */
export function valuesFromInputs(tool: ToolDescription, inputs: Record<string, unknown>): Values {
  const values = initialValues(tool);
  for (const [name, value] of Object.entries(inputs)) {
    if (name in values && value !== undefined && value !== null) values[name] = String(value);
  }
  return values;
}

/** The checks the Worker makes, in the user's words; one message per bad field. */
export function validate(
  tool: ToolDescription,
  values: Values,
  strings: Strings,
  chips: readonly string[] = [],
): FieldErrors {
  const errors: FieldErrors = {};
  const numeric: FieldSpec[] = [...tool.inputs];
  const lora = selectedLora(tool, values);
  for (const setting of lora?.settings ?? []) {
    numeric.push({ ...setting, name: setting.id, kind: 'float', help: '', default: setting.default });
  }
  for (const field of numeric) {
    const message = check(field, (values[field.name] ?? '').trim(), strings, chips);
    if (message) errors[field.name] = message;
  }
  return errors;
}

function check(field: FieldSpec, text: string, strings: Strings, chips: readonly string[]): string | undefined {
  const say = (template: string, extra: Record<string, string | number> = {}) =>
    format(template, { label: field.label, ...extra });
  // The Worker counts the prompt as sent, trigger words included.
  if (field.role === 'prompt') {
    if (!text) return say(strings.required);
    return field.maxLength && fullPrompt(text, chips).length > field.maxLength
      ? say(strings.tooLong, { max: field.maxLength })
      : undefined;
  }
  switch (field.kind) {
    case 'url':
      if (field.maxLength && text.length > field.maxLength) return say(strings.tooLong, { max: field.maxLength });
      return text && !/^https:\/\/[^\s/]+\.[^\s/]+/i.test(text) ? say(strings.httpsUrl) : undefined;
    case 'seed':
      return /^\d{1,10}$/.test(text) && Number(text) <= (field.max ?? Number.MAX_SAFE_INTEGER)
        ? undefined
        : say(strings.range, { min: field.min ?? 0, max: field.max ?? '' });
    case 'integer':
    case 'float': {
      if (text === '') return undefined; // the Worker fills in the default
      const number = Number(text);
      if (!Number.isFinite(number)) return say(strings.notNumber);
      if (field.kind === 'integer' && !Number.isInteger(number)) return say(strings.wholeNumber);
      const { min = -Infinity, max = Infinity, multipleOf } = field;
      if (number < min || number > max) return say(strings.range, { min, max });
      return multipleOf && number % multipleOf !== 0 ? say(strings.multipleOf, { step: multipleOf }) : undefined;
    }
    default:
      return undefined;
  }
}

/** The prompt as sent: the style's trigger words (the chips still shown) first. */
export function fullPrompt(prompt: string, chips: readonly string[]): string {
  return [...chips, prompt.trim()].filter(Boolean).join(', ');
}

/** `fullPrompt` undone for a LoRA: the trigger words a sent prompt starts with, back as chips. */
export function splitPrompt(lora: Lora | undefined, sent: string): { prompt: string; chips: string[] } {
  const chips: string[] = [];
  let prompt = sent;
  for (const word of lora?.triggerwords ?? []) {
    if (prompt === word || prompt.startsWith(`${word}, `)) {
      chips.push(word);
      prompt = prompt.slice(word.length + 2);
    }
  }
  return { prompt, chips };
}

/** Trigger words of a LoRA that the prompt does not already contain: the chips to show. */
export function missingTriggerWords(lora: Lora | undefined, prompt: string): string[] {
  const text = prompt.toLowerCase();
  return (lora?.triggerwords ?? []).filter((word) => !text.includes(word.toLowerCase()));
}

/** The Run body: every published input plus the chosen LoRA's own scale settings. */
export function runBody(tool: ToolDescription, values: Values, chips: readonly string[]): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const field of tool.inputs) {
    const text = (values[field.name] ?? '').trim();
    if (field.role === 'prompt') body[field.name] = fullPrompt(text, chips);
    else if (field.kind === 'integer' || field.kind === 'float') {
      if (text !== '') body[field.name] = Number(text);
    } else if (text !== '') body[field.name] = text;
  }
  for (const setting of selectedLora(tool, values)?.settings ?? []) {
    body[setting.id] = Number(values[setting.id] ?? setting.default);
  }
  return body;
}

/** A random seed in the published range. */
export function randomSeed(field: FieldSpec | undefined): string {
  const max = Math.min(field?.max ?? 2 ** 32 - 1, 2 ** 32 - 1);
  return String(crypto.getRandomValues(new Uint32Array(1))[0]! % (max + 1));
}
