/**
 * What every measurement gets (the emulator, the Worker's URL, a logger) and helpers over the
 * emulator's state: which upstream calls the Worker made, and tidying up tasks left running so
 * that their polls do not disturb the next measurement.
 */
import type { CallRecord, Emulator, EmulatorState } from '../test/emulator/emulator.ts';
import { directNonces } from './clients.ts';
import { waitFor } from './lib.ts';

export interface World {
  emulator: Emulator;
  emulatorUrl: string;
  workerUrl: string;
  /** Progress lines (stderr), so stdout carries only the table. */
  log(line: string): void;
}

/** The calls the Worker made to the emulator (not the bench's own signed calls) since `since`. */
export function workerCalls(state: EmulatorState, since: number, until = Number.POSITIVE_INFINITY): CallRecord[] {
  return state.calls.filter(
    (call) => call.at >= since && call.at <= until && (call.nonce === null || !directNonces.has(call.nonce)),
  );
}

/** The `taskid` an upstream Task/Detail (or Cancel, Kill) call named, if any. */
export function calledTaskId(call: CallRecord): string | undefined {
  const body = call.body as Record<string, unknown> | null;
  const id = body && typeof body === 'object' ? (body.taskid ?? body.tasktoken) : undefined;
  return id === undefined ? undefined : String(id);
}

/**
 * Ends every task still open on the emulator (Wiro's cancel, which also sends the callback), and
 * waits until the Worker has taken each of those callbacks, so no task object keeps polling.
 */
export async function settleTasks(world: World, timeoutMs = 15_000): Promise<number> {
  const { emulator } = world;
  const open = emulator.state().tasks.filter((t) => t.status !== 'task_postprocess_end' && t.status !== 'task_cancel');
  for (const task of open) {
    try {
      emulator.advance(task.id, 'task_cancel');
    } catch {
      // Ended meanwhile.
    }
  }
  const withCallback = new Set(open.filter((t) => t.callbackurl).map((t) => t.id));
  if (withCallback.size === 0) return open.length;
  await waitFor(
    'the Worker to take the cancel callbacks',
    () => {
      const done = new Set(emulator.state().callbacks.map((c) => c.taskid));
      return [...withCallback].every((id) => done.has(id)) ? true : undefined;
    },
    timeoutMs,
    100,
  ).catch((error: unknown) => world.log(`warning: ${String(error)}`));
  return open.length;
}
