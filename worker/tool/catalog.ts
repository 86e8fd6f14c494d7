/**
 * The LoRA styles `wiro/text-to-image-flux-lora-fast` offers, as Wiro's tool page lists them
 * (see shared/seed). Each has trigger words to put in the prompt and one scale setting, which
 * Wiro receives as a body field named by the setting's `id`.
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

export const TOOL_SLUG = 'wiro/text-to-image-flux-lora-fast';

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
