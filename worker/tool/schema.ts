/**
 * Validation of a Run's inputs, with valibot schemas built from the tool's data (shared/tool.ts),
 * so what is checked is what `GET /v1/Tool` publishes.
 *
 * @example
 *   const checked = validateRunInput({ prompt: 'a lion', steps: '20' });
 *   if (!checked.ok) checked.errors; // [{ code: 0, field: 'steps', message: '...' }]
 */
import * as v from 'valibot';
import type { WiroErrorItem } from '../../shared/protocol';
import {
  type FieldSpec,
  type FIELDS as FLUX_FIELDS,
  FLUX_LORA_FAST,
  fieldWith,
  LIMITS,
  type Tool,
} from '../../shared/tool';
import { WiroCode } from '../errors';
import { checkPublicHttpsUrl } from './url';

/** Inputs that are not model parameters but that Run accepts. */
const EXTRA_FIELDS = ['callbackUrl', 'selectedLoraModelPrivate'] as const;

/** A field's value once checked: whole numbers stay numbers, the rest travel as text (Wiro's example's types). */
type Checked<F extends FieldSpec> = F['kind'] extends 'integer' ? number : string;

/**
 * What the Worker sends Wiro after validation, inferred from the tool's fields: normalized,
 * defaults filled in, the seed only when given (absent, the Run gets a random one: `withSeed`).
 */
export type RunInput = { [F in (typeof FLUX_FIELDS)[number] as F['name']]: Checked<F> } extends infer Values
  ? Omit<Values, 'seed'> & {
      seed?: string;
      /** Not a field of the form: the id of one of the caller's own LoRAs on Wiro. */
      selectedLoraModelPrivate: string;
      /** The selected LoRA's scale setting, by its `generatesettings` id. */
      loraScales: Record<string, string>;
    }
  : never;

/** A Run's inputs with the seed it will use. */
export type SeededRunInput = RunInput & { seed: string };

export interface ValidatedRun {
  input: RunInput;
  /** The client's own webhook, relayed to when the task ends. */
  callbackUrl?: string;
  /** What was accepted but ignored, for a warning header. */
  ignored?: string;
}

export type Validation = { ok: true; value: ValidatedRun } | { ok: false; errors: WiroErrorItem[] };

/** Numbers arrive as JSON numbers or, from forms and multipart, as numeric strings. */
function numeric(name: string) {
  return v.union(
    [
      v.number(),
      v.pipe(
        v.string(),
        v.trim(),
        v.regex(/^[-+]?(\d+\.?\d*|\.\d+)$/),
        v.transform((text) => Number(text)),
      ),
    ],
    `${name} must be a number`,
  );
}

function numberSchema(field: FieldSpec) {
  const { name, min = 0, max = Number.MAX_SAFE_INTEGER, multipleOf } = field;
  const range = `${name} must be between ${min} and ${max}`;
  return v.pipe(
    numeric(name),
    v.finite(`${name} must be a number`),
    v.check((n) => field.kind !== 'integer' || Number.isInteger(n), `${name} must be a whole number`),
    v.check((n) => n >= min && n <= max, range),
    v.check((n) => !multipleOf || n % multipleOf === 0, `${name} must be a multiple of ${multipleOf}`),
  );
}

function fieldSchema(field: FieldSpec, tool: Tool): v.GenericSchema<unknown, unknown> {
  const { name } = field;
  switch (field.kind) {
    case 'textarea':
      return v.pipe(
        v.string(`${name} must be text`),
        v.trim(),
        v.nonEmpty(`${name} is required`),
        v.maxLength(field.maxLength ?? 0, `${name} must be at most ${field.maxLength} characters`),
      );
    case 'select': {
      // The tool's one choice is its LoRA style. Wiro's own example sends `[]` for "no choice";
      // we read it, like "", as the default.
      const loraValues = tool.loras.map((lora) => lora.value);
      const fallback = String(field.default);
      return v.union(
        [
          v.pipe(
            v.array(v.never()),
            v.transform(() => fallback),
          ),
          v.pipe(
            v.string(),
            v.trim(),
            v.transform((text) => text || fallback),
            v.picklist(loraValues),
          ),
        ],
        `${name} must be one of ${loraValues.join(', ')}`,
      );
    }
    case 'integer':
    case 'float':
      return numberSchema(field);
    case 'seed':
      return v.pipe(
        v.union([v.number(), v.string()], `${name} must be a whole number`),
        v.transform((seed) => String(seed).trim()),
        v.regex(/^\d{1,10}$/, `${name} must be a whole number from 0 to ${field.max}`),
        v.check((seed) => Number(seed) <= (field.max ?? 0), `${name} must be a whole number from 0 to ${field.max}`),
      );
    case 'url':
      return v.pipe(
        v.string(`${name} must be text`),
        v.trim(),
        v.maxLength(field.maxLength ?? 0, `${name} must be at most ${field.maxLength} characters`),
        publicUrl(name, { optional: true }),
      );
  }
}

/**
 * A URL someone else will fetch (Wiro the LoRA file, the relay the webhook): checked, and turned
 * into the normalised URL that was checked, which is what goes on.
 */
function publicUrl(name: string, { optional = false } = {}) {
  return v.rawTransform<string, string>(({ dataset, addIssue, NEVER }) => {
    if (optional && dataset.value === '') return '';
    const checked = checkPublicHttpsUrl(dataset.value);
    if (checked.ok) return checked.url;
    addIssue({ message: `${name} ${checked.reason} (an https URL on a public host, default port)` });
    return NEVER;
  });
}

/** A tool's checks, built once from its data: one per field, one per LoRA scale setting. */
interface ToolChecks {
  fields: Map<string, v.GenericSchema>;
  loraScales: Map<string, v.GenericSchema>;
}

