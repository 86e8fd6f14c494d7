/**
 * `GET /v1/Stats`: today's Runs and spend, overall and per origin, for the operator. Open only
 * with `Authorization: Bearer <ADMIN_TOKEN>`; without `ADMIN_TOKEN` set it does not exist.
 */
import { Hono } from 'hono';
import { type Bindings, readConfig } from '../env';
import { ApiError, WiroCode } from '../errors';
import { hmacHex, verifyHmacHex } from '../wiro/sign';

export const stats = new Hono<{ Bindings: Bindings }>();

stats.get('/Stats', async (c) => {
  const adminToken = c.env.ADMIN_TOKEN;
  if (!adminToken)
    throw new ApiError(404, [{ code: WiroCode.notFound, message: 'Stats are off: set ADMIN_TOKEN to turn them on' }]);
  const given = c.req.header('authorization')?.replace(/^Bearer\s+/i, '') ?? '';
  // Compare MACs of both, so the comparison takes the same time whatever the guess.
  if (!(await verifyHmacHex(adminToken, given, await hmacHex(adminToken, adminToken)))) {
    throw new ApiError(401, 'Stats need Authorization: Bearer <ADMIN_TOKEN>', {
      headers: { 'www-authenticate': 'Bearer' },
    });
  }
  const config = readConfig(c.env);
  const usage = await c.env.BUDGET.get(c.env.BUDGET.idFromName('global')).usage();
  return c.json({ result: true, errors: [], usage, budget: config.budget, limits: config.limits });
});
