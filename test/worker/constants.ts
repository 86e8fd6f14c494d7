/** The credentials the worker tests give both the Worker and the emulator. Not real secrets. */
export const EMULATOR_KEY = 'test-key-4d1f9a';
export const EMULATOR_SECRET = 'test-secret-7c2e8b';
