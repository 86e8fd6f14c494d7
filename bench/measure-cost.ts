/**
 * Cost per task: how many calls Wiro receives per completed task, counted from the emulator's
 * call log, at realistic speed (emulator speed 1: a task takes about 6 s), for a handful of
 * tasks in parallel, on each way the Worker can learn that a task ended:
 * (a) normal: Wiro's realtime socket and the callback (the task object re-reads once to believe
 *     an ending: a callback or a socket message is only a hint);
 * (b) callbacks lost (emulator `dropCallbacks`), the socket still works;
 * (c) callbacks lost and the socket refused (emulator `socket: false`): the task object polls
 *     Task/Detail with backoff (1, 1, 2, 2, 3, 3, 5 … s) until it sees the end.
 * Compared with a plain Wiro client polling Task/Detail every 2 s or 5 s for the same duration:
 * 1 Run + ceil(duration / interval) calls. Tasks are watched over SSE, which costs no Wiro call.
 * Also reported: how late the end reaches a watcher on each path.
 */
import type { EmulatorConfig } from '../emulator/emulator.ts';
import { startTask, watchSse } from './clients.ts';
import { errorMessage, fmt, type Metric, mean, median, metric, sleep, waitFor, withTimeout } from './lib.ts';
import { calledTaskIds, settleTasks, type World, wiroTaskOf, workerCalls } from './world.ts';

const TASKS = 5;
const TASK_TIMEOUT_MS = 40_000;

interface PathResult {
  /** Wiro API calls per task (Run included). */
  callsPerTask: number[];
  /** Socket connections to Wiro per task (not billed calls; shown for completeness). */
  socketsPerTask: number[];
  /** Run answer → task end, per task, in s. */
  durations: number[];
  /** Task ended on the emulator → an SSE watcher had it, per task, in ms. */
  noticeMs: number[];
  runs: number;
  error?: string;
}

async function runPath(world: World, config: Partial<EmulatorConfig>): Promise<PathResult> {
  const { emulator, workerUrl } = world;
  const result: PathResult = { callsPerTask: [], socketsPerTask: [], durations: [], noticeMs: [], runs: 0 };
  try {
    emulator.configure({ ...config, speed: 1 });
    const since = Date.now();
    const tasks = await withTimeout(
      Promise.all(
        Array.from({ length: TASKS }, async () => {
          const started = await startTask(workerUrl);
          const answeredAt = Date.now();
          const watcher = watchSse(workerUrl, started.token);
          try {
            const end = await watcher.terminal;
            // Found once the task is over: reading the emulator's state must not delay the watcher.
            return { ...wiroTaskOf(world, started), answeredAt, receivedAt: end.at };
          } finally {
            watcher.close();
          }
        }),
      ),
      TASK_TIMEOUT_MS,
      `${TASKS} tasks to end`,
    );
    // A callback is recorded once its POST is answered, which can be after the watcher already
    // had the end (from the socket): wait for every task's record, so nothing is counted early.
    await waitFor(
      'the emulator to record every callback',
      () => {
        const recorded = new Set(emulator.state().callbacks.map((c) => c.taskid));
        return tasks.every((t) => recorded.has(t.wiroId)) ? true : undefined;
      },
      10_000,
      100,
    ).catch(() => undefined);
    // And for any re-read that callback caused to land in the log.
    await sleep(200);
    const state = emulator.state();
    const calls = workerCalls(state, since);
    const taskOf = calledTaskIds(state);
    result.runs = calls.filter((c) => c.route === 'Run').length;
    for (const task of tasks) {
      const mine = calls.filter((c) => c.route !== 'Run' && taskOf(c) === task.wiroId).length;
      result.callsPerTask.push(1 + mine);
      result.socketsPerTask.push((state.sockets ?? []).filter((s) => s.taskid === task.wiroId).length);
      // The task ended when the emulator first said so: its socket message or its callback
      // (recorded, sent or dropped, with the moment it began).
      const signals = [
        state.callbacks.find((c) => c.taskid === task.wiroId)?.at,
        (state.socketMessages ?? []).find((m) => m.taskid === task.wiroId && m.type === 'task_postprocess_end')?.at,
      ].filter((at): at is number => at !== undefined);
      const endedAt = signals.length > 0 ? Math.min(...signals) : undefined;
      if (endedAt !== undefined) {
        result.durations.push((endedAt - task.answeredAt) / 1000);
        result.noticeMs.push(task.receivedAt - endedAt);
      }
    }
  } catch (error) {
    result.error = errorMessage(error);
  } finally {
    try {
      emulator.configure({ speed: 0, dropCallbacks: false, socket: true });
    } catch {
      emulator.configure({ speed: 0, dropCallbacks: false });
    }
    await settleTasks(world);
  }
  return result;
}

