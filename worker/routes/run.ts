/**
 * `POST /v1/Run/wiro/text-to-image-flux-lora-fast`: everything that stands between a request and
 * the owner's wallet, cheapest first: the inputs (one schema), the bot check, then the client's
 * rate and running-task limits and the daily budget, asked at once; with an `Idempotency-Key`,
 * the key's claim on its task object at the same time, so a repeat is answered from the first
 * task (never raced) and gives back what it was admitted. Only then does the new task object
 * start the task on Wiro. After the Run is sent it counts against the rate whatever Wiro says; a
 * refusal gives back only the running slot and the reserved cost, and a Run whose answer was lost
 * keeps both: its task object follows it, and books its real cost.
 * Any other `/v1/Run/...` path is refused here, before any work.
 * A started Run's answer carries `Server-Timing` (validate, admit, task; object round trips
 * marked `desc="object"`), so a client can see where its milliseconds went.
 */
import { Hono } from 'hono';
import { readBody } from '../body';
import { type Bindings, type Config, readConfig } from '../env';
import { ApiError, WiroCode } from '../errors';
import { type BudgetAnswer, NO_ORIGIN, OTHER_ORIGINS } from '../guard/budget';
import { type Client, clientOf } from '../guard/client';
import { claimWhileAdmitting, idempotencyKey, idempotentObjectKey, requestFingerprint } from '../guard/idempotency';
import type { Admission } from '../guard/limiter';
import { verifyTurnstile } from '../guard/turnstile';
import { parseOrigins } from '../middleware/origins';
import type { Outcome, StartAnswer } from '../task/record';
import { callbackUrl, mintTaskIds, newTaskObject } from '../task/token';
import { webhookSecretProblem } from '../task/webhook';
import { type RunInput, validateRunInput, withSeed } from '../tool/schema';
import { notServed, servedTool } from '../tool/served';
import { methodNotAllowed } from './methods';
import { fail, unwrap } from './outcome';

export const run = new Hono<{ Bindings: Bindings }>();

const TURNSTILE_FIELD = 'cf-turnstile-response';
const PATH = '/Run/:owner/:project';

run.post(PATH, async (c) => {
  const timing = stepTimer();
  const tool = servedTool(`${c.req.param('owner')}/${c.req.param('project')}`);
  const config = readConfig(c.env);
  const request = c.req.raw;
  const { [TURNSTILE_FIELD]: turnstileField, ...body } = await readBody(request, config.maxBodyBytes);
  const checked = validateRunInput(body, tool);
  if (!checked.ok) throw new ApiError(400, checked.errors);
  const { input, ignored } = checked.value;
  if (checked.value.callbackUrl) {
    const secret = c.env.WEBHOOK_SECRET;
    if (!secret) {
      const message = 'callbackUrl needs WEBHOOK_SECRET set on the Worker, so that deliveries can be verified';
      throw new ApiError(400, [{ code: WiroCode.general, field: 'callbackUrl', message }]);
    }
    // The owner's mistake, found before a task starts whose webhook could never be signed.
    const problem = webhookSecretProblem(secret);
    if (problem) throw new ApiError(503, problem);
  }

  const client = clientOf(request);
  const key = idempotencyKey(request);
  // The fingerprint is taken before a random seed is drawn, so a repeat matches its first Run.
  const fingerprint = key ? await requestFingerprint(checked.value) : undefined;
  const name = key ? await idempotentObjectKey(config.callbackSecret, client.key, key) : undefined;
  const task = newTaskObject(c.env, name);
  const ids = await mintTaskIds(config.callbackSecret, task.key);
  timing.lap('validate');

  const ticket = crypto.randomUUID();
  const admission = (async () => {
    if (c.env.TURNSTILE_SECRET) {
      await verifyTurnstile(c.env.TURNSTILE_SECRET, request.headers.get(TURNSTILE_FIELD) ?? turnstileField, client.ip);
    }
    return admit(c.env, config, client, budgetLine(client, c.env.ALLOWED_ORIGINS, request), ticket, input);
  })();
  let admitted: Admitted;
  if (fingerprint) {
    const claimed = await claimWhileAdmitting(task.stub, fingerprint, admission);
    timing.lap('admit', 'object');
    if ('replay' in claimed) return answer(unwrap(claimed.replay), ignored, timing.header());
    admitted = claimed.admitted;
  } else {
    admitted = await admission;
    timing.lap('admit', 'object');
  }

  const publicOrigin = config.publicUrl ?? new URL(c.req.url).origin;
  const outcome = (await task.stub.start({
    ids,
    slug: tool.slug,
    input: withSeed(input),
    publicOrigin,
    callbackUrl: await callbackUrl(publicOrigin, config.callbackSecret, task.id),
    client: { key: client.key, budgetLine: admitted.line },
    ticket,
    ...(checked.value.callbackUrl ? { clientCallbackUrl: checked.value.callbackUrl } : {}),
    ...(fingerprint ? { fingerprint } : {}),
    ...(config.socketUrl ? { socketUrl: config.socketUrl } : {}),
  })) as Outcome<StartAnswer>;
  timing.lap('task', 'object');
  if (!outcome.ok) {
    // Refused by Wiro: sent (it counts against the rate) but free. Lost: the task object owns
    // the slot and the reservation now. Not sent at all: it counts for nothing.
    if (outcome.run === 'refused') await admitted.refused();
    else if (outcome.run !== 'lost') await admitted.undo();
    return fail(outcome);
  }
  const started = outcome.body;
  // A repeat that found the first task started nothing.
  if (started.replayed) await admitted.undo();
  return answer(started, ignored, timing.header());
});

