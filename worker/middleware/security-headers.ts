/**
 * Security headers on every answer, and a Content Security Policy on the demo page: scripts
 * only from this origin (and Turnstile's), no framing, images from https and, in emulator mode,
 * from the local emulator that serves them.
 */
import type { MiddlewareHandler } from 'hono';
import { type Bindings, isLoopbackUrl } from '../env';

const TURNSTILE = 'https://challenges.cloudflare.com';

export function contentSecurityPolicy(env: Bindings): string {
  const emulator = env.WIRO_API_BASE && isLoopbackUrl(env.WIRO_API_BASE) ? ` ${new URL(env.WIRO_API_BASE).origin}` : '';
  return [
    "default-src 'self'",
    `script-src 'self' ${TURNSTILE}`,
    `frame-src ${TURNSTILE}`,
    `img-src 'self' data: blob: https:${emulator}`,
    "style-src 'self'",
    // Download fetches the image itself: from wherever the outputs live.
    `connect-src 'self' https:${emulator}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function securityHeaders(): MiddlewareHandler<{ Bindings: Bindings }> {
  return async function addSecurityHeaders(c, next) {
    await next();
    if (c.res.status === 101) return;
    // Assets come back with immutable headers: copy before changing them.
    c.res = new Response(c.res.body, c.res);
    const headers = c.res.headers;
    headers.set('x-content-type-options', 'nosniff');
    headers.set('referrer-policy', 'strict-origin-when-cross-origin');
    if (headers.get('content-type')?.startsWith('text/html')) {
      headers.set('content-security-policy', contentSecurityPolicy(c.env));
      headers.set('x-frame-options', 'DENY');
    }
  };
}
