#!/usr/bin/env node
/**
 * `npm start`: serves the whole product with `wrangler dev` on http://localhost:8787.
 *
 * With a Wiro key (WIRO_API_KEY in the environment or in .dev.vars) the Worker talks to Wiro.
 * Without one, this starts the bundled Wiro emulator on 127.0.0.1 and points the Worker at it,
 * so everything works with no account and nothing is billed; the log and the demo page say so.
 *
 * Any setting the Worker reads may come from the shell too (`ALLOWED_ORIGINS=… npm start`), as
 * well as `npm start -- --var NAME:VALUE`; the settings in effect are printed (secrets by name).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { SECRET_NAMES, VAR_NAMES } from '../worker/settings.ts';

const port = process.env.PORT ?? '8787';
const passThrough = process.argv.slice(2);

function hasKey() {
  if (process.env.WIRO_API_KEY) return true;
  if (!existsSync('.dev.vars')) return false;
  return /^\s*WIRO_API_KEY\s*=\s*\S/m.test(readFileSync('.dev.vars', 'utf8'));
}

const args = ['dev', '--port', port, '--ip', '127.0.0.1', ...passThrough];
const fromShell = [...VAR_NAMES, ...SECRET_NAMES].filter((name) => process.env[name] !== undefined);
for (const name of fromShell) args.push('--var', `${name}:${process.env[name]}`);
if (fromShell.length > 0) {
  const shown = fromShell.map((name) =>
    SECRET_NAMES.includes(name) ? `${name} (secret)` : `${name}=${process.env[name]}`,
  );
  console.log(`wiro-flux-edge: settings from your shell: ${shown.join(', ')}`);
}
let emulator;
if (hasKey()) {
  console.log('wiro-flux-edge: using the Wiro API key from your environment / .dev.vars (real Wiro, real billing).');
} else {
  const { startEmulator } = await import('../emulator/emulator.ts');
  const key = 'emulator-key';
  const secret = 'emulator-secret';
  const speed = Number(process.env.WIRO_EMULATOR_SPEED ?? 1);
  emulator = await startEmulator({
    port: Number(process.env.WIRO_EMULATOR_PORT ?? 8788),
    apiKey: key,
    apiSecret: secret,
    speed,
  });
  console.log(
    `wiro-flux-edge: no WIRO_API_KEY set, so the Worker talks to the bundled Wiro EMULATOR at ${emulator.url}/v1.\n` +
      '  Images are generated patterns and nothing is billed. Set WIRO_API_KEY (and WIRO_API_SECRET) in .dev.vars to use Wiro.',
  );
  args.push(
    '--var',
    `WIRO_API_BASE:${emulator.url}/v1`,
    '--var',
    `WIRO_API_KEY:${key}`,
    '--var',
    `WIRO_API_SECRET:${secret}`,
  );
}

// Nothing leaves the machine but the Worker's own calls, so an offline start prints no stack trace:
// no usage metrics; no fetch of the `Request.cf` sample from workers.cloudflare.com (miniflare's
// built-in placeholder is used); no update check, which goes with the banner (wrangler is pinned in
// package.json, so "update available" would only mislead). Each can be turned back on from the shell.
const QUIET_WRANGLER = {
  WRANGLER_SEND_METRICS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_HIDE_BANNER: 'true',
};
const child = spawn('wrangler', args, {
  stdio: 'inherit',
  env: { ...QUIET_WRANGLER, ...process.env },
});
const stop = () => child.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('exit', async (code) => {
  await emulator?.close();
  process.exit(code ?? 0);
});
