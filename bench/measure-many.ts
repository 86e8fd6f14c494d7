/**
 * Many tasks at once: 1,000 tasks started through the Worker, each watched by one SSE watcher,
 * then all ended together. Emulator at speed 0, so nothing moves until the bench says so: the
 * Runs (50 in flight) each open their watcher as soon as they are answered; once every watcher
 * has the task's first status, the emulator ends every task in one loop by cancelling it (Wiro's
 * `task_cancel`: one socket message and one callback per task, no outputs to draw, so the loop is
 * cheap and what is measured is the Worker's fan-out of 1,000 ends, not 16,000 relayed statuses).
 * Latency per task: from just before the emulator was told to end it to its watcher having the
 * terminal status (the end includes the Worker's confirming re-read, as in the single-task
 * figure). "None lost": every watcher got a terminal status within the bound.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type Started, startTask, type Watcher, watchSse } from './clients.ts';
import { errorMessage, fmt, type Metric, mapLimit, median, metric, now, p95, withTimeout } from './lib.ts';
import { settleTasks, type World, wiroTaskOf } from './world.ts';

export const TASKS = 1000;
const RUN_CONCURRENCY = 50;
const START_TIMEOUT_MS = 120_000;
const READY_TIMEOUT_MS = 30_000;
const END_TIMEOUT_MS = 60_000;
/** Wiro's own way to end a task at once: one status, one callback. */
const END_STATUS = 'task_cancel';

interface Follow {
  task: Started;
  watcher: Watcher;
}

export async function measureMany(world: World): Promise<Metric[]> {
  const { emulator, workerUrl, log } = world;
  emulator.configure({ speed: 0, dropCallbacks: false });
  const follows: Follow[] = [];
  const runErrors: string[] = [];
  const startBegin = now();
  log(`many: ${TASKS} Runs (${RUN_CONCURRENCY} in flight), one SSE watcher each`);
  try {
    await withTimeout(
      mapLimit(Array.from({ length: TASKS }), RUN_CONCURRENCY, async (_, i) => {
        try {
          const task = await startTask(workerUrl, {
            'cf-connecting-ip': `10.88.${Math.floor(i / 250)}.${(i % 250) + 1}`,
          });
          follows.push({ task, watcher: watchSse(workerUrl, task.token) });
        } catch (error) {
          runErrors.push(errorMessage(error));
        }
      }),
      START_TIMEOUT_MS,
      `starting ${TASKS} tasks`,
    );
  } catch (error) {
    runErrors.push(errorMessage(error));
  }
  const startMs = now() - startBegin;
  const ready = await withTimeout(
    Promise.allSettled(follows.map((f) => f.watcher.ready)),
    READY_TIMEOUT_MS,
    'watchers connecting',
  ).catch(() => []);
  const connected = ready.filter((r) => r.status === 'fulfilled').length;
  log(`many: ${follows.length} tasks started in ${fmt(startMs / 1000, 1)} s, ${connected} watchers connected`);

  // End them all at once; each task's moment is taken just before the emulator is told.
  const endAt = new Map<Started, number>();
  const stalls = monitorEventLoopDelay({ resolution: 10 });
  stalls.enable();
  const endBegin = now();
  for (const { task } of follows) {
    try {
      const wiro = wiroTaskOf(world, task);
      endAt.set(task, Date.now());
      emulator.advance(wiro.wiroId, END_STATUS);
    } catch (error) {
      runErrors.push(errorMessage(error));
    }
  }
  const endLoopMs = now() - endBegin;
  // Each watcher bounded on its own, so one that never hears the end is counted lost, not all.
  const received = await Promise.allSettled(
    follows.map((f) => withTimeout(f.watcher.terminal, END_TIMEOUT_MS, 'the end reaching a watcher')),
  );
  const allEndedMs = now() - endBegin;
  stalls.disable();
  const stallMs = Math.max(0, stalls.max / 1e6 - 10);
  for (const f of follows) f.watcher.close();

  const latencies: number[] = [];
  received.forEach((r, i) => {
    const sentAt = endAt.get((follows[i] as Follow).task);
    if (r.status === 'fulfilled' && sentAt !== undefined) latencies.push(r.value.at - sentAt);
  });
  const lost = TASKS - latencies.length;
  log(
    `many: ${latencies.length}/${TASKS} watchers had the end; p50 ${fmt(median(latencies))} ms, p95 ${fmt(p95(latencies))} ms; ` +
      `end loop ${fmt(endLoopMs, 0)} ms; this process stalled ≤ ${fmt(stallMs, 0)} ms` +
      (runErrors.length > 0 ? `; ${runErrors.length} errors, first: ${runErrors[0]}` : ''),
  );
  await settleTasks(world);
  const notes =
    `${latencies.length}/${TASKS} watchers had the end (${END_STATUS}); the emulator ended all in a ${fmt(endLoopMs, 0)} ms loop` +
    (stallMs >= 50 ? `; this process stalled up to ${fmt(stallMs, 0)} ms` : '');
  return [
    metric(
      'many.started',
      `Many: tasks started at once (${RUN_CONCURRENCY} Runs in flight)`,
      follows.length,
      'tasks',
      `in ${fmt(startMs / 1000, 1)} s; ${connected} SSE watchers connected` +
        (runErrors.length > 0 ? `; ${runErrors.length} errors, first: ${runErrors[0]}` : ''),
      'higher',
    ),
    metric('many.lost', `Many: tasks whose watcher never had the end (of ${TASKS})`, lost, 'tasks', '', 'lower'),
    metric(
      'many.end.p50',
      `Many: ${TASKS} tasks ended at once, end → its SSE watcher, p50`,
      median(latencies),
      'ms',
      notes,
      'lower',
    ),
    metric(
      'many.end.p95',
      `Many: ${TASKS} tasks ended at once, end → its SSE watcher, p95`,
      p95(latencies),
      'ms',
      '',
      'lower',
    ),
    metric('many.all_ended', 'Many: end loop start → last watcher had the end', allEndedMs, 'ms', '', 'lower'),
  ];
}
