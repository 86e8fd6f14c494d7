/**
 * `POST /v1/Callback/<object>/<signature>`: where Wiro reports a task's end. A callback is only
 * a hint: the task object re-reads the task from Wiro before it believes anything. Its body is
 * read for one thing only, Wiro's token, which lets a Run whose answer was lost be found; the
 * object checks with Wiro that the token's task was sent with this very callback URL.
 */
import { Hono } from 'hono';
import { readBody } from '../body';
import { type Bindings, readConfig } from '../env';
import { taskByCallback } from '../task/token';
import { unwrap } from './outcome';

export const callback = new Hono<{ Bindings: Bindings }>();

callback.post('/Callback/:object/:signature', async (c) => {
  const config = readConfig(c.env);
  const stub = await taskByCallback(c.env, config, c.req.param('object'), c.req.param('signature'));
  const body = await readBody(c.req.raw, config.maxBodyBytes).catch(() => undefined);
  unwrap(await stub.hint(body));
  return c.json({ result: true, errors: [] });
});
