/**
 * `POST /v1/Run/wiro/text-to-image-flux-lora-fast`: validates the inputs (nothing reaches Wiro
 * unless they are good), mints the task's token and lets the new task object start it.
 * Any other `/v1/Run/...` path is refused here, before any work.
 */
import { Hono } from 'hono';
import { readBody } from '../body';
import { type Bindings, readConfig } from '../env';
import { ApiError } from '../errors';
import { callbackUrl, mintToken, newTaskObject } from '../task/token';
import { TOOL_SLUG } from '../tool/catalog';
import { validateRunInput } from '../tool/schema';
import { unwrap } from './outcome';

export const run = new Hono<{ Bindings: Bindings }>();

run.post(`/Run/${TOOL_SLUG}`, async (c) => {
  const config = readConfig(c.env);
  const body = await readBody(c.req.raw, config.maxBodyBytes);
  const checked = validateRunInput(body);
  if (!checked.ok) throw new ApiError(400, checked.errors);
  if (checked.value.callbackUrl && !c.env.WEBHOOK_SECRET) {
    const message = 'callbackUrl needs WEBHOOK_SECRET set on the Worker, so that deliveries can be verified';
    throw new ApiError(400, [{ code: 0, field: 'callbackUrl', message }]);
  }

  const token = mintToken();
  const task = newTaskObject(c.env, token);
  const origin = config.publicUrl ?? new URL(c.req.url).origin;
  const answer = await task.stub.start({
    token,
    input: checked.value.input,
    origin,
    callbackUrl: await callbackUrl(origin, config.callbackSecret, task.id),
    ...(checked.value.callbackUrl ? { clientCallbackUrl: checked.value.callbackUrl } : {}),
  });
  return c.json(unwrap(answer));
});

run.all('/Run/*', () => {
  throw new ApiError(404, [{ code: 1, message: `This Worker serves only ${TOOL_SLUG}` }]);
});
