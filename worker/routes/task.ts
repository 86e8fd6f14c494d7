/**
 * `POST /v1/Task/Detail|Cancel|Kill` and `GET /v1/Task/Events`: all take the Worker's task
 * token, never a bare `taskid` (Wiro's ids are sequential: anyone could read anyone's task).
 */
import { Hono } from 'hono';
import { readBody } from '../body';
import { type Bindings, readConfig } from '../env';
import { ApiError } from '../errors';
import { taskByToken } from '../task/token';
import { unwrap } from './outcome';

export const task = new Hono<{ Bindings: Bindings }>();

async function tokenFrom(request: Request, env: Bindings): Promise<string> {
  const body = await readBody(request, readConfig(env).maxBodyBytes);
  // Wiro's Kill page calls the token `socketaccesstoken`; accept both spellings.
  const token = body.tasktoken ?? body.socketaccesstoken;
  if (token === undefined || token === '') {
    const why = body.taskid !== undefined ? ': this Worker does not accept taskid, which is guessable' : '';
    throw new ApiError(400, [{ code: 0, field: 'tasktoken', message: `tasktoken is required${why}` }]);
  }
  return String(token);
}

task.post('/Task/Detail', async (c) => {
  const stub = taskByToken(c.env, await tokenFrom(c.req.raw, c.env));
  const found = unwrap(await stub.detail());
  return c.json({ result: true, errors: [], total: '1', tasklist: [found] });
});

task.post('/Task/Cancel', async (c) => {
  const stub = taskByToken(c.env, await tokenFrom(c.req.raw, c.env));
  return c.json({ result: true, errors: [], tasklist: [unwrap(await stub.stop('cancel'))] });
});

task.post('/Task/Kill', async (c) => {
  const stub = taskByToken(c.env, await tokenFrom(c.req.raw, c.env));
  return c.json({ result: true, errors: [], tasklist: [unwrap(await stub.stop('kill'))] });
});

task.get('/Task/Events', async (c) => {
  const stub = taskByToken(c.env, c.req.query('tasktoken'));
  return stub.fetch(c.req.raw);
});
