/** Starts one Wiro emulator for the worker tests (manual timing: tests move tasks themselves). */
import type { TestProject } from 'vitest/node';
import { startEmulator } from '../emulator/emulator.ts';
import { EMULATOR_KEY, EMULATOR_SECRET } from './constants.ts';

export default async function setup(project: TestProject) {
  const emulator = await startEmulator({ apiKey: EMULATOR_KEY, apiSecret: EMULATOR_SECRET, speed: 0 });
  project.provide('emulatorUrl', emulator.url);
  return () => emulator.close();
}
