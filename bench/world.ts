/**
 * What every measurement gets (the emulator, the Worker's URL, a logger) and helpers over the
 * emulator's state: which emulator task a Worker task is (the Worker hands out its own ids and
 * keeps Wiro's), which upstream calls the Worker made and for which task, and tidying up tasks
 * left running so that their polls do not disturb the next measurement.
 */
import type { CallRecord, Emulator, EmulatorState } from '../emulator/emulator.ts';
import { directNonces, type Started, startTask } from './clients.ts';
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

/** A task started through the Worker, with the emulator's id and token for it (Wiro's, never handed out). */
export interface Tracked extends Started {
  wiroId: string;
  wiroToken: string;
}

/** Prompt → the emulator's task. Filled from each state read, so Runs started together cost one read. */
const byPrompt = new Map<string, { id: string; token: string }>();

/**
 * The emulator's task behind a task started through the Worker: THE way every measurement maps
 * the Worker's capabilities to the emulator's ids. The Worker answers a Run only after Wiro did,
 * so the task is already there; it is found by the Run's unique prompt (clients.ts), which holds
 * with any number of Runs in flight, unlike "the newest task". Throws when no task has it (a Run
 * the Worker answered but never sent would be a bug worth stopping for).
 */
export function wiroTaskOf(world: World, started: Started): Tracked {
  let found = byPrompt.get(started.prompt);
  if (!found) {
    for (const task of world.emulator.state().tasks) {
      const prompt = task.parameters.prompt;
      // The first task with a prompt keeps it (direct Runs share one prompt; the Worker's never do).
      if (prompt !== undefined && !byPrompt.has(prompt)) {
        byPrompt.set(prompt, { id: task.id, token: task.socketaccesstoken });
      }
    }
    found = byPrompt.get(started.prompt);
  }
  if (!found) throw new Error(`the emulator has no task for the Worker's ${started.taskid} (${started.prompt})`);
  return { ...started, wiroId: found.id, wiroToken: found.token };
}

/** Starts a task through the Worker and finds its emulator task (outside any timed window). */
export async function startTracked(world: World, headers: Record<string, string> = {}): Promise<Tracked> {
  return wiroTaskOf(world, await startTask(world.workerUrl, headers));
}

/**
 * Which emulator task an upstream Task/Detail (or Cancel, Kill) call named: its `taskid`, or,
 * for a `tasktoken` (the Worker polls with Wiro's token), the id of the task with that token.
 * Built once per state read: `const taskOf = calledTaskIds(state); taskOf(call)`.
 */
export function calledTaskIds(state: EmulatorState): (call: CallRecord) => string | undefined {
  const idOfToken = new Map(state.tasks.map((task) => [task.socketaccesstoken, task.id]));
  return (call) => {
    const body = call.body as Record<string, unknown> | null;
    if (!body || typeof body !== 'object') return undefined;
    if (body.taskid !== undefined) return String(body.taskid);
    const token = body.tasktoken ?? body.socketaccesstoken;
    if (token === undefined) return undefined;
    // A token the emulator never issued names no task (and must not match one by accident).
    return idOfToken.get(String(token)) ?? `unknown token ${String(token)}`;
  };
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
