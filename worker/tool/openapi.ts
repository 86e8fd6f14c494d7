/**
 * The OpenAPI 3.1 document of the `/v1` API, served at `GET /v1/openapi.json`. The Run body's
 * schema is generated from the same `FIELDS`, `LORAS` and `LIMITS` that validate a Run, so a
 * changed limit changes the document too. Every example in it is one the end-to-end test
 * (test/e2e/openapi.test.ts) sends to the real Worker and compares with its answer.
 */

import { DEFAULT_LORA, describeTool, type FieldSpec, FLUX_LORA_FAST, LIMITS, LORAS } from '../../shared/tool';
import { WiroCode } from '../errors';
import { NOT_FOUND_MESSAGE } from '../task/token';

const TOOL_SLUG = FLUX_LORA_FAST.slug;
const FIELDS = FLUX_LORA_FAST.fields;

import { wiroToolDetail } from './wiro-tool';

type Schema = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema, examples?: Record<string, { summary: string; value: unknown }>) => ({
  'application/json': { schema, ...(examples ? { examples } : {}) },
});

/** An identifier the Worker issued; this one never existed, so every route answers 404. */
const UNKNOWN_TOKEN = 'NoSuchTaskNoSuchTaskNoSuchTaskNoSuchTask';

/** One input as JSON Schema. Forms send numbers as numeric strings, which Run accepts too. */
function inputSchema(field: FieldSpec): Schema {
  const base = { title: field.label, description: field.help };
  switch (field.kind) {
    case 'textarea':
      return { ...base, type: 'string', minLength: 1, maxLength: field.maxLength, example: field.default };
    case 'select':
      return {
        ...base,
        description: `${field.help} "" (or []) means Wiro's default, "${DEFAULT_LORA}". ${LORAS.map((lora) => `${lora.value}: ${lora.label}${lora.triggerwords.length ? ` (trigger words: ${lora.triggerwords.join(', ')})` : ''}`).join('; ')}.`,
        type: 'string',
        enum: LORAS.map((lora) => lora.value),
        default: DEFAULT_LORA,
      };
    case 'integer':
    case 'float':
      return {
        ...base,
        type: field.kind === 'integer' ? 'integer' : 'number',
        minimum: field.min,
        maximum: field.max,
        ...(field.multipleOf ? { multipleOf: field.multipleOf } : {}),
        default: field.default,
      };
    case 'seed':
      return {
        ...base,
        type: ['integer', 'string'],
        minimum: field.min,
        maximum: field.max,
        pattern: '^\\d{1,10}$',
        example: field.default,
      };
    case 'url':
      return { ...base, type: 'string', format: 'uri', maxLength: field.maxLength };
  }
}

/** The Run body, from the one schema that validates it. */
export function runInputSchema(): Schema {
  const properties: Record<string, Schema> = Object.fromEntries(
    FIELDS.map((field) => [field.name, inputSchema(field)]),
  );
  for (const lora of LORAS) {
    for (const setting of lora.settings) {
      properties[setting.id] = {
        title: setting.label,
        description: `The strength of LoRA ${lora.value} (${lora.label}), when it is the selectedLoraModel.`,
        type: 'number',
        minimum: setting.min,
        maximum: setting.max,
        default: setting.default,
      };
    }
  }
  properties.selectedLoraModelPrivate = {
    description: 'The id of one of your own LoRAs on Wiro, or empty.',
    type: ['string', 'integer'],
    pattern: '^\\d{0,12}$',
  };
  properties.callbackUrl = {
    description:
      'Your webhook: an https URL on a public host and the default port, told once when the task ends (Standard Webhooks signatures). Needs WEBHOOK_SECRET on the Worker.',
    type: 'string',
    format: 'uri',
    maxLength: LIMITS.urlMaxLength,
  };
  return { type: 'object', required: ['prompt'], properties, additionalProperties: false };
}

const errorEnvelope = (code: number, message: string, field?: string) => ({
  result: false,
  errors: [{ code, ...(field ? { field } : {}), message }],
});

const unknownTask = {
  description: 'No task by that identifier: the Worker never issued it. Nothing reaches Wiro.',
  content: json(ref('Envelope'), {
    unknown: {
      summary: 'An identifier the Worker never issued',
      value: errorEnvelope(WiroCode.notFound, NOT_FOUND_MESSAGE),
    },
  }),
};

const methodNotAllowed = (allow: string) => ({
  description: `A wrong method: the answer's Allow header says ${allow}.`,
  headers: { Allow: { schema: { type: 'string', const: allow } } },
  content: json(ref('Envelope')),
});

const upstreamTrouble = {
  '502': { description: 'Wiro is down or answered something that is not its JSON.', content: json(ref('Envelope')) },
  '504': { description: 'Wiro was too slow.', content: json(ref('Envelope')) },
};

