/**
 * Cloudflare Turnstile, for public pages: with `TURNSTILE_SECRET` set, a Run needs a fresh
 * challenge token (header `cf-turnstile-response`, or the body field of the same name), checked
 * server-side. Turnstile tokens are single use: Cloudflare answers a replay with
 * `timeout-or-duplicate`, so one solved challenge starts at most one task.
 */
import { ApiError, WiroCode } from '../errors';

const SITEVERIFY = 'https://challenges.cloudflare.com/turnstile/v0/siteverify';

export async function verifyTurnstile(secret: string, token: unknown, ip: string | undefined): Promise<void> {
  if (typeof token !== 'string' || token === '' || token.length > 2048) {
    throw new ApiError(403, [
      {
        code: WiroCode.general,
        field: 'cf-turnstile-response',
        message: 'Please complete the bot check (Turnstile) first',
      },
    ]);
  }
  const form = new FormData();
  form.set('secret', secret);
  form.set('response', token);
  if (ip) form.set('remoteip', ip);
  let outcome: { success?: boolean; 'error-codes'?: string[] };
  try {
    const response = await fetch(SITEVERIFY, { method: 'POST', body: form, signal: AbortSignal.timeout(5000) });
    outcome = await response.json();
  } catch (error) {
    throw new ApiError(502, 'The bot check (Turnstile) could not be verified: try again', { cause: error });
  }
  if (outcome.success !== true) {
    const codes = outcome['error-codes']?.join(', ') || 'rejected';
    throw new ApiError(403, [
      {
        code: WiroCode.general,
        field: 'cf-turnstile-response',
        message: `The bot check failed (${codes}): please try it again`,
      },
    ]);
  }
}
