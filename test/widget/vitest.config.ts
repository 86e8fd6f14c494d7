/**
 * Component tests: `<wiro-flux>` in a real Chromium (CHROMIUM_PATH, else a system one, else the
 * npm-shipped one: test/browser.ts; nothing is downloaded), through Vitest's browser mode. The
 * Worker's API is faked inside each test (fake-api.ts), so these tests need no server and no network.
 */
import { fileURLToPath } from 'node:url';
import { playwright } from '@vitest/browser-playwright';
import { defineConfig, type ViteUserConfig } from 'vitest/config';
import { findChromium } from '../browser.ts';

// Async, so the browser is found (and the npm one unpacked) before Vitest launches it.
export default defineConfig(
  async (): Promise<ViteUserConfig> => ({
    root: fileURLToPath(new URL('../..', import.meta.url)),
    // The dev server must not try to pre-bundle anything from the network or watch the repo.
    server: { watch: null },
    // Pre-bundled up front, so the first test file does not trigger a reload to optimize it.
    optimizeDeps: { include: ['axe-core'] },
    test: {
      include: ['test/widget/**/*.test.ts'],
      testTimeout: 10_000,
      // Lit's notice, once per file: Vite serves Lit's development build to tests, as to any dev server.
      onConsoleLog: (log) => (log.startsWith('Lit is in dev mode') ? false : undefined),
      browser: {
        enabled: true,
        headless: true,
        screenshotFailures: false,
        provider: playwright({
          launchOptions: await chromiumLaunchOptions(),
        }),
        instances: [{ browser: 'chromium' }],
      },
    },
  }),
);

async function chromiumLaunchOptions() {
  const { executablePath, args, env } = await findChromium();
  return { executablePath, args, env };
}
