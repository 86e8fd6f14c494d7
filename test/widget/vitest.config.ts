/**
 * Component tests: `<wiro-flux>` in a real Chromium (Debian's, at /usr/bin/chromium; nothing is
 * downloaded), through Vitest's browser mode. The Worker's API is faked inside each test
 * (fake-api.ts), so these tests need no server and no network.
 */
import { fileURLToPath } from 'node:url';
import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  // The dev server must not try to pre-bundle anything from the network or watch the repo.
  server: { watch: null },
  // Pre-bundled up front, so the first test file does not trigger a reload to optimize it.
  optimizeDeps: { include: ['axe-core'] },
  test: {
    include: ['test/widget/**/*.test.ts'],
    testTimeout: 10_000,
    browser: {
      enabled: true,
      headless: true,
      screenshotFailures: false,
      provider: playwright({
        launchOptions: {
          executablePath: '/usr/bin/chromium',
          args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
        },
      }),
      instances: [{ browser: 'chromium' }],
    },
  },
});
