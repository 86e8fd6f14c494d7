/**
 * Edge overhead: the same Wiro call made through the Worker and made straight to the emulator
 * (signed, as Wiro's own clients do), interleaved A/B in one run (the order flips every pair, so
 * neither side always goes first), reported as medians, p95s and ratios.
 *
 * Three Detail figures, because the Worker answers Detail in two ways:
 * - on a FINISHED task the task's Durable Object answers alone (no upstream call at all);
 * - on a RUNNING task the object re-reads Wiro when its copy is older than DETAIL_MAX_AGE_MS
 *   (2 s), else it answers from its copy. Each Worker call is classified afterwards from the
 *   emulator's call log: "re-read" if the Worker called Wiro's Task/Detail for that task while
 *   the client's call was in flight, "cached" otherwise.
 * Run always goes upstream (the Worker also passes its guards: limiter and budget objects).
 * A third arm in the finished-task rounds, `GET /v1/Tool` (no object, no upstream), shows the
 * floor any request pays through `wrangler dev` on this machine, so the rest can be read against it.
 */
import { assertOk, direct, RUN_BODY, startTask, viaWorker, workerDetail } from './clients.ts';
import { fmt, type Metric, median, metric, now, p95, ratio, sleep, waitFor } from './lib.ts';
import { summarizeTimings, type TimingSummary } from './server-timing.ts';
import { calledTaskIds, settleTasks, startTracked, type Tracked, type World, workerCalls } from './world.ts';

const DETAIL_FINISHED_PAIRS = 200;
const DETAIL_RUNNING_PAIRS = 120;
const DETAIL_RUNNING_TASKS = 40;
/** Pairs start this often, so each running task is revisited every 40 × 60 ms = 2.4 s (> 2 s). */
const DETAIL_RUNNING_PACE_MS = 60;
const RUN_PAIRS = 60;
const KEYED_RUNS = 20;
const WARMUP = 10;

interface Rounds {
  /** Durations per arm, in ms, in call order. */
  ms: number[][];
  /** Wall-clock window of each call of the first arm, for classification. */
  windows: { start: number; end: number; index: number }[];
}

/**
 * n rounds of one call per arm; the arm that goes first rotates every round, so none always
 * goes first. `paceMs` spaces the round starts when set.
 */
async function interleave(n: number, arms: ((i: number) => Promise<void>)[], paceMs = 0): Promise<Rounds> {
  const out: Rounds = { ms: arms.map(() => []), windows: [] };
  const begin = now();
  for (let i = 0; i < n; i++) {
    if (paceMs > 0) {
      const due = begin + i * paceMs;
      if (due > now()) await sleep(due - now());
    }
    for (let k = 0; k < arms.length; k++) {
      const arm = (i + k) % arms.length;
      const start = Date.now();
      const t = now();
      await (arms[arm] as (i: number) => Promise<void>)(i);
      out.ms[arm]?.push(now() - t);
      if (arm === 0) out.windows.push({ start, end: Date.now(), index: i });
    }
  }
  return out;
}

function pairMetrics(key: string, label: string, worker: number[], direct: number[], notes: string): Metric[] {
  const wm = median(worker);
  const dm = median(direct);
  return [
    metric(`${key}.worker.p50`, `${label}: via Worker, p50`, wm, 'ms', notes, 'lower'),
    metric(`${key}.worker.p95`, `${label}: via Worker, p95`, p95(worker), 'ms', '', 'lower'),
    metric(`${key}.direct.p50`, `${label}: direct to emulator, p50`, dm, 'ms', `n=${direct.length}`),
    metric(`${key}.direct.p95`, `${label}: direct to emulator, p95`, p95(direct), 'ms'),
    metric(`${key}.ratio`, `${label}: Worker / direct (p50)`, ratio(wm, dm), '×', 'same run, interleaved', 'lower'),
    metric(
      `${key}.added`,
      `${label}: added by the edge (p50)`,
      wm === null || dm === null ? null : wm - dm,
      'ms',
      '',
      'lower',
    ),
  ];
}

