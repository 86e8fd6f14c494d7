/**
 * The tool as one value (shared/tool.ts): the roles the widget and the guards find fields by,
 * the lookup by slug the routes use, and what `GET /v1/Tool` publishes of it.
 */
import { describe, expect, it } from 'vitest';
import { describeTool, type FieldRole, FLUX_LORA_FAST, fieldWith, TOOLS, toolOf } from '../../../shared/tool';
import { validateRunInput } from '../../../worker/tool/schema';

const ROLES: FieldRole[] = ['prompt', 'style', 'count', 'seed', 'width', 'height'];

describe('the tool value', () => {
  it('gives every role to exactly one field', () => {
    for (const role of ROLES) {
      expect(FLUX_LORA_FAST.fields.filter((field) => field.role === role).map((field) => field.name)).toHaveLength(1);
    }
    expect(fieldWith(FLUX_LORA_FAST.fields, 'prompt')?.name).toBe('prompt');
    expect(fieldWith(FLUX_LORA_FAST.fields, 'style')?.name).toBe('selectedLoraModel');
    expect(fieldWith(FLUX_LORA_FAST.fields, 'count')?.name).toBe('samples');
  });

  it('is found by its slug, and nothing else is', () => {
    expect(toolOf('wiro/text-to-image-flux-lora-fast')).toBe(FLUX_LORA_FAST);
    expect(toolOf('wiro/text-to-image-flux-lora')).toBeUndefined();
    expect(toolOf('')).toBeUndefined();
    expect(new Set(TOOLS.map((tool) => tool.slug)).size).toBe(TOOLS.length);
  });

  it('publishes its fields as inputs, with their roles', () => {
    const published = JSON.parse(JSON.stringify(describeTool()));
    expect(Object.keys(published)).toEqual(['slug', 'title', 'inputs', 'loras', 'sizes', 'limits']);
    expect(published.inputs.find((input: { name: string }) => input.name === 'width')).toMatchObject({
      role: 'width',
      kind: 'integer',
      multipleOf: 16,
    });
  });

  it('has defaults the Run route accepts, and its presets are valid sizes', () => {
    const body = Object.fromEntries(FLUX_LORA_FAST.fields.map((field) => [field.name, field.default]));
    expect(validateRunInput(body)).toMatchObject({ ok: true });
    for (const size of FLUX_LORA_FAST.sizes) {
      expect(validateRunInput({ prompt: 'a lion', width: size.width, height: size.height })).toMatchObject({
        ok: true,
      });
    }
  });
});
