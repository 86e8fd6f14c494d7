/**
 * Bad input is refused before it costs money: every kind of bad Run body answers 400 with one
 * error per bad field, the message names the field, and the emulator saw no call at all.
 */
import { SELF } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import { BASE, detail, emulator, post, RUN_PATH, startTask, validRun } from './helpers';

beforeEach(async () => {
  await emulator.reset();
});

const badBodies: Array<[string, Record<string, unknown>, string]> = [
  ['no prompt', { steps: 20 }, 'prompt'],
  ['an empty prompt', { prompt: '   ' }, 'prompt'],
  ['a prompt that is not text', { prompt: 42 }, 'prompt'],
  ['a prompt over the length cap', { prompt: 'x'.repeat(2001) }, 'prompt'],
  ['an unknown LoRA', { ...validRun, selectedLoraModel: '9999' }, 'selectedLoraModel'],
  ['steps of zero', { ...validRun, steps: 0 }, 'steps'],
  ['steps over the cap', { ...validRun, steps: 51 }, 'steps'],
  ['fractional steps', { ...validRun, steps: 2.5 }, 'steps'],
  ['steps as words', { ...validRun, steps: 'twenty' }, 'steps'],
  ['a negative guidance scale', { ...validRun, scale: -1 }, 'scale'],
  ['a guidance scale of Infinity text', { ...validRun, scale: 'Infinity' }, 'scale'],
  ['samples over the cap', { ...validRun, samples: 5 }, 'samples'],
  ['a seed with letters', { ...validRun, seed: '12ab' }, 'seed'],
  ['a negative seed', { ...validRun, seed: -5 }, 'seed'],
  ['a seed over 32 bits', { ...validRun, seed: '4294967296' }, 'seed'],
  ['a width that is not a multiple of 16', { ...validRun, width: 1000 }, 'width'],
  ['a height over the cap', { ...validRun, height: 4096 }, 'height'],
  ['a width under the floor', { ...validRun, width: 64 }, 'width'],
  [
    'a LoRA URL over http',
    { ...validRun, selectedLoraModelPrivateUrl: 'http://example.com/a.safetensors' },
    'selectedLoraModelPrivateUrl',
  ],
  [
    'a LoRA URL on a private host',
    { ...validRun, selectedLoraModelPrivateUrl: 'https://192.168.1.2/a.safetensors' },
    'selectedLoraModelPrivateUrl',
  ],
  [
    'a LoRA URL on localhost',
    { ...validRun, selectedLoraModelPrivateUrl: 'https://localhost/a.safetensors' },
    'selectedLoraModelPrivateUrl',
  ],
  [
    'a LoRA URL with credentials',
    { ...validRun, selectedLoraModelPrivateUrl: 'https://u:p@files.example.com/a' },
    'selectedLoraModelPrivateUrl',
  ],
  ['a LoRA scale over 1', { ...validRun, selectedLoraModel: '1328', 'WPAP-ART-Style': 1.5 }, 'WPAP-ART-Style'],
  ['a field the model does not have', { ...validRun, negative_prompt: 'blurry' }, 'negative_prompt'],
  ['a callbackUrl to a private network', { ...validRun, callbackUrl: 'https://10.0.0.5/hook' }, 'callbackUrl'],
];

describe('a bad Run body', () => {
  it.each(badBodies)('with %s answers 400 naming the field, and nothing reaches Wiro', async (_, body, field) => {
    const response = await post(RUN_PATH, body);
    const answer = (await response.json()) as {
      result: boolean;
      errors: Array<{ code: number; field: string; message: string }>;
    };
    expect(response.status).toBe(400);
    expect(answer.result).toBe(false);
    expect(answer.errors).toHaveLength(1);
    expect(answer.errors[0]?.field).toBe(field);
    expect(answer.errors[0]?.message).toContain(field);
    expect(await emulator.callCount()).toBe(0);
  });

  it('lists every bad field at once, one error each', async () => {
    const response = await post(RUN_PATH, { prompt: '', steps: 0, width: 1000, seed: 'x' });
    const answer = (await response.json()) as { errors: Array<{ field: string }> };
    expect(response.status).toBe(400);
    expect(answer.errors.map((error) => error.field).sort()).toEqual(['prompt', 'seed', 'steps', 'width']);
    expect(await emulator.callCount()).toBe(0);
  });

  it.each([
    ['invalid JSON', '{"prompt": ', 'application/json', 400],
    ['a JSON array', '[1, 2]', 'application/json', 400],
    ['a JSON string', '"a lion"', 'application/json', 400],
  ])('that is %s answers %i in Wiro’s envelope', async (_, body, type, status) => {
    const response = await SELF.fetch(`${BASE}${RUN_PATH}`, {
      method: 'POST',
      headers: { 'content-type': type },
      body,
    });
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(await response.json()).toMatchObject({ result: false, errors: [{ code: 0 }] });
    expect(await emulator.callCount()).toBe(0);
  });

  it('over the size cap answers 413 without being read whole', async () => {
    const response = await post(RUN_PATH, { prompt: 'x'.repeat(100_000) });
    expect(response.status).toBe(413);
    expect(await emulator.callCount()).toBe(0);
  });

  it('with an uploaded file answers 400 (this model takes none)', async () => {
    const form = new FormData();
    form.set('prompt', 'a lion');
    form.set('inputImage', new File(['png'], 'a.png', { type: 'image/png' }));
    const response = await SELF.fetch(`${BASE}${RUN_PATH}`, { method: 'POST', body: form });
    expect(response.status).toBe(400);
    expect(await emulator.callCount()).toBe(0);
  });
});

