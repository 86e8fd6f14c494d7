/**
 * Load: 100 tasks started through the Worker at once (each with its own `cf-connecting-ip`, which
 * wrangler's dev server passes through: 100 clients; the limits are out of the way anyway),
 * emulator at speed 20 (a task takes about 0.3 s). Every task is watched over SSE to its end,
 * then read once more with Task/Detail. Checked against the emulator's log: exactly 100 Runs
 * reached Wiro (none sent twice), every nonce unique, 100 distinct tasks (the Worker's ids, and
 * the emulator's task behind each), none lost. The emulator shares this process and ends tasks (drawing their PNGs)
 * while Runs still arrive, so the burst's Run latencies include this process's own stalls: the
 * longest is noted next to them.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type Started, startTask, watchSse, workerDetail } from './clients.ts';
import { errorMessage, fmt, type Metric, mapLimit, median, metric, now, p95, timed, withTimeout } from './lib.ts';
import { settleTasks, type World, wiroTaskOf, workerCalls } from './world.ts';

export const TASKS = 100;
const TIMEOUT_MS = 60_000;

export async function measureLoad(world: World): Promise<Metric[]> {
  const { emulator, workerUrl, log } = world;
  emulator.configure({ speed: 20, dropCallbacks: false });
  const since = Date.now();
  const begin = now();
  const beginWall = Date.now();
  log(`load: ${TASKS} Runs at once`);
  const stalls = monitorEventLoopDelay({ resolution: 10 });
  stalls.enable();
  const runs = await Promise.allSettled(
    Array.from({ length: TASKS }, (_, i) =>
      timed(() => startTask(workerUrl, { 'cf-connecting-ip': `10.77.${Math.floor(i / 250)}.${(i % 250) + 1}` })),
    ),
  );
  const burstMs = now() - begin;
  stalls.disable();
  const stallMs = Math.max(0, stalls.max / 1e6 - 10); // minus the 10 ms sampling interval
  const started: Started[] = [];
  const runMs: number[] = [];
  const runErrors: string[] = [];
  for (const r of runs) {
    if (r.status === 'fulfilled') {
      started.push(r.value.value);
      runMs.push(r.value.ms);
    } else {
      runErrors.push(errorMessage(r.reason));
    }
  }

  log(`load: watching ${started.length} tasks to their end`);
  let ended: { status: string; pexit: unknown }[] = [];
  let watchError = '';
  try {
    ended = await withTimeout(
      mapLimit(started, TASKS, async (task) => {
        const watcher = watchSse(workerUrl, task.token);
        try {
          const end = await watcher.terminal;
          return { status: end.status, pexit: end.task?.pexit };
        } finally {
          watcher.close();
        }
      }),
      TIMEOUT_MS,
      'every task to end',
    );
  } catch (error) {
    watchError = errorMessage(error);
  }
  const allEndedMs = now() - begin;

  // Read each once more: the Worker must still know every task, and know it ended.
  const finals = await mapLimit(started, 20, async (task) => {
    try {
      return (await workerDetail(workerUrl, task.token))?.status;
    } catch {
      return undefined;
    }
  });
  const state = emulator.state();
  const calls = workerCalls(state, since);
  const upstreamRuns = calls.filter((c) => c.route === 'Run');
  const nonces = calls.map((c) => c.nonce);
  const uniqueNonces = new Set(nonces).size === nonces.length && nonces.every((n) => n !== null);
  const ids = new Set(started.map((t) => t.taskid));
  // Each Worker task must stand for an emulator task of its own (none sent twice, none shared).
  let wiroIds = new Set<string>();
  let mapError = '';
  try {
    wiroIds = new Set(started.map((t) => wiroTaskOf(world, t).wiroId));
  } catch (error) {
    mapError = errorMessage(error);
  }
  const succeeded = ended.filter((e) => e.status === 'task_postprocess_end' && String(e.pexit) === '0').length;
  const finalTerminal = finals.filter((s) => s === 'task_postprocess_end' || s === 'task_cancel').length;
  const lost = TASKS - finalTerminal;
  emulator.configure({ speed: 0 });
  await settleTasks(world);

  const checks = [
    `Runs answered ${started.length}/${TASKS}`,
    `emulator Runs ${upstreamRuns.length}`,
    `distinct taskids ${ids.size} (emulator tasks ${wiroIds.size})`,
    `nonces ${uniqueNonces ? 'all unique' : 'DUPLICATED'} (${nonces.length} upstream calls)`,
    `ended ${ended.length}, succeeded ${succeeded}`,
  ];
  if (runErrors.length > 0) checks.push(`Run error: ${runErrors[0]}`);
  if (mapError) checks.push(`mapping error: ${mapError}`);
  if (watchError) checks.push(`watch error: ${watchError}`);
  log(`load: ${checks.join('; ')}`);
  // Where the time goes: when the Runs reached Wiro, relative to the burst's start.
  const arrivals = upstreamRuns.map((c) => c.at - beginWall);
  const reached = arrivals.length > 0 ? `Runs reached Wiro +${Math.min(...arrivals)}…+${Math.max(...arrivals)} ms` : '';
  const runsOk =
    upstreamRuns.length === TASKS &&
    started.length === TASKS &&
    ids.size === TASKS &&
    wiroIds.size === TASKS &&
    uniqueNonces;
  return [
    metric(
      'load.runs_per_second',
      `Load: ${TASKS} Runs at once, throughput`,
      started.length / (burstMs / 1000),
      'Runs/s',
      `all ${started.length} answered in ${fmt(burstMs, 0)} ms; ${reached}`,
      'higher',
    ),
    metric(
      'load.run.p50',
      'Load: Run latency under the burst, p50',
      median(runMs),
      'ms',
      stallMs >= 50 ? `this process (clients + emulator) stalled up to ${fmt(stallMs, 0)} ms during the burst` : '',
      'lower',
    ),
    metric('load.run.p95', 'Load: Run latency under the burst, p95', p95(runMs), 'ms', '', 'lower'),
    metric(
      'load.upstream_runs',
      'Load: Runs that reached Wiro',
      upstreamRuns.length,
      'Runs',
      runsOk ? `= ${TASKS}: none sent twice; ${checks.slice(2, 4).join('; ')}` : `PROBLEM: ${checks.join('; ')}`,
    ),
    metric(
      'load.ended',
      'Load: tasks that reached a terminal status',
      finalTerminal,
      'tasks',
      `${succeeded} succeeded over SSE; ${lost} lost; all ended ${fmt(allEndedMs / 1000, 2)} s after the burst began`,
      'higher',
    ),
  ];
}
