/**
 * End-to-end tests: a real Chromium (found by test/browser.ts, driven by playwright-core) on a
 * third-party page that embeds the built widget from the real Worker, which talks to the
 * Wiro emulator. Files run one at a time: they share the emulator and its speed setting.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/e2e/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/e2e/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
