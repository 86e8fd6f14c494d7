/**
 * Browser origins: CORS for the origins in `ALLOWED_ORIGINS` (exact matches; `*` allows any),
 * and a 403 for a browser request from any other origin before the route does any work.
 * Requests without an `Origin` header (servers, curl) are not browsers' and pass.
 */
import type { MiddlewareHandler } from 'hono';
import type { Bindings } from '../env';
import { ApiError } from '../errors';

const ALLOW_HEADERS = 'content-type, idempotency-key, last-event-id, cf-turnstile-response';
const EXPOSE_HEADERS = 'retry-after, x-request-id, idempotent-replayed, wiro-flux-warning';

export function parseOrigins(value: string | undefined): '*' | Set<string> {
  const list = (value ?? '')
    .split(',')
    .map((origin) => origin.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  return list.includes('*') ? '*' : new Set(list);
}

export function origins(): MiddlewareHandler<{ Bindings: Bindings }> {
  return async function originCheck(c, next) {
    const origin = c.req.header('origin');
    if (origin === undefined) return next();
    const allowed = parseOrigins(c.env.ALLOWED_ORIGINS);
    const sameOrigin = origin === new URL(c.req.url).origin;
    if (allowed !== '*' && !allowed.has(origin) && !sameOrigin) {
      const message = `Origin ${origin} may not use this API: add it to ALLOWED_ORIGINS`;
      console.warn(`wiro-flux-edge: refused a browser request: ${message}`);
      // Readable by the refused page (it carries no data), so the widget can say what to do.
      throw new ApiError(403, message, { headers: { 'access-control-allow-origin': origin, vary: 'Origin' } });
    }
    const headers = {
      'access-control-allow-origin': allowed === '*' ? '*' : origin,
      'access-control-expose-headers': EXPOSE_HEADERS,
      vary: 'Origin',
    };
    if (c.req.method === 'OPTIONS') {
      return new Response(null, {
        status: 204,
        headers: {
          ...headers,
          'access-control-allow-methods': 'GET, POST, OPTIONS',
          'access-control-allow-headers': ALLOW_HEADERS,
          'access-control-max-age': '86400',
        },
      });
    }
    await next();
    // A WebSocket upgrade's headers cannot change (and CORS does not apply to it).
    if (c.res.status === 101) return;
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  };
}
