/**
 * Builds the widget, then starts the end-to-end world (emulator, Worker, third-party site) once
 * for every e2e test file; the tests get the three origins through `inject()`.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import type { TestProject } from 'vitest/node';
import { startWorld } from './servers.ts';

export default async function setup(project: TestProject) {
  await build({ configFile: fileURLToPath(new URL('../../widget/vite.config.ts', import.meta.url)), logLevel: 'warn' });
  const world = await startWorld();
  project.provide('emulatorUrl', world.emulatorUrl);
  project.provide('workerUrl', world.workerUrl);
  project.provide('hostUrl', world.hostUrl);
  return () => world.close();
}