export async function measureOverhead(world: World): Promise<Metric[]> {
  const { emulator, emulatorUrl, workerUrl, log } = world;
  emulator.configure({ speed: 0, dropCallbacks: false });
  const metrics: Metric[] = [];

  // Warm up both paths (isolate, Durable Object classes, connection pools).
  log('overhead: warming up');
  for (let i = 0; i < WARMUP; i++) {
    const started = await startTracked(world);
    await workerDetail(workerUrl, started.token);
    assertOk(await direct(emulatorUrl, 'Task/Detail', { taskid: started.wiroId }), 'direct Detail');
    assertOk(await direct(emulatorUrl, 'Run/wiro/text-to-image-flux-lora-fast', RUN_BODY), 'direct Run');
  }
  await settleTasks(world);

  // 1. Detail of a finished task: the Durable Object answers alone.
  log(`overhead: ${DETAIL_FINISHED_PAIRS} Detail pairs on a finished task`);
  const done = await startTracked(world);
  emulator.advance(done.wiroId, 'task_postprocess_end');
  await waitFor(
    'the finished task to reach the Worker',
    async () => ((await workerDetail(workerUrl, done.token))?.status === 'task_postprocess_end' ? true : undefined),
    10_000,
  );
  const finishedSince = Date.now();
  const finished = await interleave(DETAIL_FINISHED_PAIRS, [
    async () => assertOk(await viaWorker(workerUrl, 'Task/Detail', { tasktoken: done.token }), 'Worker Detail'),
    async () => assertOk(await direct(emulatorUrl, 'Task/Detail', { taskid: done.wiroId }), 'direct Detail'),
    async () => {
      const response = await fetch(`${workerUrl}/v1/Tool`);
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`GET /v1/Tool answered ${response.status}`);
    },
  ]);
  const [finishedWorker = [], finishedDirect = [], floor = []] = finished.ms;
  const upstreamDuringFinished = workerCalls(emulator.state(), finishedSince).length;
  metrics.push(
    metric(
      'overhead.floor.p50',
      'Local dev-server floor: GET /v1/Tool via Worker, p50',
      median(floor),
      'ms',
      `n=${floor.length}; no object, no upstream: what any request costs through wrangler dev here`,
      'lower',
    ),
    ...pairMetrics(
      'overhead.detail_finished',
      'Detail, finished task',
      finishedWorker,
      finishedDirect,
      `n=${finishedWorker.length} pairs; answered by the task's Durable Object, ${upstreamDuringFinished} upstream calls`,
    ),
  );

  // 2. Detail of running tasks: some calls re-read Wiro (copy older than 2 s), some don't.
  log(`overhead: ${DETAIL_RUNNING_PAIRS} Detail pairs over ${DETAIL_RUNNING_TASKS} running tasks`);
  const running: Tracked[] = [];
  for (let i = 0; i < DETAIL_RUNNING_TASKS; i++) running.push(await startTracked(world));
  await sleep(2100);
  const task = (i: number) => running[i % running.length] as (typeof running)[number];
  const live = await interleave(
    DETAIL_RUNNING_PAIRS,
    [
      async (i) => assertOk(await viaWorker(workerUrl, 'Task/Detail', { tasktoken: task(i).token }), 'Worker Detail'),
      async (i) => assertOk(await direct(emulatorUrl, 'Task/Detail', { taskid: task(i).wiroId }), 'direct Detail'),
    ],
    DETAIL_RUNNING_PACE_MS,
  );
  const [liveWorker = [], liveDirect = []] = live.ms;
  const liveState = emulator.state();
  const taskOf = calledTaskIds(liveState);
  const upstream = workerCalls(liveState, live.windows[0]?.start ?? 0).filter((c) => c.route === 'Detail');
  const reread: number[] = [];
  const cached: number[] = [];
  live.windows.forEach((window, k) => {
    const id = task(window.index).wiroId;
    const hit = upstream.some((c) => taskOf(c) === id && c.at >= window.start && c.at <= window.end);
    (hit ? reread : cached).push(liveWorker[k] as number);
  });
  if (cached.length > 0) {
    metrics.push(
      metric(
        'overhead.detail_running.cached.p50',
        'Detail, running task, from the object: via Worker, p50',
        median(cached),
        'ms',
        `n=${cached.length}: the copy was < 2 s old (Wiro read just before), so no upstream call`,
        'lower',
      ),
    );
  }
  metrics.push(
    metric(
      'overhead.detail_running.reread.p50',
      'Detail, running task, re-reads Wiro: via Worker, p50',
      median(reread),
      'ms',
      `n=${reread.length} of ${liveWorker.length}: the Worker's copy was > 2 s old, so it called Wiro's Detail`,
      'lower',
    ),
    metric(
      'overhead.detail_running.reread.p95',
      'Detail, running task, re-reads Wiro: via Worker, p95',
      p95(reread),
      'ms',
      '',
      'lower',
    ),
    metric(
      'overhead.detail_running.direct.p50',
      'Detail, running task: direct to emulator, p50',
      median(liveDirect),
      'ms',
      `n=${liveDirect.length}`,
    ),
    metric(
      'overhead.detail_running.reread.ratio',
      'Detail, running task, re-reads Wiro: Worker / direct (p50)',
      ratio(median(reread), median(liveDirect)),
      '×',
      'same run, interleaved',
      'lower',
    ),
  );
  await settleTasks(world);

  // 3. Run: always one upstream Run, after the Worker's validation and guard objects.
  log(`overhead: ${RUN_PAIRS} Run pairs`);
  const timings: (string | undefined)[] = [];
  const runs = await interleave(RUN_PAIRS, [
    async () => {
      timings.push((await startTask(workerUrl)).timing);
    },
    async () => assertOk(await direct(emulatorUrl, 'Run/wiro/text-to-image-flux-lora-fast', RUN_BODY), 'direct Run'),
  ]);
  const [runWorker = [], runDirect = []] = runs.ms;
  metrics.push(
    ...pairMetrics(
      'overhead.run',
      'Run',
      runWorker,
      runDirect,
      `n=${runWorker.length} pairs; Worker: validate, limiter + budget objects, task object, signed Run`,
    ),
    ...runStepMetrics(summarizeTimings(timings), median(runWorker)),
  );

  // 4. The widget's Run: with an Idempotency-Key, whose claim on its task object must not add a trip.
  log(`overhead: ${KEYED_RUNS} Runs with an Idempotency-Key`);
  const keyedMs: number[] = [];
  const keyedTimings: (string | undefined)[] = [];
  for (let i = 0; i < KEYED_RUNS; i++) {
    const t = now();
    const started = await startTask(workerUrl, { 'idempotency-key': `bench-${Date.now()}-${i}` });
    keyedMs.push(now() - t);
    keyedTimings.push(started.timing);
  }
  const keyed = summarizeTimings(keyedTimings);
  metrics.push(
    metric(
      'overhead.run_keyed.worker.p50',
      'Run with an Idempotency-Key (the widget’s): via Worker, p50',
      median(keyedMs),
      'ms',
      `n=${keyedMs.length}, one after another`,
      'lower',
    ),
    metric(
      'overhead.run_keyed.round_trips',
      'Run with an Idempotency-Key: sequential object round trips',
      keyed.roundTrips,
      'trips',
      keyed.count > 0 ? `from Server-Timing: ${[...keyed.steps.keys()].join(' → ')}` : 'no Server-Timing',
      'lower',
    ),
  );
  const settled = await settleTasks(world);
  log(`overhead: done (${settled} tasks cancelled; finished-task Detail p50 ${fmt(median(finishedWorker), 2)} ms)`);
  return metrics;
}

