/**
 * The tool in Wiro's own `Tool/Detail` shape (`tool[0].parameters`: groups of `items` with `id`,
 * `type`, `label`, `required`, `default`, `options[{label, value}]`, limits), generated from the
 * one schema that validates Runs, so what Wiro's SDKs read (`getModelSchema`) can never disagree
 * with what the Worker accepts. Values are strings, as Wiro sends them.
 */
import { type FieldSpec, FLUX_LORA_FAST, LORAS } from '../../shared/tool';

const TOOL_SLUG = FLUX_LORA_FAST.slug;
const FIELDS = FLUX_LORA_FAST.fields;

const [SLUG_OWNER = '', SLUG_PROJECT = ''] = TOOL_SLUG.split('/');

/** Wiro's item type for each kind of field (the seed's "Tool Inputs"). */
const WIRO_TYPE: Record<FieldSpec['kind'], string> = {
  textarea: 'textarea',
  select: 'select',
  integer: 'number',
  float: 'float',
  seed: 'text',
  url: 'text',
};

function item(field: FieldSpec) {
  const limits =
    field.kind === 'integer' || field.kind === 'float'
      ? { min: String(field.min), max: String(field.max), step: String(field.step ?? 1) }
      : {};
  const options =
    field.name === 'selectedLoraModel'
      ? LORAS.map((lora) => ({
          label: lora.label,
          value: lora.value,
          description: lora.description,
          triggerwords: lora.triggerwords,
          generatesettings: lora.settings.map((setting) => ({
            type: 'float',
            id: setting.id,
            label: setting.label,
            minvalue: String(setting.min),
            maxvalue: String(setting.max),
            incrementby: String(setting.step),
            defaultvalue: String(setting.default),
            value: String(setting.default),
          })),
        }))
      : [];
  return {
    id: field.name,
    type: WIRO_TYPE[field.kind],
    label: field.label,
    note: field.help,
    required: field.kind === 'textarea',
    default: String(field.default),
    options,
    ...limits,
  };
}

/** `tool[0]` of Wiro's `Tool/Detail` answer for this model. */
export function wiroToolDetail() {
  const privateLora = {
    id: 'selectedLoraModelPrivate',
    type: 'select',
    label: 'Your LoRA on Wiro',
    note: 'The id of a LoRA trained in your own Wiro project, or empty.',
    required: false,
    default: '',
    options: [],
  };
  return {
    id: TOOL_SLUG,
    title: 'Flux + LoRA, text to image',
    slugowner: SLUG_OWNER,
    slugproject: SLUG_PROJECT,
    cleanslugowner: SLUG_OWNER,
    cleanslugproject: SLUG_PROJECT,
    description:
      'Flux is a tool that generates images from text descriptions. With LoRA models, you can enhance your Flux model generation.',
    categories: ['tool', 'text-to-image', 'bf16', 'lora-flux', 'persistent', 'fast-interface'],
    image: 'https://cdn.wiro.ai/uploads/models/wiro-text-to-image-flux-lora-fast-cover.png',
    parameters: [
      { title: 'Inputs', items: FIELDS.filter((field) => !field.advanced).map(item) },
      { title: 'Advanced', items: [privateLora, ...FIELDS.filter((field) => field.advanced).map(item)] },
    ],
  };
}
