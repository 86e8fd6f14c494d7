/**
 * One structured log line per request, with a request id the client also gets back
 * (`x-request-id`, Cloudflare's ray id when there is one). Logs carry no secrets, no bodies, no
 * tokens and no client IPs: the path is logged without its query string.
 */
import type { MiddlewareHandler } from 'hono';
import type { Bindings } from '../env';

export function requestLog(): MiddlewareHandler<{ Bindings: Bindings; Variables: { requestId: string } }> {
  return async function logRequest(c, next) {
    const started = Date.now();
    const requestId = c.req.header('cf-ray') ?? crypto.randomUUID();
    c.set('requestId', requestId);
    await next();
    if (c.res.status !== 101) c.res.headers.set('x-request-id', requestId);
    const line = {
      level: c.res.status >= 500 ? 'error' : c.res.status >= 400 ? 'warn' : 'info',
      requestId,
      method: c.req.method,
      path: new URL(c.req.url).pathname.replace(/\/v1\/(Callback|File)\/.*/, '/v1/$1/…'),
      status: c.res.status,
      ms: Date.now() - started,
      origin: c.req.header('origin') ?? null,
    };
    console.log(JSON.stringify(line));
  };
}
