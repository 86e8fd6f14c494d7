/**
 * Issue 14's goals ("Performance round 2") and the checks that nothing else regressed, judged
 * from one run's figures: each row is `goal | figure | target | met`. A goal whose figures are
 * missing is "n/a", never met. Printed under the main table; written to results.json as `goals`.
 */
import { CLIENT_BUDGET_BYTES } from '../widget/client-size-check.js';
import { BUDGET_BYTES } from '../widget/size-check.js';
import { fmt, type Metric, ratio } from './lib.ts';
import { LEVELS } from './measure-latency.ts';
import { TASKS as LOAD_TASKS } from './measure-load.ts';
import { TASKS as MANY_TASKS } from './measure-many.ts';

export interface Goal {
  kind: 'goal' | 'check';
  goal: string;
  figure: string;
  target: string;
  /** null: not measured. */
  met: boolean | null;
}

/** Worker bundle growth allowed against the previous run before it counts as a regression. */
const WORKER_GROWTH = 1.2;

export function judgeGoals(metrics: readonly Metric[], previous?: readonly Metric[]): Goal[] {
  const byKey = new Map(metrics.map((m) => [m.key, m.value]));
  const v = (key: string) => byKey.get(key) ?? null;
  const ms = (value: number | null) => `${fmt(value, 1)} ms`;
  const x = (value: number | null) => `${fmt(value, 2)}×`;
  const atMost = (value: number | null, limit: number | null) =>
    value === null || limit === null ? null : value <= limit;
  const goals: Goal[] = [];
  /** A goal that one figure be at most `limit` times another of the same run. */
  const ratioGoal = (goal: string, key: string, baseKey: string, limit: number) => {
    const [value, base] = [v(key), v(baseKey)];
    goals.push({
      kind: 'goal',
      goal,
      figure: `${ms(value)} / ${ms(base)} = ${x(ratio(value, base))}`,
      target: `≤ ${limit}×`,
      met: atMost(ratio(value, base), limit),
    });
  };

  ratioGoal(
    'SSE at parity: end of task to 1,000 watchers, p95 SSE / WebSocket',
    'latency.sse.n1000.p95',
    'latency.ws.n1000.p95',
    1.5,
  );
  goals.push({
    kind: 'goal',
    goal: 'SSE at parity: end of task to 100 SSE watchers, p50',
    figure: ms(v('latency.sse.n100.p50')),
    target: '≤ 20 ms',
    met: atMost(v('latency.sse.n100.p50'), 20),
  });

  const thousand = LEVELS.find((l) => l.watchers === 1000);
  const wanted = thousand ? thousand.watchers * thousand.trials : null;
  for (const [transport, name] of [
    ['sse', 'SSE'],
    ['ws', 'WebSocket'],
  ] as const) {
    const inOrder = v(`latency.${transport}.n1000.running.in_order`);
    goals.push({
      kind: 'goal',
      goal: `Running statuses: a burst reaches 1,000 ${name} watchers in order`,
      figure: `${fmt(inOrder, 0)} of ${fmt(wanted, 0)} watchers`,
      target: 'all',
      met: inOrder === null || wanted === null ? null : inOrder === wanted,
    });
    ratioGoal(
      `Running statuses as fast as the end: 1,000 ${name} watchers, p50 burst / end`,
      `latency.${transport}.n1000.running.p50`,
      `latency.${transport}.n1000.p50`,
      1.5,
    );
  }

  // The widget's Runs carry an Idempotency-Key: the goal holds only if both kinds keep to it.
  const plainTrips = v('overhead.run.round_trips');
  const keyedTrips = v('overhead.run_keyed.round_trips');
  goals.push({
    kind: 'goal',
    goal: 'Run on a short path: sequential object round trips before Wiro (Server-Timing)',
    figure: `${fmt(plainTrips, 0)}; with an Idempotency-Key ${fmt(keyedTrips, 0)}`,
    target: '≤ 2',
    met: plainTrips === null || keyedTrips === null ? null : atMost(Math.max(plainTrips, keyedTrips), 2),
  });
  ratioGoal(
    'Run on a short path: Run p50 / finished-task Detail p50',
    'overhead.run.worker.p50',
    'overhead.detail_finished.worker.p50',
    2,
  );

  const started = v('many.started');
  const lost = v('many.lost');
  goals.push({
    kind: 'goal',
    goal: `Many tasks: ${fmt(MANY_TASKS, 0)} at once, one SSE watcher each, all end`,
    figure: `${fmt(started, 0)} started, ${fmt(lost, 0)} lost; p95 ${ms(v('many.end.p95'))} (one task: ${ms(v('latency.sse.n1.p95'))})`,
    target: `${fmt(MANY_TASKS, 0)} started, 0 lost`,
    met: started === null || lost === null ? null : started === MANY_TASKS && lost === 0,
  });

  // Nothing else regressed.
  const kib = (value: number | null) => `${fmt(value, 2)} KiB`;
  const widget = v('size.widget.gzip');
  goals.push({
    kind: 'check',
    goal: 'Size: widget, min+gzip',
    figure: kib(widget),
    target: `≤ ${kib(BUDGET_BYTES / 1024)} (widget/size-check.js)`,
    met: atMost(widget, BUDGET_BYTES / 1024),
  });
  const client = v('size.client.gzip');
  goals.push({
    kind: 'check',
    goal: 'Size: client, min+gzip',
    figure: kib(client),
    target: `≤ ${kib(CLIENT_BUDGET_BYTES / 1024)} (widget/client-size-check.js)`,
    met: atMost(client, CLIENT_BUDGET_BYTES / 1024),
  });
  const worker = v('size.worker.gzip');
  const before = previous?.find((m) => m.key === 'size.worker.gzip')?.value ?? null;
  goals.push({
    kind: 'check',
    goal: 'Size: Worker bundle, min+gzip',
    figure: kib(worker),
    target: before === null ? 'no previous run' : `≤ ${kib(before * WORKER_GROWTH)} (previous +20%)`,
    met: before === null ? null : atMost(worker, before * WORKER_GROWTH),
  });
  const calls = v('cost.normal.calls_per_task');
  const poller = v('cost.wiro_poll_5s.calls_per_task');
  goals.push({
    kind: 'check',
    goal: 'Wiro calls per task (socket + callback)',
    figure: fmt(calls, 1),
    target: `≤ a 5 s poller's ${fmt(poller, 0)}`,
    met: atMost(calls, poller),
  });
  const reached = v('load.upstream_runs');
  const ended = v('load.ended');
  goals.push({
    kind: 'check',
    goal: `${LOAD_TASKS} simultaneous Runs: reached Wiro once each, all ended`,
    figure: `${fmt(reached, 0)} reached, ${fmt(ended, 0)} ended`,
    target: `${LOAD_TASKS} and ${LOAD_TASKS}`,
    met: reached === null || ended === null ? null : reached === LOAD_TASKS && ended === LOAD_TASKS,
  });
  return goals;
}

/** The goals as a text table. */
export function goalsTable(goals: readonly Goal[]): string {
  const head = ['goal', 'figure', 'target', 'met'];
  const rows = goals.map((g) => [
    g.kind === 'check' ? `check: ${g.goal}` : g.goal,
    g.figure,
    g.target,
    g.met === null ? 'n/a' : g.met ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, col) => Math.max(h.length, ...rows.map((r) => r[col]?.length ?? 0)));
  const line = (r: string[]) =>
    r
      .map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col] ?? 0)))
      .join(' | ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
