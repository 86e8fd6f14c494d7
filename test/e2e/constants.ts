/** Shared by the end-to-end setup and tests. Not real secrets. */
export const E2E_KEY = 'e2e-key-5b0c1d';
export const E2E_SECRET = 'e2e-secret-93aa7e';
/** Emulator speed for the suite: a task takes about 2 s. */
export const E2E_SPEED = 3;
/** Where screenshots go (gitignored). */
export const SCREENSHOTS = 'test-results/screenshots';
