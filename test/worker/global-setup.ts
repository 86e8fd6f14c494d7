/** Starts the Wiro emulators for the worker tests (manual timing: tests move tasks themselves). */
import type { TestProject } from 'vitest/node';
import { startEmulator } from '../../emulator/emulator.ts';
import { EMULATOR_KEY, EMULATOR_SECRET } from './constants.ts';

export default async function setup(project: TestProject) {
  const emulator = await startEmulator({ apiKey: EMULATOR_KEY, apiSecret: EMULATOR_SECRET, speed: 0 });
  // A second Wiro project, "API key only": no secret, no signature.
  const keyOnly = await startEmulator({ apiKey: EMULATOR_KEY, apiSecret: '', speed: 0 });
  project.provide('emulatorUrl', emulator.url);
  project.provide('keyOnlyEmulatorUrl', keyOnly.url);
  return async () => {
    await Promise.all([emulator.close(), keyOnly.close()]);
  };
}
