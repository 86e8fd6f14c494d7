/**
 * The name of every setting the Worker reads from `env`, in one list: `npm start` passes these
 * from the shell environment to `wrangler dev`, and a test checks that the README's
 * configuration table documents each one. Plain data (erasable TypeScript), so Node can import it.
 */

/** Plain vars: `[vars]` in wrangler.toml, `--var NAME:VALUE`, or the shell for `npm start`. */
export const VAR_NAMES = [
  'WIRO_API_BASE',
  'ALLOWED_ORIGINS',
  'RUN_LIMIT_PER_MINUTE',
  'MAX_RUNNING_PER_CLIENT',
  'DAILY_RUN_LIMIT',
  'DAILY_SPEND_LIMIT',
  'ORIGIN_DAILY_RUN_LIMIT',
  'ORIGIN_DAILY_SPEND_LIMIT',
  'RUN_COST_ESTIMATE',
  'WIRO_TIMEOUT_MS',
  'TASK_DEADLINE_SECONDS',
  'POLL_FIRST_MS',
  'DETAIL_MAX_AGE_MS',
  'MAX_BODY_BYTES',
  'PUBLIC_URL',
  'TURNSTILE_SITE_KEY',
  'WIRO_SOCKET_URL',
] as const;

/** Secrets: `wrangler secret put NAME`, `.dev.vars`, or the shell for `npm start` (never printed). */
export const SECRET_NAMES = [
  'WIRO_API_KEY',
  'WIRO_API_SECRET',
  'CALLBACK_SECRET',
  'WEBHOOK_SECRET',
  'TURNSTILE_SECRET',
  'ADMIN_TOKEN',
] as const;
