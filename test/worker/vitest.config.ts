/**
 * Worker tests run inside workerd (the vitest plugin), against the Wiro emulator that
 * `global-setup.ts` starts on 127.0.0.1. Files run one at a time: they share that emulator,
 * and a fault one file injects must not hit another file's calls.
 */
import { fileURLToPath } from 'node:url';
import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { EMULATOR_KEY, EMULATOR_SECRET } from './constants.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default defineConfig({
  root,
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: {
          WIRO_API_BASE: `${inject('emulatorUrl')}/v1`,
          WIRO_API_KEY: EMULATOR_KEY,
          WIRO_API_SECRET: EMULATOR_SECRET,
          // Short, so the timeout tests stay quick; the emulator's "slow" fault waits longer.
          WIRO_TIMEOUT_MS: '1000',
          // Polls run only when a test runs the alarm; Detail always re-reads a live task.
          POLL_FIRST_MS: '3600000',
          DETAIL_MAX_AGE_MS: '0',
          ALLOWED_ORIGINS: 'https://allowed.example',
          // Generous, so only the guard tests (which set their own) meet the limits.
          RUN_LIMIT_PER_MINUTE: '100000',
          MAX_RUNNING_PER_CLIENT: '100000',
          DAILY_RUN_LIMIT: '100000',
          DAILY_SPEND_LIMIT: '100000',
          ADMIN_TOKEN: 'test-admin-token',
          // Tests that follow Wiro's socket turn it on themselves (test/worker/upstream-socket.test.ts).
          WIRO_SOCKET_URL: 'off',
          WEBHOOK_SECRET: 'whsec_dGVzdC13ZWJob29rLXNlY3JldC0xMjM0NTY3OA==',
        },
        r2Buckets: ['OUTPUTS'],
      },
    })),
  ],
  test: {
    include: ['test/worker/**/*.test.ts'],
    globalSetup: ['test/worker/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 20_000,
    // The Worker logs one JSON line per request (worker/middleware/request-log.ts): some 3,400 here,
    // every one expected, and they buried everything else. The tests that check that line spy on
    // console.log, which still sees it; the Worker's other warnings and errors still print.
    onConsoleLog: (log) => (log.startsWith('{"level":') ? false : undefined),
  },
});
