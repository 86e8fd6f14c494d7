/**
 * `POST /v1/Task/Detail|Cancel|Kill` and `GET /v1/Task/Events`: a task is named by either of the
 * identifiers the Worker handed out for it, its `taskid` or its token (`tasktoken`, or
 * `socketaccesstoken` as Wiro's Kill page calls it), exactly as Wiro's own clients send them.
 * Both are capabilities: anything the Worker never issued answers 404 and reaches nothing.
 */
import { Hono } from 'hono';
import { readBody } from '../body';
import { type Bindings, readConfig } from '../env';
import { ApiError, WiroCode } from '../errors';
import { taskObjectOf } from '../task/token';
import { methodNotAllowed } from './methods';
import { unwrap } from './outcome';

export const task = new Hono<{ Bindings: Bindings }>();

const IDENTIFIERS = ['tasktoken', 'socketaccesstoken', 'taskid'] as const;

function objectOf(env: Bindings, fields: Record<string, unknown>) {
  const given = IDENTIFIERS.map((name) => fields[name]).filter((value) => value !== undefined && value !== '');
  if (given.length === 0) {
    const message = 'Name the task: send its taskid or its tasktoken (from the Run answer)';
    throw new ApiError(400, [{ code: WiroCode.general, field: 'tasktoken', message }]);
  }
  return taskObjectOf(env, readConfig(env).callbackSecret, ...given);
}

async function objectFromBody(request: Request, env: Bindings) {
  return objectOf(env, await readBody(request, readConfig(env).maxBodyBytes));
}

task.post('/Task/Detail', async (c) => {
  const stub = await objectFromBody(c.req.raw, c.env);
  const found = unwrap(await stub.detail());
  return c.json({ result: true, errors: [], total: '1', tasklist: [found] });
});

task.post('/Task/Cancel', async (c) => {
  const stub = await objectFromBody(c.req.raw, c.env);
  return c.json({ result: true, errors: [], tasklist: [unwrap(await stub.stop('cancel'))] });
});

task.post('/Task/Kill', async (c) => {
  const stub = await objectFromBody(c.req.raw, c.env);
  return c.json({ result: true, errors: [], tasklist: [unwrap(await stub.stop('kill'))] });
});

task.get('/Task/Events', async (c) => {
  const stub = await objectOf(c.env, { tasktoken: c.req.query('tasktoken'), taskid: c.req.query('taskid') });
  return stub.fetch(c.req.raw);
});

for (const path of ['/Task/Detail', '/Task/Cancel', '/Task/Kill']) task.all(path, methodNotAllowed('POST'));
task.all('/Task/Events', methodNotAllowed('GET'));
