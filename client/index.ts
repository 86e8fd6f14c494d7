/**
 * `/client.js`: the typed client of wiro-flux-edge, one dependency-free ES module for browsers,
 * Node 20+ and Workers. Its public types are `client.d.ts`, which this file implements. The
 * protocol itself is `core.ts`, which the widget shares; this adds `watch` (an async iterator
 * over `follow`) and `generate` (Run, follow, stop the task when the caller stops waiting).
 *
 * @example
 *   const wiro = createClient({ endpoint: 'https://YOUR-WORKER' });
 *   const task = await wiro.generate({ prompt: 'wp4p, a lion', selectedLoraModel: '1328' }, { onStatus, signal });
 */
import { isCancelled, isTerminal, QUEUED_STATUSES, STATUS_ORDER } from '../shared/protocol';
import type { ClientOptions, WatchOptions, WiroClient, WiroTask } from './client';
import { aborted, connect, WiroError } from './core';

export type * from './client';
export { WiroError };

export function createClient(options: ClientOptions): WiroClient {
  const { run, detail, stop, tool, follow } = connect(options.endpoint, options.fetch);
  const cancel = (token: string) => stop('Cancel', token);
  const kill = (token: string) => stop('Kill', token);

  async function* watch(token: string, { signal, lastEventId }: WatchOptions = {}) {
    const states: WiroTask[] = [];
    let failure: WiroError | undefined;
    let wake = () => {};
    const following = follow(token, {
      lastEventId,
      onState: (task) => {
        states.push(task);
        wake();
      },
      onError: (error) => {
        failure = error;
        wake();
      },
    });
    signal?.addEventListener('abort', () => wake(), { once: true });
    try {
      for (;;) {
        if (signal?.aborted) throw aborted();
        const task = states.shift();
        if (task) {
          yield task;
          if (isTerminal(task.status)) return;
        } else if (failure) throw failure;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      following.close();
    }
  }

  async function generate(
    input: Parameters<WiroClient['generate']>[0],
    { onStatus, signal, idempotencyKey }: Parameters<WiroClient['generate']>[1] = {},
  ) {
    if (signal?.aborted) throw aborted();
    // The Run itself is not aborted midway: it may have started a task, which must then be stopped.
    const started = await run(input, { idempotencyKey });
    const token = started.socketaccesstoken;
    let task: WiroTask = { id: started.taskid, socketaccesstoken: token, status: STATUS_ORDER[0]!, outputs: [] };
    try {
      if (signal?.aborted) throw aborted();
      for await (task of watch(token, { signal })) onStatus?.(task);
    } catch (error) {
      if (signal?.aborted) {
        // Nobody pays for what nobody waits for. Cancel works only while queued; when the task
        // moved on meanwhile (409), Kill.
        await (QUEUED_STATUSES.includes(task.status) ? cancel : kill)(token).catch(() => kill(token).catch(() => {}));
        throw aborted();
      }
      throw error;
    }
    if (isCancelled(task)) throw new WiroError(0, [{ code: 0, message: 'The task was cancelled' }], undefined, task);
    if (task.pexit !== '0') {
      const message = task.debugerror || `The task failed (exit ${task.pexit})`;
      throw new WiroError(0, [{ code: 0, message }], undefined, task);
    }
    return task;
  }

  return { generate, run, watch, detail, cancel, kill, tool: () => tool() };
}
