/**
 * A seeded fuzz run: thousands of random and mutated requests (bodies, content types, paths,
 * methods) never produce a 5xx, never hang, always answer Wiro's envelope, and never reach
 * Wiro unless the Run was valid. The seed is printed on failure; the same seed replays the run.
 */
import { SELF } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import { BASE, emulator, RUN_PATH, validRun } from './helpers';

const SEED = 0x5eed_2026;
const REQUESTS = 2500;

/** mulberry32: a small, good-enough seeded generator, so a failure can be replayed exactly. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number) => Math.floor(next() * max);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  return { next, int, pick };
}

type Random = ReturnType<typeof generator>;

const FIELDS = [
  'prompt',
  'selectedLoraModel',
  'selectedLoraModelPrivate',
  'selectedLoraModelPrivateUrl',
  'steps',
  'scale',
  'samples',
  'seed',
  'width',
  'height',
  'callbackUrl',
  'WPAP-ART-Style',
  '__proto__',
  'constructor',
  'tasktoken',
  '',
];

function value(random: Random, depth = 0): unknown {
  const kinds = [
    () => random.int(5000) - 100,
    () => random.next() * 1e6 - 10,
    () => random.pick([0, -0, 1e308, -1e308, Number.MAX_SAFE_INTEGER, 16, 1024, 2048, 2064, 0.1]),
    () => random.pick(['', ' ', '20', '3.5', '1e3', 'NaN', 'Infinity', '-1', '0x10', '１２', '1024 ', '655', '1328']),
    () => 'x'.repeat(random.int(3000)),
    () => String.fromCharCode(...Array.from({ length: random.int(40) }, () => random.int(0xffff))),
    () => random.pick(['https://files.example.com/a.safetensors', 'http://x', 'https://127.0.0.1/', 'javascript:1']),
    () => random.pick([true, false, null]),
    () => (depth < 2 ? Array.from({ length: random.int(4) }, () => value(random, depth + 1)) : []),
    () => (depth < 2 ? { nested: value(random, depth + 1) } : {}),
  ];
  return random.pick(kinds)();
}

function mutatedBody(random: Random): Record<string, unknown> {
  const body: Record<string, unknown> = { ...validRun };
  for (let i = random.int(4); i >= 0; i--) {
    const field = random.pick(FIELDS);
    if (random.next() < 0.25) delete body[field];
    else body[field] = value(random);
  }
  return body;
}

function request(random: Random): { path: string; init: RequestInit } {
  const shape = random.int(10);
  const headers = new Headers({ 'cf-connecting-ip': `10.${random.int(255)}.${random.int(255)}.${random.int(255)}` });
  if (shape === 0) {
    // Random paths and methods.
    const path = random.pick([
      '/v1/Run/wiro/',
      '/v1/Run/../Task/Detail',
      '/v1/Task/',
      '/v1/Task/Detail/x',
      '/v1/Callback/abc/def',
      `/v1/Callback/${'f'.repeat(64)}/${'0'.repeat(64)}`,
      '/v1/File/x/y',
      '/v1/%00',
      '/v1/Run/wiro/text-to-image-flux-lora-fast%2f..',
      '/v1/Tool?x=<script>',
      `/v1/Task/Events?tasktoken=${'Z'.repeat(random.int(60))}`,
    ]);
    return { path, init: { method: random.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']), headers } };
  }
  const path = random.pick([RUN_PATH, RUN_PATH, RUN_PATH, '/v1/Task/Detail', '/v1/Task/Cancel', '/v1/Task/Kill']);
  if (shape === 1) {
    // Raw bytes under a random content type.
    headers.set('content-type', random.pick(['application/json', 'multipart/form-data; boundary=x', 'text/plain', '']));
    const bytes = Uint8Array.from({ length: random.int(600) }, () => random.int(256));
    return { path, init: { method: 'POST', headers, body: bytes } };
  }
  if (shape === 2) {
    const form = new FormData();
    for (const [name, field] of Object.entries(mutatedBody(random))) form.set(name, String(field));
    return { path, init: { method: 'POST', headers, body: form } };
  }
  headers.set('content-type', 'application/json');
  const body = random.next() < 0.1 ? JSON.stringify(value(random)) : JSON.stringify(mutatedBody(random));
  // Sometimes cut the JSON short.
  const text = random.next() < 0.1 ? body.slice(0, random.int(body.length)) : body;
  return { path, init: { method: 'POST', headers, body: text } };
}

beforeEach(async () => {
  await emulator.reset();
});

describe('fuzzing the API', () => {
  it(`answers ${REQUESTS} random and mutated requests without a 5xx, and calls Wiro only for valid Runs`, async () => {
    const random = generator(SEED);
    let startedRuns = 0;
    const failures: string[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const { path, init } = request(random);
      const response = await SELF.fetch(`${BASE}${path}`, init);
      const text = await response.text();
      if (response.status >= 500) failures.push(`#${i} ${init.method} ${path}: ${response.status} ${text}`);
      if (response.status !== 101 && !response.headers.get('content-type')?.startsWith('text/event-stream')) {
        const answer = (() => {
          try {
            return JSON.parse(text);
          } catch {
            return undefined;
          }
        })();
        if (typeof answer?.result !== 'boolean' && path.startsWith('/v1')) {
          failures.push(`#${i} ${init.method} ${path}: not Wiro's envelope: ${text.slice(0, 120)}`);
        }
      }
      if (path === RUN_PATH && init.method === 'POST' && response.status === 200) startedRuns++;
    }
    expect(failures, `seed ${SEED}`).toEqual([]);
    const { calls } = await emulator.state();
    expect(calls.filter((call) => call.route === 'Run')).toHaveLength(startedRuns);
    expect(calls.filter((call) => call.route !== 'Run')).toHaveLength(0);
    // The mutations must reach both sides, or the run proves little.
    expect(startedRuns).toBeGreaterThan(50);
    expect(startedRuns).toBeLessThan(REQUESTS / 2);
    // 2,500 requests take about 10 s alone on two cores; room for a machine that is also busy.
  }, 60_000);
});