const CHECKS = new WeakMap<Tool, ToolChecks>();

function checksOf(tool: Tool): ToolChecks {
  let checks = CHECKS.get(tool);
  if (!checks) {
    checks = {
      fields: new Map(tool.fields.map((field) => [field.name, fieldSchema(field, tool)])),
      loraScales: new Map(
        tool.loras.flatMap((lora) =>
          lora.settings.map((setting) => [
            setting.id,
            numberSchema({ ...setting, name: setting.id, kind: 'float', help: '', default: 1 }),
          ]),
        ),
      ),
    };
    CHECKS.set(tool, checks);
  }
  return checks;
}

const privateLoraSchema = v.pipe(
  v.union([v.string(), v.number()]),
  v.transform((id) => String(id).trim()),
  v.regex(/^\d{0,12}$/, 'selectedLoraModelPrivate must be the id of one of your LoRAs, or empty'),
);

const callbackSchema = v.pipe(
  v.string('callbackUrl must be text'),
  v.trim(),
  v.maxLength(LIMITS.urlMaxLength, `callbackUrl must be at most ${LIMITS.urlMaxLength} characters`),
  publicUrl('callbackUrl'),
);

function fieldError(field: string, message: string): WiroErrorItem {
  return { code: WiroCode.general, field, message };
}

/**
 * Checks a Run body. Returns every bad field at once (one error each), so a form can mark all
 * of them; the message names the field.
 */
export function validateRunInput(body: Record<string, unknown>, tool: Tool = FLUX_LORA_FAST): Validation {
  const checks = checksOf(tool);
  const errors: WiroErrorItem[] = [];
  const values: Record<string, unknown> = {};
  const loraScales: Record<string, number> = {};

  for (const name of Object.keys(body)) {
    const schema = checks.fields.get(name) ?? checks.loraScales.get(name);
    if (!schema && !(EXTRA_FIELDS as readonly string[]).includes(name)) {
      errors.push(fieldError(name, `${name} is not an input of ${tool.slug}`));
    }
  }
  for (const field of tool.fields) {
    const raw = body[field.name];
    // Absent fields take their defaults, except the prompt (an image of nothing costs money) and
    // the seed (a fixed default would make every Run of a prompt the same image).
    const { role } = field;
    if (raw === undefined || raw === null || (raw === '' && role !== 'prompt')) {
      if (role === 'prompt') errors.push(fieldError(field.name, `${field.name} is required`));
      else if (role !== 'seed') values[field.name] = field.default;
      continue;
    }
    const parsed = v.safeParse(checks.fields.get(field.name) as v.GenericSchema, raw);
    if (parsed.success) values[field.name] = parsed.output;
    else errors.push(fieldError(field.name, parsed.issues[0].message));
  }
  for (const [id, schema] of checks.loraScales) {
    const raw = body[id];
    if (raw === undefined || raw === '') continue;
    const parsed = v.safeParse(schema, raw);
    if (parsed.success) loraScales[id] = parsed.output as number;
    else errors.push(fieldError(id, parsed.issues[0].message));
  }

  let privateLora = '';
  if (body.selectedLoraModelPrivate !== undefined && body.selectedLoraModelPrivate !== null) {
    const parsed = v.safeParse(privateLoraSchema, body.selectedLoraModelPrivate);
    if (parsed.success) privateLora = parsed.output;
    else errors.push(fieldError('selectedLoraModelPrivate', parsed.issues[0].message));
  }
  let callbackUrl: string | undefined;
  let ignored: string | undefined;
  if (body.callbackUrl !== undefined && body.callbackUrl !== '') {
    if (typeof body.callbackUrl === 'string' && !URL.canParse(body.callbackUrl.trim())) {
      // Wiro's own example sends prose here ("You can provide a callback URL; …"): not a URL at
      // all is no webhook, not an error. A URL that is not allowed is an error.
      ignored = 'callbackUrl is not a URL, so no webhook will be sent';
    } else {
      const parsed = v.safeParse(callbackSchema, body.callbackUrl);
      if (parsed.success) callbackUrl = parsed.output;
      else errors.push(fieldError('callbackUrl', parsed.issues[0].message));
    }
  }
  if (errors.length > 0) return { ok: false, errors };

  // Only the chosen style's scale reaches Wiro; a scale left over from another style is ignored.
  const style = fieldWith(tool.fields, 'style');
  const lora = tool.loras.find((each) => style && each.value === values[style.name]);
  const scales: Record<string, string> = {};
  for (const setting of lora?.settings ?? []) {
    scales[setting.id] = String(loraScales[setting.id] ?? setting.default);
  }
  // Each field in the type Wiro's own example sends it (see `Checked`); an absent seed stays absent.
  const checked = tool.fields.flatMap((field) => {
    const value = values[field.name];
    if (value === undefined) return [];
    return [[field.name, field.kind === 'integer' ? Number(value) : String(value)]];
  });
  const input = {
    ...Object.fromEntries(checked),
    selectedLoraModelPrivate: privateLora,
    loraScales: scales,
  } as RunInput;
  return { ok: true, value: { input, ...(callbackUrl ? { callbackUrl } : {}), ...(ignored ? { ignored } : {}) } };
}

/** The inputs with the client's seed, or a fresh random one (reported back in the task's `parameters`). */
export function withSeed(input: RunInput): SeededRunInput {
  return { ...input, seed: input.seed ?? String(crypto.getRandomValues(new Uint32Array(1))[0]) };
}

/** The body Wiro receives for a validated Run, in the types Wiro's own example uses. */
export function upstreamRunBody(input: SeededRunInput, callbackUrl: string): Record<string, unknown> {
  const { loraScales, ...fields } = input;
  return { ...fields, ...loraScales, callbackUrl };
}
