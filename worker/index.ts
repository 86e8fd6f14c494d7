/**
 * wiro-flux-edge: a Wiro-compatible API for `wiro/text-to-image-flux-lora-fast` that keeps the
 * key at the edge. Routes are mounted under `/v1`; everything else is the widget and the demo
 * page from static assets. Every error leaves through `onError`, in Wiro's envelope.
 */
import { Hono } from 'hono';
import type { Bindings } from './env';
import { ApiError, errorResponse, WiroCode } from './errors';
import { origins } from './middleware/origins';
import { requestLog } from './middleware/request-log';
import { securityHeaders } from './middleware/security-headers';
import { callback } from './routes/callback';
import { file } from './routes/file';
import { openapi } from './routes/openapi';
import { run } from './routes/run';
import { socket } from './routes/socket';
import { stats } from './routes/stats';
import { task } from './routes/task';
import { tool } from './routes/tool';

export { BudgetObject } from './guard/budget';
export { LimiterObject } from './guard/limiter';
export { TaskObject } from './task/task-object';

const app = new Hono<{ Bindings: Bindings; Variables: { requestId: string } }>();

// Outermost first. Security headers run innermost: they copy the response (a Durable Object's
// or an asset's headers cannot change), so the CORS headers can then be set on it.
app.use('*', requestLog());
app.use('/v1/*', origins());
app.use('*', securityHeaders());
app.route('/v1', run);
app.route('/v1', task);
app.route('/v1', tool);
app.route('/v1', callback);
app.route('/v1', socket);
app.route('/v1', file);
app.route('/v1', stats);
app.route('/v1', openapi);

app.all('/v1/*', (c) => {
  throw new ApiError(404, [
    { code: WiroCode.notFound, message: `No such route: ${c.req.method} ${new URL(c.req.url).pathname}` },
  ]);
});

app.all('*', (c) => c.env.ASSETS.fetch(c.req.raw));

app.onError((error, c) => {
  if (error instanceof ApiError) return errorResponse(error);
  // Hono's own errors (a malformed request it could not route, say) keep their status.
  const status = 'status' in error && typeof error.status === 'number' ? error.status : 500;
  console.error(`wiro-flux-edge: ${c.req.method} ${new URL(c.req.url).pathname}: ${error.message}`);
  return errorResponse(
    new ApiError(status >= 400 && status < 600 ? status : 500, 'The Worker failed to answer this request'),
  );
});

export default app;