function pathNote(r: PathResult): string {
  let note = `${r.callsPerTask.length} tasks in parallel: ${JSON.stringify(r.callsPerTask)}`;
  if (r.socketsPerTask.some((n) => n > 0)) note += `; socket connections ${JSON.stringify(r.socketsPerTask)}`;
  if (r.runs !== r.callsPerTask.length) note += `; ${r.runs} Runs upstream`;
  if (r.error) note += `; error: ${r.error}`;
  return note;
}

export async function measureCost(world: World): Promise<Metric[]> {
  world.log(`cost: (a) ${TASKS} tasks at speed 1, socket + callbacks`);
  const normal = await runPath(world, { dropCallbacks: false });
  world.log(`cost: (b) ${TASKS} tasks at speed 1, callbacks dropped`);
  const lost = await runPath(world, { dropCallbacks: true });
  world.log(`cost: (c) ${TASKS} tasks at speed 1, callbacks dropped and socket refused`);
  const polling = await runPath(world, { dropCallbacks: true, socket: false });

  // To 0.1 s: milliseconds of jitter around a 6.0 s task must not flip ceil() from run to run.
  const measured = median([...normal.durations, ...lost.durations, ...polling.durations]);
  const duration = measured === null ? null : Math.round(measured * 10) / 10;
  const client = (interval: number) => (duration === null ? null : 1 + Math.ceil(duration / interval));
  const rows: [string, string, PathResult, string][] = [
    ['normal', 'socket + callback', normal, 'Run + the re-read that confirms the end'],
    ['lost_callback', 'callbacks lost, socket on', lost, 'the socket tells the end'],
    [
      'polling',
      'callbacks lost, socket refused',
      polling,
      'polls at 1, 2, 4, 6, 9 … s after the Run: the 6 s poll lands just after a 6.0 s task ends (luck of timing)',
    ],
  ];
  return [
    metric('cost.task_duration', 'Cost: task duration at emulator speed 1', measured, 's', 'Run answer → task end'),
    ...rows.map(([key, label, r]) =>
      metric(
        `cost.${key}.calls_per_task`,
        `Cost: Wiro calls per task, ${label}`,
        mean(r.callsPerTask),
        'calls',
        pathNote(r),
        'lower',
      ),
    ),
    metric(
      'cost.wiro_poll_2s.calls_per_task',
      'Cost: Wiro client polling Detail every 2 s',
      client(2),
      'calls',
      `computed: 1 Run + ceil(${fmt(duration)} s / 2 s)`,
    ),
    metric(
      'cost.wiro_poll_5s.calls_per_task',
      'Cost: Wiro client polling Detail every 5 s',
      client(5),
      'calls',
      `computed: 1 Run + ceil(${fmt(duration)} s / 5 s)`,
    ),
    ...rows.map(([key, label, r, how]) =>
      metric(
        `cost.${key}.notice.p50`,
        `Task end → SSE watcher, ${label}, p50`,
        median(r.noticeMs),
        'ms',
        how,
        key === 'polling' ? undefined : 'lower',
      ),
    ),
  ];
}
