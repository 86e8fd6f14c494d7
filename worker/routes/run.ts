/**
 * `POST /v1/Run/wiro/text-to-image-flux-lora-fast`: everything that stands between a request
 * and the owner's wallet, cheapest first: the inputs (one schema), an idempotent repeat (answered
 * from the first task), the bot check, the client's rate and running-task limits, and the daily
 * budget. Only then does the new task object start the task on Wiro.
 * Any other `/v1/Run/...` path is refused here, before any work.
 */
import { Hono } from 'hono';
import { readBody } from '../body';
import { type Bindings, readConfig } from '../env';
import { ApiError } from '../errors';
import { clientOf } from '../guard/client';
import { idempotencyKey, idempotentToken, requestFingerprint } from '../guard/idempotency';
import { verifyTurnstile } from '../guard/turnstile';
import type { StartAnswer } from '../task/task-object';
import { callbackUrl, mintToken, newTaskObject } from '../task/token';
import { TOOL_SLUG } from '../tool/catalog';
import { validateRunInput } from '../tool/schema';
import { unwrap } from './outcome';

export const run = new Hono<{ Bindings: Bindings }>();

const TURNSTILE_FIELD = 'cf-turnstile-response';

run.post(`/Run/${TOOL_SLUG}`, async (c) => {
  const config = readConfig(c.env);
  const request = c.req.raw;
  const { [TURNSTILE_FIELD]: turnstileField, ...body } = await readBody(request, config.maxBodyBytes);
  const checked = validateRunInput(body);
  if (!checked.ok) throw new ApiError(400, checked.errors);
  if (checked.value.callbackUrl && !c.env.WEBHOOK_SECRET) {
    const message = 'callbackUrl needs WEBHOOK_SECRET set on the Worker, so that deliveries can be verified';
    throw new ApiError(400, [{ code: 0, field: 'callbackUrl', message }]);
  }

  const client = clientOf(request);
  const key = idempotencyKey(request);
  const token = key ? await idempotentToken(config.callbackSecret, client.origin, key) : mintToken();
  const fingerprint = key ? await requestFingerprint(checked.value) : undefined;
  const task = newTaskObject(c.env, token);
  if (key) {
    const replay = await task.stub.replay(fingerprint);
    if (replay) return answer(unwrap(replay));
  }

  if (c.env.TURNSTILE_SECRET) {
    await verifyTurnstile(c.env.TURNSTILE_SECRET, request.headers.get(TURNSTILE_FIELD) ?? turnstileField, client.ip);
  }
  const ticket = crypto.randomUUID();
  const limiter = c.env.LIMITER.get(c.env.LIMITER.idFromName(client.key));
  const admission = await limiter.admit(ticket, config.limits);
  if (!admission.ok) {
    const code = admission.reason === 'running' ? 96 : 0;
    throw new ApiError(429, [{ code, message: admission.message }], {
      headers: { 'retry-after': String(admission.retryAfter) },
    });
  }
  const budget = c.env.BUDGET.get(c.env.BUDGET.idFromName('global'));
  const reserved = await budget.reserve(client.origin, config.budget);
  if (!reserved.ok) {
    await limiter.refund(ticket);
    throw new ApiError(429, [{ code: 0, message: reserved.message }], { headers: { 'retry-after': '3600' } });
  }

  const publicOrigin = config.publicUrl ?? new URL(c.req.url).origin;
  const refund = () => Promise.all([limiter.refund(ticket), budget.refund(client.origin)]);
  let started: StartAnswer;
  try {
    started = unwrap(
      await task.stub.start({
        token,
        input: checked.value.input,
        publicOrigin,
        callbackUrl: await callbackUrl(publicOrigin, config.callbackSecret, task.id),
        client: { key: client.key, origin: client.origin },
        ticket,
        ...(checked.value.callbackUrl ? { clientCallbackUrl: checked.value.callbackUrl } : {}),
        ...(fingerprint ? { fingerprint } : {}),
        ...(config.socketUrl ? { socketUrl: config.socketUrl } : {}),
      }),
    );
  } catch (error) {
    // Nothing was started (Wiro refused the Run, unbilled): give back what it took.
    await refund();
    throw error;
  }
  // A repeat that raced the first request got the first task: it started nothing either.
  if (started.replayed) await refund();
  return answer(started);
});

/** Wiro's answer; a repeat says so in a header, not in Wiro's envelope. */
function answer({ replayed, ...envelope }: StartAnswer): Response {
  return Response.json(envelope, { headers: replayed ? { 'idempotent-replayed': 'true' } : {} });
}

run.all('/Run/*', () => {
  throw new ApiError(404, [{ code: 1, message: `This Worker serves only ${TOOL_SLUG}` }]);
});
