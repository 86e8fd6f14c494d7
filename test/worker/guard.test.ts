/**
 * The owner's wallet: origins, rate and running-task limits, daily budgets, Turnstile,
 * idempotency and hardening. Each control is shown both ways: allowed passes, abuse is refused
 * with a clear answer, and nothing reaches Wiro. Limits are set per test by handing the app an
 * env with other vars (the task objects keep the suite's own env).
 */
import { SELF } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BASE, call, emulator, post, RUN_PATH, runAs, setUsage, validRun, wiroIdOf } from './helpers';

const ALLOWED = 'https://allowed.example';

beforeEach(async () => {
  await emulator.reset();
});

afterEach(() => {
  vi.restoreAllMocks();
});

async function cancel(response: Response) {
  const { socketaccesstoken } = (await response.json()) as { socketaccesstoken: string };
  await post('/v1/Task/Cancel', { tasktoken: socketaccesstoken });
  return socketaccesstoken;
}

describe('origins', () => {
  it('lets an allowed origin in with CORS headers', async () => {
    const response = await SELF.fetch(`${BASE}/v1/Tool`, { headers: { origin: ALLOWED } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(response.headers.get('vary')).toContain('Origin');
  });

  it('answers a preflight from an allowed origin', async () => {
    const response = await SELF.fetch(`${BASE}${RUN_PATH}`, {
      method: 'OPTIONS',
      headers: { origin: ALLOWED, 'access-control-request-method': 'POST' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-headers')).toContain('idempotency-key');
  });

  it('refuses another origin before any work, in Wiro’s envelope', async () => {
    const response = await post(RUN_PATH, validRun, { origin: 'https://evil.example' });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({
      result: false,
      errors: [{ message: expect.stringContaining('evil') }],
    });
    // The refusal itself is readable by the page, so it can show what to do; it carries no data.
    expect(response.headers.get('access-control-allow-origin')).toBe('https://evil.example');
    expect(await emulator.callCount()).toBe(0);
    const preflight = await SELF.fetch(`${BASE}${RUN_PATH}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example' },
    });
    expect(preflight.status).toBe(403);
  });

  it('streams a task to an allowed origin, with CORS headers on the stream', async () => {
    const started = await post(RUN_PATH, validRun);
    const { socketaccesstoken } = (await started.json()) as { socketaccesstoken: string };
    await post('/v1/Task/Cancel', { tasktoken: socketaccesstoken });
    const response = await SELF.fetch(`${BASE}/v1/Task/Events?tasktoken=${socketaccesstoken}`, {
      headers: { origin: ALLOWED },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(await response.text()).toContain('event: task_cancel');
  });

  it('allows any origin with ALLOWED_ORIGINS=*', async () => {
    const response = await call('/v1/Tool', {
      headers: { origin: 'https://any.example' },
      vars: { ALLOWED_ORIGINS: '*' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('lets servers (no Origin header) and the demo page (same origin) in', async () => {
    expect((await call('/v1/Tool')).status).toBe(200);
    expect((await call('/v1/Tool', { headers: { origin: BASE } })).status).toBe(200);
  });
});

describe('the rate limit', () => {
  const vars = { RUN_LIMIT_PER_MINUTE: '3', MAX_RUNNING_PER_CLIENT: '100' };

  it('lets RUN_LIMIT_PER_MINUTE Runs through, then answers 429 with Retry-After and calls nothing', async () => {
    for (let i = 0; i < 3; i++) expect((await runAs('198.51.100.1', vars)).status).toBe(200);
    const refused = await runAs('198.51.100.1', vars);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const answer = (await refused.json()) as { result: boolean; errors: Array<{ message: string }> };
    expect(answer.result).toBe(false);
    expect(answer.errors[0]?.message).toMatch(/3 a minute/);
    expect((await emulator.state()).calls.filter((c) => c.route === 'Run')).toHaveLength(3);
  });

  it('counts a visitor once, whatever Origin it claims: one IP, or one IPv6 /64', async () => {
    const anyOrigin = { ...vars, ALLOWED_ORIGINS: '*' };
    for (let i = 0; i < 3; i++) {
      expect((await runAs('198.51.100.2', anyOrigin, { origin: `https://site-${i}.example` })).status).toBe(200);
    }
    expect((await runAs('198.51.100.2', anyOrigin, { origin: 'https://site-9.example' })).status).toBe(429);
    expect((await runAs('198.51.100.2', anyOrigin)).status).toBe(429);
    expect((await runAs('198.51.100.3', anyOrigin)).status).toBe(200);

    for (let i = 1; i <= 3; i++) expect((await runAs(`2001:db8:7:1::${i}`, vars)).status).toBe(200);
    expect((await runAs('2001:0db8:0007:0001:ffff:1:2:3', vars)).status).toBe(429);
    expect((await runAs('2001:db8:7:2::1', vars)).status).toBe(200);
  });

  it('counts Runs that Wiro refuses too; a refusal gives back only the running slot', async () => {
    const oneAtATime = { RUN_LIMIT_PER_MINUTE: '3', MAX_RUNNING_PER_CLIENT: '1' };
    await emulator.fault({ route: 'Run', kind: 'balance', times: 2 });
    for (let i = 0; i < 2; i++) expect((await runAs('198.51.100.4', oneAtATime)).status).toBe(402);
    // The refusals freed the one running slot…
    expect((await runAs('198.51.100.4', oneAtATime)).status).toBe(200);
    // …but used the minute's Runs: the next one never reaches Wiro.
    const refused = await runAs('198.51.100.4', oneAtATime);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ errors: [{ message: expect.stringMatching(/3 a minute/) }] });
    expect((await emulator.state()).calls.filter((c) => c.route === 'Run')).toHaveLength(3);
  });
});

describe('the running-task cap', () => {
  const vars = { MAX_RUNNING_PER_CLIENT: '2' };

  it('refuses a third task while two run, and lets one in when one ends', async () => {
    const first = await runAs('198.51.100.10', vars);
    expect((await runAs('198.51.100.10', vars)).status).toBe(200);
    const refused = await runAs('198.51.100.10', vars);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ errors: [{ code: 96 }] });
    await cancel(first);
    expect((await runAs('198.51.100.10', vars)).status).toBe(200);
  });
});

describe('the daily budget', () => {
  it('refuses Runs once today’s Runs are used up, and reads still work', async () => {
    const started = await runAs('198.51.100.20');
    const { socketaccesstoken } = (await started.json()) as { socketaccesstoken: string };
    await setUsage((usage) => {
      usage.runs = 100000;
    });
    const refused = await runAs('198.51.100.20');
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({
      errors: [{ message: expect.stringContaining('No more images today') }],
    });
    expect((await post('/v1/Task/Detail', { tasktoken: socketaccesstoken })).status).toBe(200);
    expect((await emulator.state()).calls.filter((c) => c.route === 'Run')).toHaveLength(1);
    await setUsage((usage) => {
      usage.runs = 0;
    });
  });

  it('caps spend, and each origin on its own', async () => {
    const vars = {
      ORIGIN_DAILY_SPEND_LIMIT: '0.5',
      ALLOWED_ORIGINS: 'https://spender.example, https://thrifty.example',
    };
    await setUsage((usage) => {
      usage.origins['https://spender.example'] = { runs: 3, spend: 0.5 };
    });
    const refused = await runAs('198.51.100.21', vars, { origin: 'https://spender.example' });
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ errors: [{ message: expect.stringContaining('spender.example') }] });
    expect((await runAs('198.51.100.21', vars, { origin: 'https://thrifty.example' })).status).toBe(200);
  });

  it('books Wiro’s totalcost when a task ends, visible on the protected stats route', async () => {
    const started = await runAs('198.51.100.22', {}, { origin: ALLOWED });
    const { socketaccesstoken } = (await started.json()) as { taskid: string; socketaccesstoken: string };
    await emulator.advance(await wiroIdOf(socketaccesstoken), 'task_postprocess_end');
    await post('/v1/Task/Detail', { tasktoken: socketaccesstoken });
    expect((await SELF.fetch(`${BASE}/v1/Stats`)).status).toBe(401);
    expect((await SELF.fetch(`${BASE}/v1/Stats`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const response = await SELF.fetch(`${BASE}/v1/Stats`, { headers: { authorization: 'Bearer test-admin-token' } });
    expect(response.status).toBe(200);
    const { usage } = (await response.json()) as { usage: any };
    expect(usage.origins[ALLOWED].spend).toBeGreaterThan(0);
    expect(usage.day).toBe(new Date().toISOString().slice(0, 10));
  });
});

describe('Turnstile', () => {
  const vars = { TURNSTILE_SECRET: 'turnstile-secret' };
  let verdicts: Array<{ success: boolean; 'error-codes'?: string[] }>;
  let verified: FormData[];

  beforeEach(() => {
    verdicts = [];
    verified = [];
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (!url.startsWith('https://challenges.cloudflare.com/')) return realFetch(input, init);
      verified.push(init?.body as FormData);
      return Response.json(verdicts.shift() ?? { success: false, 'error-codes': ['timeout-or-duplicate'] });
    });
  });

  it('lets a Run with a valid token through, checked server-side with the secret', async () => {
    verdicts = [{ success: true }];
    const response = await runAs('198.51.100.30', vars, { 'cf-turnstile-response': 'token-1' });
    expect(response.status).toBe(200);
    expect(verified[0]?.get('secret')).toBe('turnstile-secret');
    expect(verified[0]?.get('response')).toBe('token-1');
  });

  it('takes the token from the body too', async () => {
    verdicts = [{ success: true }];
    const body = JSON.stringify({ ...validRun, 'cf-turnstile-response': 'token-2' });
    const response = await call(RUN_PATH, { method: 'POST', body, vars, ip: '198.51.100.31' });
    expect(response.status).toBe(200);
  });

  it('refuses a Run without a token, or with a used one, and calls nothing', async () => {
    const missing = await runAs('198.51.100.32', vars);
    expect(missing.status).toBe(403);
    expect(verified).toHaveLength(0);
    verdicts = [{ success: true }];
    expect((await runAs('198.51.100.32', vars, { 'cf-turnstile-response': 'token-3' })).status).toBe(200);
    const replayed = await runAs('198.51.100.32', vars, { 'cf-turnstile-response': 'token-3' });
    expect(replayed.status).toBe(403);
    expect(await replayed.json()).toMatchObject({
      errors: [{ message: expect.stringContaining('timeout-or-duplicate') }],
    });
    expect((await emulator.state()).calls.filter((c) => c.route === 'Run')).toHaveLength(1);
  });

  it('publishes the site key for the widget', async () => {
    const response = await call('/v1/Tool', { vars: { TURNSTILE_SITE_KEY: '0xSITEKEY' } });
    expect(await response.json()).toMatchObject({ turnstile: { sitekey: '0xSITEKEY' } });
  });
});