const taskRefBody = (names: string[]) => ({
  required: true,
  content: {
    'application/json': {
      schema: {
        type: 'object',
        description: 'Name the task by the taskid or the token its Run answered (either is its capability).',
        properties: Object.fromEntries(names.map((name) => [name, { type: 'string', minLength: 1 }])),
        minProperties: 1,
      },
      examples: {
        unknown: { summary: 'A token the Worker never issued', value: { tasktoken: UNKNOWN_TOKEN } },
      },
    },
  },
});

const stopRoute = (how: 'Cancel' | 'Kill', when: string, names: string[]) => ({
  post: {
    operationId: `task${how}`,
    summary: `Wiro's Task/${how}: ${when}`,
    tags: ['Tasks'],
    requestBody: taskRefBody(names),
    responses: {
      '200': { description: "Wiro's answer", content: json(ref('TaskList')) },
      '400': { description: 'No task named.', content: json(ref('Envelope')) },
      '404': unknownTask,
      '405': methodNotAllowed('POST'),
      '409': { description: 'The task has ended (or is not yet confirmed by Wiro).', content: json(ref('Envelope')) },
      ...upstreamTrouble,
    },
  },
});

const RUN_EXAMPLE = {
  prompt: 'wp4p, a lion under a starry sky',
  selectedLoraModel: '1328',
  steps: 20,
  width: 1024,
  height: 1024,
};