describe('a good Run body', () => {
  it('in multipart/form-data reaches Wiro normalized, with defaults filled in', async () => {
    const form = new FormData();
    form.set('prompt', '  a lion  ');
    form.set('steps', '12');
    form.set('scale', '4.5');
    form.set('seed', '42');
    form.set('selectedLoraModel', '1328');
    form.set('WPAP-ART-Style', '0.7');
    const response = await SELF.fetch(`${BASE}${RUN_PATH}`, { method: 'POST', body: form });
    expect(response.status).toBe(200);
    const { calls } = await emulator.state();
    expect(calls).toHaveLength(1);
    expect(calls[0]?.body).toMatchObject({
      prompt: 'a lion',
      steps: 12,
      scale: '4.5',
      seed: '42',
      samples: 1,
      width: 1024,
      height: 1024,
      selectedLoraModel: '1328',
      'WPAP-ART-Style': '0.7',
      selectedLoraModelPrivateUrl: '',
    });
  });

  it('as Wiro’s own example (selectedLoraModel: []) is taken, with the default LoRA', async () => {
    const response = await post(RUN_PATH, { ...validRun, selectedLoraModel: [], scale: '3.5', seed: '3572004920' });
    expect(response.status).toBe(200);
    const { calls } = await emulator.state();
    expect(calls[0]?.body).toMatchObject({ selectedLoraModel: '655', seed: '3572004920' });
  });

  it('as JSON whatever the Content-Type says (Wiro’s examples label JSON multipart; curl -d says form)', async () => {
    const json = JSON.stringify({ ...validRun, seed: '7' });
    for (const type of ['multipart/form-data', 'application/x-www-form-urlencoded', 'text/plain', '']) {
      const headers: Record<string, string> = type ? { 'content-type': type } : {};
      const response = await SELF.fetch(`${BASE}${RUN_PATH}`, { method: 'POST', headers, body: json });
      expect(response.status, type).toBe(200);
    }
    const { calls } = await emulator.state();
    expect(calls.map((call) => call.body.seed)).toEqual(['7', '7', '7', '7']);
  });

  it('without a seed gets a random one per Run, reported in the task’s parameters', async () => {
    const seeds = [];
    for (let i = 0; i < 3; i++) {
      const { socketaccesstoken } = await startTask(validRun);
      const { body } = await detail(socketaccesstoken);
      seeds.push(body.tasklist[0].parameters.seed);
    }
    for (const seed of seeds) expect(seed).toMatch(/^\d{1,10}$/);
    expect(new Set(seeds).size).toBe(3);
  });

  it('forwards the LoRA URL as the normalised URL that was checked', async () => {
    const url = 'https://HuggingFace.co/user/lora/resolve/main/../main/style.safetensors';
    expect((await post(RUN_PATH, { ...validRun, selectedLoraModelPrivateUrl: url })).status).toBe(200);
    const { calls } = await emulator.state();
    expect(calls[0]?.body.selectedLoraModelPrivateUrl).toBe(
      'https://huggingface.co/user/lora/resolve/main/style.safetensors',
    );
  });

  it('sends only the chosen style’s scale, at its default when not given', async () => {
    await post(RUN_PATH, { ...validRun, selectedLoraModel: '678', 'WPAP-ART-Style': 0.2 });
    const { calls } = await emulator.state();
    expect(calls[0]?.body).toMatchObject({ 'Movie-poster-style-LoRA-Flux-v1.0': '1' });
    expect(calls[0]?.body).not.toHaveProperty('WPAP-ART-Style');
  });
});
