/**
 * The tool, as one value: `wiro/text-to-image-flux-lora-fast`'s inputs, its LoRA styles (as
 * Wiro's tool page lists them, see shared/seed), size presets and limits. Data only: the Worker
 * validates a Run with schemas built from it, `GET /v1/Tool` publishes it, the widget builds its
 * form from what is published and the OpenAPI document describes it. Change a limit here and all
 * of them follow; a second Wiro model would be a second value in `TOOLS`.
 */

export interface LoraScaleSetting {
  /** The body field Wiro reads the scale from. */
  id: string;
  label: string;
  min: number;
  max: number;
  step: number;
  default: number;
}

export interface Lora {
  value: string;
  label: string;
  description: string;
  triggerwords: string[];
  settings: LoraScaleSetting[];
}

/**
 * Wiro's default for `selectedLoraModel`. It is not one of the listed styles and Wiro does not
 * say what it is; we offer it as "no style" and send it when a client leaves the field empty.
 */
export const DEFAULT_LORA = '655';

function scale(id: string): LoraScaleSetting[] {
  return [{ id, label: `${id} scale`, min: 0, max: 1, step: 0.1, default: 1 }];
}

export const LORAS: readonly Lora[] = [
  {
    value: DEFAULT_LORA,
    label: 'No style (Wiro default)',
    description: 'Flux without one of the listed style LoRAs',
    triggerwords: [],
    settings: [],
  },
  {
    value: '678',
    label: 'FreshIdeas/Movie-poster-style-LoRA-Flux v1.0',
    description: 'Generate images using Flux and Movie poster style LoRA',
    triggerwords: ['FRESH IDEAS Movie poster style'],
    settings: scale('Movie-poster-style-LoRA-Flux-v1.0'),
  },
  {
    value: '1239',
    label: 'WizardWhitebeard/Dreamy-Vista-Soft-Color-Pencil-Drawings',
    description: 'Dreamy Vista - Soft Color Pencil Drawings',
    triggerwords: ['w1z_dreamy_vista style illustration'],
    settings: scale('Dreamy-Vista-Soft-Color-Pencil-Drawings'),
  },
  {
    value: '1236',
    label: 'WizardWhitebeard/Vintage-Comic-Book-Cover-Sci-fi-Pulp',
    description: 'Vintage Comic Book Cover Sci-fi Pulp',
    triggerwords: ['vintage comic book cover', '1950s pulp art style'],
    settings: scale('Vintage-Comic-Book-Cover-Sci-fi-Pulp'),
  },
  {
    value: '1328',
    label: 'ChronoKnight/WPAP-ART-Style',
    description: 'WPAP ART Style',
    triggerwords: ['wp4p'],
    settings: scale('WPAP-ART-Style'),
  },
  {
    value: '1214',
    label: 'WizardWhitebeard/Vintage-Mascot-Logotypes',
    description: 'Vintage Mascot Logotypes',
    triggerwords: ['vintage mascot logotype'],
    settings: scale('Vintage-Mascot-Logotypes'),
  },
];

export function findLora(value: string): Lora | undefined {
  return LORAS.find((lora) => lora.value === value);
}

export type FieldKind = 'textarea' | 'select' | 'integer' | 'float' | 'seed' | 'url';
/**
 * What a field means, for code that must find one (the form's prompt, its size presets, the
 * number of images a budget counts) without guessing from names or kinds.
 */
export type FieldRole = 'prompt' | 'style' | 'count' | 'seed' | 'width' | 'height';

export interface FieldSpec {
  name: string;
  kind: FieldKind;
  role?: FieldRole;
  label: string;
  help: string;
  default: string | number;
  min?: number;
  max?: number;
  step?: number;
  multipleOf?: number;
  maxLength?: number;
  /** Shown under "advanced" in forms. */
  advanced?: boolean;
}

export const LIMITS = {
  promptMaxLength: 2000,
  stepsMax: 50,
  guidanceMax: 20,
  samplesMax: 4,
  sizeMin: 256,
  sizeMax: 2048,
  sizeMultiple: 16,
  seedMax: 4294967295,
  urlMaxLength: 2048,
} as const;

