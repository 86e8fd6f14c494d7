/**
 * `POST /v1/Callback/<object>/<signature>`: where Wiro reports a task's end. The body is not
 * read at all: a callback only tells the task object to re-read the task from Wiro.
 */
import { Hono } from 'hono';
import { type Bindings, readConfig } from '../env';
import { taskByCallback } from '../task/token';
import { unwrap } from './outcome';

export const callback = new Hono<{ Bindings: Bindings }>();

callback.post('/Callback/:object/:signature', async (c) => {
  const stub = await taskByCallback(c.env, readConfig(c.env), c.req.param('object'), c.req.param('signature'));
  unwrap(await stub.hint());
  return c.json({ result: true, errors: [] });
});