export function openApiDocument() {
  return {
    openapi: '3.1.0',
    info: {
      title: 'wiro-flux-edge',
      version: '1',
      summary: `Wiro's API for ${TOOL_SLUG}, with the key kept at the edge.`,
      description:
        "The same paths, bodies and envelopes as Wiro's, minus the auth headers. Bodies may be JSON, multipart/form-data or url-encoded; a body that is a JSON object is read as JSON whatever its Content-Type says. Every answer is Wiro's envelope, {result, errors: [{code, message, field?}], …}. Wiro's error codes pass through: 0 general (a bad input: one error per field), 1 not found, 96 concurrency limit (429), 97 insufficient balance (402).",
    },
    servers: [{ url: '/', description: 'This Worker' }],
    tags: [
      { name: 'Run', description: 'Start a task' },
      { name: 'Tasks', description: 'Read, follow and stop a task' },
      { name: 'Tool', description: "The model's inputs and LoRA catalog" },
      { name: 'Operator', description: 'For whoever runs the Worker' },
    ],
    paths: {
      [`/v1/Run/${TOOL_SLUG}`]: {
        post: {
          operationId: 'run',
          summary: 'Start a task (billed; never retried by the Worker)',
          tags: ['Run'],
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              description:
                'Repeats with the same key (and the same body) start one task and get its identifiers, for 24 hours.',
              schema: { type: 'string', pattern: '^[\\x21-\\x7e]{8,255}$' },
            },
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: ref('RunInput'),
                examples: {
                  run: { summary: 'A lion in the WPAP style', value: RUN_EXAMPLE },
                  badInput: { summary: 'Too many steps', value: { prompt: 'a lion', steps: 500 } },
                },
              },
              'multipart/form-data': { schema: ref('RunInput') },
              'application/x-www-form-urlencoded': { schema: ref('RunInput') },
            },
          },
          responses: {
            '200': {
              description:
                'The task started. Its taskid and socketaccesstoken are its capability: 59 characters each (40 for a Run with an Idempotency-Key).',
              content: json(ref('RunAnswer'), {
                run: {
                  summary: 'Started',
                  value: {
                    result: true,
                    errors: [],
                    taskid: 'kQ3vX9aLr2TfB7mN0pWc4yHd6sJ1uE8gZo5iKxRtQ2wFh7pLz0bN3cV9xYs',
                    socketaccesstoken: 'kQ3vX9aLr2TfB7mN0pWc4yHd6sJ1uE8gZo5iKxRtQ2wTq2mWd8kR5jG1aUe',
                  },
                },
              }),
            },
            '400': {
              description: 'A bad input: one error per bad field, naming it. Nothing is sent to Wiro.',
              content: json(ref('Envelope'), {
                badInput: {
                  summary: 'Too many steps',
                  value: errorEnvelope(WiroCode.general, `steps must be between 1 and ${LIMITS.stepsMax}`, 'steps'),
                },
              }),
            },
            '402': {
              description: "Wiro's insufficient balance (code 97).",
              content: json(ref('Envelope'), {
                balance: {
                  summary: 'Out of credit',
                  value: errorEnvelope(WiroCode.insufficientBalance, 'Insufficient balance'),
                },
              }),
            },
            '404': {
              description: 'Any other model: this Worker serves only this one.',
              content: json(ref('Envelope')),
            },
            '405': methodNotAllowed('POST'),
            '429': {
              description:
                "Too many Runs (per minute, running at once, per day, or the day's spend), or Wiro's concurrency limit (code 96).",
              headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer', minimum: 1 } } },
              content: json(ref('Envelope')),
            },
            '502': upstreamTrouble['502'],
            '504': {
              description:
                'Wiro was too slow. The task may have started: the envelope carries its taskid and socketaccesstoken; a repeat with the same Idempotency-Key gets it.',
              content: json(ref('Envelope')),
            },
          },
        },
      },
      '/v1/Task/Detail': {
        post: {
          operationId: 'taskDetail',
          summary: 'The task now, in Wiro’s shape',
          tags: ['Tasks'],
          requestBody: taskRefBody(['tasktoken', 'taskid', 'socketaccesstoken']),
          responses: {
            '200': { description: 'The task', content: json(ref('TaskList')) },
            '400': { description: 'No task named.', content: json(ref('Envelope')) },
            '404': unknownTask,
            '405': methodNotAllowed('POST'),
            ...upstreamTrouble,
          },
        },
      },
      '/v1/Task/Cancel': stopRoute('Cancel', 'stop a queued task', ['taskid', 'tasktoken']),
      '/v1/Task/Kill': stopRoute('Kill', 'stop a running task', ['taskid', 'tasktoken', 'socketaccesstoken']),
      '/v1/Task/Events': {
        get: {
          operationId: 'taskEvents',
          summary: 'Every status of the task as it happens (Server-Sent Events)',
          description:
            'One event per status change: `event:` the status, `data:` the task in Wiro’s shape, `id:` increasing. Reconnect with Last-Event-ID (or ?lastEventId=) to get only what was missed. The stream ends after a terminal status (task_postprocess_end, task_cancel); a comment every 15 s keeps it open.',
          tags: ['Tasks'],
          parameters: [
            { name: 'tasktoken', in: 'query', required: true, schema: { type: 'string' }, example: UNKNOWN_TOKEN },
            { name: 'lastEventId', in: 'query', schema: { type: 'string' } },
            { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } },
          ],
          responses: {
            '200': {
              description: 'The stream',
              content: {
                'text/event-stream': {
                  schema: { type: 'string' },
                  example: 'id: 1\nevent: task_queue\ndata: {"id":"…","status":"task_queue","outputs":[],…}\n\n',
                },
              },
            },
            '404': unknownTask,
            '405': methodNotAllowed('GET'),
          },
        },
      },
      '/v1': {
        get: {
          operationId: 'socket',
          summary: 'Wiro’s realtime socket protocol, over a WebSocket',
          description:
            'Connect with `Upgrade: websocket`. Send `{"type":"task_info","tasktoken":"…"}` (the token or the taskid; several on one connection follow several tasks); receive `{"type","id","tasktoken","message","result"}` frames as Wiro sends them: `type` is the status, `message` is null on lifecycle statuses, the progress (`{"type":"progressGenerate","percentage",…}`) on task_output, and the outputs on task_postprocess_end. The connection closes once every task it follows has ended.',
          tags: ['Tasks'],
          responses: {
            '101': { description: 'Switching to the WebSocket protocol' },
            '426': { description: 'Not a WebSocket request', content: json(ref('Envelope')) },
          },
        },
      },
      '/v1/Tool': {
        get: {
          operationId: 'tool',
          summary: 'The input schema, LoRA catalog and limits, for building forms',
          tags: ['Tool'],
          responses: {
            '200': {
              description: 'The tool',
              content: json(ref('ToolAnswer'), {
                tool: {
                  summary: 'This model',
                  value: { result: true, errors: [], tool: describeTool(), upstream: { emulator: false } },
                },
              }),
            },
            '405': methodNotAllowed('GET'),
          },
        },
      },
      '/v1/Tool/Detail': {
        post: {
          operationId: 'toolDetail',
          summary: 'Wiro’s own tool answer for this model (what Wiro’s SDKs’ getModelSchema reads)',
          tags: ['Tool'],
          requestBody: {
            required: true,
            content: json(
              {
                type: 'object',
                required: ['slugowner', 'slugproject'],
                properties: { slugowner: { type: 'string' }, slugproject: { type: 'string' } },
              },
              {
                tool: { summary: 'This model', value: { slugowner: 'wiro', slugproject: TOOL_SLUG.split('/')[1] } },
                other: { summary: 'Any other model', value: { slugowner: 'wiro', slugproject: 'another-model' } },
              },
            ),
          },
          responses: {
            '200': {
              description: "Wiro's shape: tool[0].parameters, groups of items with their limits and options",
              content: json(ref('Envelope'), {
                tool: { summary: 'This model', value: { result: true, errors: [], tool: [wiroToolDetail()] } },
              }),
            },
            '404': {
              description: 'Any other model',
              content: json(ref('Envelope'), {
                other: {
                  summary: 'Any other model',
                  value: errorEnvelope(WiroCode.notFound, `Tool not found: this Worker serves only ${TOOL_SLUG}`),
                },
              }),
            },
            '405': methodNotAllowed('POST'),
          },
        },
      },
      '/v1/Stats': {
        get: {
          operationId: 'stats',
          summary: "Today's Runs and spend, overall and per origin",
          description: 'Exists only when the Worker has ADMIN_TOKEN set; otherwise 404.',
          tags: ['Operator'],
          security: [{ admin: [] }],
          responses: {
            '200': { description: 'Usage, budget and limits', content: json(ref('Envelope')) },
            '401': { description: 'No or a wrong bearer token', content: json(ref('Envelope')) },
            '404': {
              description: 'Stats are off',
              content: json(ref('Envelope'), {
                off: {
                  summary: 'No ADMIN_TOKEN',
                  value: errorEnvelope(WiroCode.notFound, 'Stats are off: set ADMIN_TOKEN to turn them on'),
                },
              }),
            },
          },
        },
      },
      '/v1/openapi.json': {
        get: {
          operationId: 'openapi',
          summary: 'This document',
          tags: ['Tool'],
          responses: {
            '200': { description: 'OpenAPI 3.1', content: json({ type: 'object' }) },
            '405': methodNotAllowed('GET'),
          },
        },
      },
    },
    components: {
      securitySchemes: { admin: { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN' } },
      schemas: {
        RunInput: runInputSchema(),
        ErrorItem: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: { type: 'integer', description: 'Wiro’s code: 0 general, 1 not found, 96 concurrency, 97 balance' },
            message: { type: 'string' },
            field: { type: 'string', description: 'The input the error is about' },
          },
        },
        Envelope: {
          type: 'object',
          required: ['result', 'errors'],
          properties: { result: { type: 'boolean' }, errors: { type: 'array', items: ref('ErrorItem') } },
        },
        RunAnswer: {
          allOf: [
            ref('Envelope'),
            {
              type: 'object',
              required: ['taskid', 'socketaccesstoken'],
              properties: {
                taskid: { type: 'string', pattern: '^(?:[A-Za-z0-9]{40}|[A-Za-z0-9]{59})$' },
                socketaccesstoken: { type: 'string', pattern: '^(?:[A-Za-z0-9]{40}|[A-Za-z0-9]{59})$' },
              },
            },
          ],
        },
        Task: {
          type: 'object',
          description: 'A task in Wiro’s shape: every value a string, as Wiro sends it.',
          required: ['id', 'socketaccesstoken', 'status', 'outputs'],
          properties: {
            id: { type: 'string' },
            socketaccesstoken: { type: 'string' },
            status: { type: 'string', description: 'task_queue … task_postprocess_end, or task_cancel' },
            pexit: { type: 'string', description: '"0" when it succeeded' },
            debugerror: { type: 'string' },
            outputs: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  name: { type: 'string' },
                  contenttype: { type: 'string' },
                  size: { type: 'string' },
                  url: { type: 'string', format: 'uri' },
                },
              },
            },
            createtime: { type: 'string' },
            starttime: { type: 'string' },
            endtime: { type: 'string' },
            elapsedseconds: { type: 'string' },
            totalcost: { type: 'string' },
          },
        },
        TaskList: {
          allOf: [
            ref('Envelope'),
            {
              type: 'object',
              properties: { total: { type: 'string' }, tasklist: { type: 'array', items: ref('Task') } },
            },
          ],
        },
        ToolAnswer: {
          allOf: [
            ref('Envelope'),
            {
              type: 'object',
              required: ['tool'],
              properties: {
                tool: {
                  type: 'object',
                  properties: {
                    slug: { type: 'string', const: TOOL_SLUG },
                    title: { type: 'string' },
                    inputs: { type: 'array', items: { type: 'object' } },
                    loras: { type: 'array', items: { type: 'object' } },
                    sizes: { type: 'array', items: { type: 'object' } },
                    limits: { type: 'object', additionalProperties: { type: 'number' } },
                  },
                },
                upstream: {
                  type: 'object',
                  description: 'Whether the Worker runs against the bundled Wiro emulator (no key configured)',
                  properties: { emulator: { type: 'boolean' } },
                },
                turnstile: {
                  type: 'object',
                  description: 'Present when Runs need a Cloudflare Turnstile token: its public site key',
                  properties: { sitekey: { type: 'string' } },
                },
              },
            },
          ],
        },
      },
    },
  };
}