/** Width and height: the same limits, each its own field (Wiro takes them apart). */
function side<N extends 'width' | 'height'>(name: N, label: string) {
  return {
    name,
    role: name,
    kind: 'integer',
    label,
    help: 'Pixels, a multiple of 16.',
    default: 1024,
    min: LIMITS.sizeMin,
    max: LIMITS.sizeMax,
    step: LIMITS.sizeMultiple,
    multipleOf: LIMITS.sizeMultiple,
  } as const;
}

export const FIELDS = [
  {
    name: 'prompt',
    role: 'prompt',
    kind: 'textarea',
    label: 'Prompt',
    help: 'What to draw. Put the style’s trigger words in it.',
    default:
      'vintage matchbox artwork, A retro matchbox label depicting a lion roaring under a starry African night sky, framed with decorative vintage borders and textured printing effects.',
    maxLength: LIMITS.promptMaxLength,
  },
  {
    name: 'selectedLoraModel',
    role: 'style',
    kind: 'select',
    label: 'Style',
    help: 'A style LoRA applied on top of Flux.',
    default: DEFAULT_LORA,
  },
  {
    name: 'steps',
    kind: 'integer',
    label: 'Inference steps',
    help: 'More steps: more detail, more time.',
    default: 20,
    min: 1,
    max: LIMITS.stepsMax,
    step: 1,
  },
  {
    name: 'scale',
    kind: 'float',
    label: 'Guidance scale',
    help: 'How closely the image follows the prompt.',
    default: 3.5,
    min: 0,
    max: LIMITS.guidanceMax,
    step: 0.1,
  },
  {
    name: 'samples',
    role: 'count',
    kind: 'integer',
    label: 'Images',
    help: 'How many images to make (each one is billed).',
    default: 1,
    min: 1,
    max: LIMITS.samplesMax,
    step: 1,
  },
  {
    name: 'seed',
    role: 'seed',
    kind: 'seed',
    label: 'Seed',
    help: 'The same seed and settings give the same image. Left out of a Run, a random one is used.',
    default: '3572004920',
    min: 0,
    max: LIMITS.seedMax,
  },
  side('width', 'Width'),
  side('height', 'Height'),
  {
    name: 'selectedLoraModelPrivateUrl',
    kind: 'url',
    label: 'Your own LoRA (URL)',
    help: 'A direct https link to a public .safetensors file.',
    default: '',
    maxLength: LIMITS.urlMaxLength,
    advanced: true,
  },
] as const satisfies readonly FieldSpec[];

/** Size presets for forms, by aspect ratio; every side is a multiple of 16. */
export const SIZE_PRESETS = [
  { label: '1:1', width: 1024, height: 1024 },
  { label: '4:3', width: 1152, height: 864 },
  { label: '3:4', width: 864, height: 1152 },
  { label: '16:9', width: 1344, height: 768 },
  { label: '9:16', width: 768, height: 1344 },
] as const;

export interface Tool {
  slug: string;
  title: string;
  fields: readonly FieldSpec[];
  loras: readonly Lora[];
  sizes: readonly { label: string; width: number; height: number }[];
  limits: typeof LIMITS;
}

export const FLUX_LORA_FAST: Tool = {
  slug: 'wiro/text-to-image-flux-lora-fast',
  title: 'Flux + LoRA, text to image',
  fields: FIELDS,
  loras: LORAS,
  sizes: SIZE_PRESETS,
  limits: LIMITS,
};

/** The tools this Worker serves, found by slug. */
export const TOOLS: readonly Tool[] = [FLUX_LORA_FAST];

export function toolOf(slug: string): Tool | undefined {
  return TOOLS.find((tool) => tool.slug === slug);
}

/** The field that plays a role, if the tool has one. */
export function fieldWith<R extends FieldRole>(fields: readonly FieldSpec[], role: R): FieldSpec | undefined {
  return fields.find((field) => field.role === role);
}

/** What `GET /v1/Tool` publishes: everything a form needs, and nothing it must guess. */
export function describeTool(tool: Tool = FLUX_LORA_FAST) {
  const { slug, title, fields, loras, sizes, limits } = tool;
  return { slug, title, inputs: fields, loras, sizes, limits };
}