/**
 * Where a Run's milliseconds go, from the Worker's `Server-Timing`: each step's p50, the rest of
 * the client's p50 (dev server, loopback, bodies), and the sequential object round trips.
 */
function runStepMetrics(summary: TimingSummary, runP50: number | null): Metric[] {
  if (summary.count === 0) {
    return [metric('overhead.run.round_trips', 'Run: sequential object round trips', null, '', 'no Server-Timing')];
  }
  const metrics = [...summary.steps].map(([name, ms]) =>
    metric(`overhead.run.step.${name}.p50`, `Run: Server-Timing ${name}, p50`, ms, 'ms', '', 'lower'),
  );
  const inSteps = [...summary.steps.values()].reduce((sum, ms) => sum + ms, 0);
  metrics.push(
    metric(
      'overhead.run.step.rest.p50',
      'Run: outside the route (client p50 − steps)',
      runP50 === null ? null : Math.max(0, runP50 - inSteps),
      'ms',
      'dev server, loopback, request and answer bodies',
    ),
    metric(
      'overhead.run.round_trips',
      'Run: sequential object round trips',
      summary.roundTrips,
      'trips',
      `from Server-Timing on ${summary.count} Runs: ${[...summary.steps.keys()].join(' → ')}; the task trip includes Wiro's Run`,
      'lower',
    ),
  );
  return metrics;
}