describe('Idempotency-Key', () => {
  const key = { 'idempotency-key': 'f2c4a9d0-3b1e-4c55-9a7e-6d8b0c1e2f3a' };

  it('answers the first task to repeats and never starts a second paid task', async () => {
    const first = await post(RUN_PATH, validRun, key);
    const second = await post(RUN_PATH, validRun, key);
    expect(second.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.json()).toEqual(await first.json());
    expect((await emulator.state()).calls.filter((c) => c.route === 'Run')).toHaveLength(1);
  });

  it('starts one task for a burst of simultaneous repeats (a double click)', async () => {
    const burst = { 'idempotency-key': 'burst-0000-1111-2222' };
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(RUN_PATH, validRun, burst)));
    const tokens = await Promise.all(
      answers.map(async (response) => ((await response.json()) as any).socketaccesstoken),
    );
    expect(new Set(tokens).size).toBe(1);
    expect((await emulator.state()).calls.filter((c) => c.route === 'Run')).toHaveLength(1);
  });

  it('refuses the same key with other inputs (422) and a malformed key (400)', async () => {
    const other = { 'idempotency-key': 'other-inputs-key-1234' };
    await post(RUN_PATH, validRun, other);
    expect((await post(RUN_PATH, { ...validRun, steps: 30 }, other)).status).toBe(422);
    expect((await post(RUN_PATH, validRun, { 'idempotency-key': 'short' })).status).toBe(400);
    expect((await emulator.state()).calls.filter((c) => c.route === 'Run')).toHaveLength(1);
  });

  it('lets a key start a task after Wiro refused its first try (nothing was billed)', async () => {
    const retry = { 'idempotency-key': 'retry-after-failure-1' };
    await emulator.fault({ route: 'Run', kind: '502', times: 1 });
    expect((await post(RUN_PATH, validRun, retry)).status).toBe(502);
    expect((await post(RUN_PATH, validRun, retry)).status).toBe(200);
  });
});

describe('hardening', () => {
  it('sends a Content Security Policy with the demo page and nosniff everywhere', async () => {
    const page = await SELF.fetch(`${BASE}/`);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const api = await SELF.fetch(`${BASE}/v1/Tool`);
    expect(api.headers.get('x-content-type-options')).toBe('nosniff');
    expect(api.headers.get('x-request-id')).toMatch(/.{8,}/);
  });

  it('logs one structured line per request, with no secret and no token', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
    const started = await post(RUN_PATH, validRun);
    const { socketaccesstoken } = (await started.json()) as { socketaccesstoken: string };
    await post('/v1/Task/Detail', { tasktoken: socketaccesstoken });
    const logged = lines.join('\n');
    expect(lines.some((line) => JSON.parse(line).path === RUN_PATH)).toBe(true);
    expect(logged).not.toContain(socketaccesstoken);
    expect(logged).not.toContain('test-secret');
    expect(logged).not.toContain('test-key');
  });
});
