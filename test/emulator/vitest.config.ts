import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The repo root, wherever vitest is started from.
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/emulator/**/*.test.ts'],
    environment: 'node',
    testTimeout: 10000,
  },
});