/**
 * Laps for `Server-Timing`: each lap is the time since the previous one. Object round trips are
 * marked `desc="object"`, so a reader counts the sequential ones without knowing the route.
 * (On Cloudflare the clock moves only across I/O, so pure computation shows as 0.)
 */
function stepTimer() {
  let last = performance.now();
  const laps: string[] = [];
  return {
    lap(name: string, desc?: 'object') {
      const at = performance.now();
      laps.push(`${name};dur=${(at - last).toFixed(1)}${desc ? `;desc="${desc}"` : ''}`);
      last = at;
    },
    header: () => laps.join(', '),
  };
}

interface Admitted {
  line: string;
  /** Wiro refused the Run: free the running slot, book no cost. */
  refused(): Promise<unknown>;
  /** The Run was never sent. */
  undo(): Promise<unknown>;
}

/**
 * The client's limits and the day's budget, asked at once (they are independent objects); if
 * either refuses, what the other granted is given back, so no Run is admitted past a cap.
 */
async function admit(
  env: Bindings,
  config: Config,
  client: Client,
  line: string,
  ticket: string,
  input: RunInput,
): Promise<Admitted> {
  const limiter = env.LIMITER.get(env.LIMITER.idFromName(client.key));
  const budget = env.BUDGET.get(env.BUDGET.idFromName('global'));
  const shape = { steps: input.steps, samples: input.samples, width: input.width, height: input.height };
  const [admission, reserved]: [Admission, BudgetAnswer] = await Promise.all([
    limiter.admit(ticket, config.limits),
    budget.reserve(ticket, line, shape, config.budget),
  ]);
  const undo = () => Promise.all([admission.ok && limiter.undo(ticket), reserved.ok && budget.undo(ticket)]);
  if (!admission.ok) {
    await undo();
    const code = admission.reason === 'running' ? WiroCode.concurrency : WiroCode.general;
    throw new ApiError(429, [{ code, message: admission.message }], {
      headers: { 'retry-after': String(admission.retryAfter) },
    });
  }
  if (!reserved.ok) {
    await undo();
    throw new ApiError(429, [{ code: WiroCode.general, message: reserved.message }], {
      headers: { 'retry-after': String(secondsToMidnightUtc()) },
    });
  }
  return {
    line,
    refused: () => Promise.all([limiter.release(ticket), budget.settle(ticket, 0)]),
    undo,
  };
}

/**
 * The budget line a Run is booked on: its page's origin when the owner listed it (or it is the
 * Worker's own), one shared line for every other origin, so the budget's state stays bounded
 * whatever `Origin` headers say.
 */
function budgetLine(client: Client, allowedOrigins: string | undefined, request: Request): string {
  if (client.origin === undefined) return NO_ORIGIN;
  const allowed = parseOrigins(allowedOrigins);
  const own = client.origin === new URL(request.url).origin;
  return own || (allowed !== '*' && allowed.has(client.origin)) ? client.origin : OTHER_ORIGINS;
}

function secondsToMidnightUtc(now = new Date()): number {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.max(1, Math.ceil((midnight - now.getTime()) / 1000));
}

/** Wiro's answer; a repeat says so in a header, not in Wiro's envelope. */
function answer({ replayed, ...envelope }: StartAnswer, ignored: string | undefined, timing: string): Response {
  const headers: Record<string, string> = { 'server-timing': timing };
  if (replayed) headers['idempotent-replayed'] = 'true';
  if (ignored) headers['wiro-flux-warning'] = ignored;
  return Response.json(envelope, { headers });
}

run.all(PATH, (c) => {
  servedTool(`${c.req.param('owner')}/${c.req.param('project')}`);
  return methodNotAllowed('POST')(c);
});

run.all('/Run/*', notServed);
