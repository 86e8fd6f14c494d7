/**
 * `GET /v1/openapi.json` against the real Worker: a valid OpenAPI 3.1 document (checked by a
 * real OpenAPI parser), its Run schema the one that validates, and every example it documents
 * what the Worker really answers when sent.
 */
import { validate } from '@readme/openapi-parser';
import { beforeAll, describe, expect, inject, test } from 'vitest';
import { control, normalPace } from './helpers.ts';

interface Example {
  summary: string;
  value: unknown;
}
interface Media {
  schema?: any;
  example?: unknown;
  examples?: Record<string, Example>;
}
interface Operation {
  parameters?: { name: string; in: string; example?: string }[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
}

let doc: any;
const worker = (path: string, init?: RequestInit) => fetch(`${inject('workerUrl')}${path}`, init);

beforeAll(async () => {
  await normalPace();
  const response = await worker('/v1/openapi.json');
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  doc = await response.json();
});

/** Same keys, and values of the same JSON types, all the way down (arrays by their first item). */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.length ? [shapeOf(value[0])] : [];
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, item]) => [key, shapeOf(item)]),
    );
  }
  return typeof value;
}

/** Every operation of the document, with its path and method. */
function operations(): { path: string; method: string; operation: Operation }[] {
  return Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ path, method: method.toUpperCase(), operation })),
  );
}

/** The response examples of an operation, by name, with the status they are documented under. */
function responseExamples(operation: Operation): Map<string, { status: number; value: unknown }> {
  const found = new Map<string, { status: number; value: unknown }>();
  for (const [status, response] of Object.entries(operation.responses)) {
    for (const [name, example] of Object.entries(response.content?.['application/json']?.examples ?? {})) {
      found.set(name, { status: Number(status), value: example.value });
    }
  }
  return found;
}

/** The answer must be the documented example: exactly for refusals, in shape for the rest. */
async function expectDocumented(response: Response, documented: { status: number; value: unknown }, label: string) {
  const answer = await response.json();
  expect(response.status, `${label}: ${JSON.stringify(answer)}`).toBe(documented.status);
  if ((documented.value as { result?: boolean }).result === false) expect(answer, label).toEqual(documented.value);
  else expect(shapeOf(answer), label).toEqual(shapeOf(documented.value));
}

describe('GET /v1/openapi.json', () => {
  test('is a valid OpenAPI 3.1 document of every /v1 route', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(doc));
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/v1',
        '/v1/Run/wiro/text-to-image-flux-lora-fast',
        '/v1/Stats',
        '/v1/Task/Cancel',
        '/v1/Task/Detail',
        '/v1/Task/Events',
        '/v1/Task/Kill',
        '/v1/Tool',
        '/v1/Tool/Detail',
        '/v1/openapi.json',
      ].sort(),
    );
  });

  test('its Run schema is the one that validates: LoRA values, limits and defaults as GET /v1/Tool has them', async () => {
    const { tool } = await (await worker('/v1/Tool')).json();
    const run = doc.components.schemas.RunInput;
    expect(run.additionalProperties).toBe(false);
    expect(run.required).toEqual(['prompt']);
    expect(run.properties.selectedLoraModel.enum).toEqual(tool.loras.map((lora: { value: string }) => lora.value));
    for (const input of tool.inputs) {
      const property = run.properties[input.name];
      expect(property, input.name).toBeDefined();
      if (input.min !== undefined) expect(property.minimum, input.name).toBe(input.min);
      if (input.max !== undefined) expect(property.maximum, input.name).toBe(input.max);
      if (input.maxLength !== undefined) expect(property.maxLength, input.name).toBe(input.maxLength);
      if (input.multipleOf !== undefined) expect(property.multipleOf, input.name).toBe(input.multipleOf);
      if (['integer', 'float', 'select'].includes(input.kind)) expect(property.default, input.name).toBe(input.default);
    }
    for (const setting of tool.loras.flatMap((lora: { settings: { id: string; max: number }[] }) => lora.settings)) {
      expect(run.properties[setting.id]).toMatchObject({ type: 'number', maximum: setting.max });
    }
  });

  test('every documented example is what the Worker answers', async () => {
    const checked = new Set<string>();
    for (const { path, method, operation } of operations()) {
      const documented = responseExamples(operation);
      for (const [name, example] of Object.entries(
        operation.requestBody?.content['application/json']?.examples ?? {},
      )) {
        const expected = documented.get(name);
        expect(expected, `${method} ${path} example "${name}" has a documented answer`).toBeDefined();
        if (!expected) continue;
        const response = await worker(path, {
          method,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(example.value),
        });
        await expectDocumented(response, expected, `${method} ${path} "${name}"`);
        checked.add(`${path} ${name}`);
      }
    }

    // A GET has no request body: each of its examples is the answer to the plain request (Stats
    // while they are off, say).
    for (const { path, method, operation } of operations()) {
      if (method !== 'GET') continue;
      // With the documented parameter examples (Events' token, one the Worker never issued).
      const query = new URLSearchParams(
        (operation.parameters ?? []).flatMap((parameter) =>
          parameter.in === 'query' && parameter.example ? [[parameter.name, parameter.example]] : [],
        ),
      );
      for (const [name, expected] of responseExamples(operation)) {
        await expectDocumented(await worker(`${path}?${query}`), expected, `GET ${path} "${name}"`);
        checked.add(`${path} ${name}`);
      }
    }
    // The answer no request provokes by itself: Wiro out of credit.
    const runPath = '/v1/Run/wiro/text-to-image-flux-lora-fast';
    const runOperation = doc.paths[runPath].post as Operation;
    await control('faults', { route: 'Run', kind: 'balance' });
    const balance = await worker(runPath, {
      method: 'POST',
      body: JSON.stringify(runOperation.requestBody?.content['application/json']?.examples?.run?.value),
    });
    await expectDocumented(balance, responseExamples(runOperation).get('balance') as never, 'Run "balance"');
    checked.add(`${runPath} balance`);

    const all = operations().flatMap(({ path, operation }) =>
      [...responseExamples(operation).keys()].map((name) => `${path} ${name}`),
    );
    expect([...checked].sort()).toEqual([...new Set(all)].sort());
  });

  test('the documented event stream is what Task/Events sends', async () => {
    const example: string = doc.paths['/v1/Task/Events'].get.responses['200'].content['text/event-stream'].example;
    const run = await (
      await worker('/v1/Run/wiro/text-to-image-flux-lora-fast', {
        method: 'POST',
        body: JSON.stringify({ prompt: 'a lion' }),
      })
    ).json();
    const response = await worker(`/v1/Task/Events?tasktoken=${run.socketaccesstoken}`);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await response.text();
    const first = text.split('\n\n').find((block) => block.startsWith('id:')) ?? '';
    // The example's lines, in order: id, event, data (the task as JSON).
    const lines = (block: string) => block.split('\n').map((line) => line.slice(0, line.indexOf(':')));
    expect(lines(first)).toEqual(lines(example.trim()));
    expect(first).toMatch(/^id: \d+\nevent: task_queue\ndata: \{/);
    expect(text).toMatch(/event: task_postprocess_end\n/);
  });

  test('a wrong method answers 405 with Allow', async () => {
    const response = await worker('/v1/openapi.json', { method: 'POST' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET');
    expect(await response.json()).toMatchObject({ result: false, errors: [{ code: 0 }] });
  });
});
