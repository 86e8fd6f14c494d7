/** The one input schema as a pure function: defaults, normalisation, every bad field at once. */
import { describe, expect, it } from 'vitest';
import { upstreamRunBody, validateRunInput, withSeed } from '../../../worker/tool/schema';

describe('validateRunInput', () => {
  it('fills defaults, normalises types, and leaves the seed to be drawn', () => {
    const checked = validateRunInput({ prompt: '  a lion ', steps: '12', selectedLoraModel: [] });
    expect(checked.ok).toBe(true);
    if (!checked.ok) return;
    expect(checked.value.input).toMatchObject({ prompt: 'a lion', steps: 12, selectedLoraModel: '655', samples: 1 });
    expect(checked.value.input.seed).toBeUndefined();
    expect(withSeed(checked.value.input).seed).toMatch(/^\d{1,10}$/);
    expect(withSeed({ ...checked.value.input, seed: '42' }).seed).toBe('42');
  });

  it('answers every bad field at once, one error each, naming it', () => {
    const checked = validateRunInput({ prompt: '', steps: 0, width: 1000, colour: 'red', selectedLoraModel: '9' });
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    expect(checked.errors.map((error) => error.field).sort()).toEqual(
      ['colour', 'prompt', 'selectedLoraModel', 'steps', 'width'].sort(),
    );
    for (const error of checked.errors) expect(error.message).toContain(String(error.field));
  });

  it('ignores prose where a callbackUrl should be, and refuses a URL it may not call', () => {
    const prose = validateRunInput({ prompt: 'x', callbackUrl: 'You can provide a callback URL; Wiro will POST' });
    expect(prose).toMatchObject({ ok: true, value: { ignored: expect.stringMatching(/not a URL/) } });
    const internal = validateRunInput({ prompt: 'x', callbackUrl: 'https://metadata.google.internal./x' });
    expect(internal).toMatchObject({ ok: false, errors: [{ field: 'callbackUrl' }] });
  });

  it('sends Wiro only the chosen style’s scale, by its setting id', () => {
    const checked = validateRunInput({ prompt: 'x', selectedLoraModel: '1328', 'WPAP-ART-Style': '0.4', seed: 1 });
    if (!checked.ok) throw new Error('valid');
    const body = upstreamRunBody(withSeed(checked.value.input), 'https://edge/cb');
    expect(body).toMatchObject({ 'WPAP-ART-Style': '0.4', seed: '1', callbackUrl: 'https://edge/cb' });
    expect(body).not.toHaveProperty('loraScales');
  });
});
