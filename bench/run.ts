/**
 * `npm run bench`: the benchmark harness. Starts the bundled Wiro emulator (in this process) and
 * the Worker under wrangler's dev server pointed at it (127.0.0.1 only), measures edge overhead, status
 * latency, Wiro calls per task, a 100-task burst, 1,000 tasks at once, bundle sizes and the
 * widget's time to interactive, then, on short-lived Workers of their own, whether each wallet cap
 * holds under a burst. Prints one table, the caps table and issue 14's goals (met or not), writes
 * `bench/results.json` (with machine info) and the charts in `docs/bench/`, and lists regressions
 * against the previous results. Bounded everywhere: a watchdog ends the run (and every child
 * process) after 450 s; Ctrl-C stops wrangler and workerd too.
 *
 * Progress goes to stderr; stdout carries only the tables and the regressions.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import type { Emulator } from '../emulator/emulator.ts';
import { writeCharts } from './charts.ts';
import { goalsTable, judgeGoals } from './goals.ts';
import { errorMessage, type Metric, metric } from './lib.ts';
import { type CapRow, measureCaps } from './measure-caps.ts';
import { measureCost } from './measure-cost.ts';
import { measureLatency } from './measure-latency.ts';
import { measureLoad } from './measure-load.ts';
import { measureMany } from './measure-many.ts';
import { measureOverhead } from './measure-overhead.ts';
import { measureSize } from './measure-size.ts';
import { measureWidget } from './measure-widget.ts';
import { capsTable, machineInfo, readPrevious, regressions, table, writeResults } from './report.ts';
import { killChildrenNow, ROOT, startBenchEmulator, startWorker, type WorkerProcess } from './servers.ts';
import type { World } from './world.ts';

const WATCHDOG_MS = 450_000;
const RESULTS_PATH = join(ROOT, 'bench', 'results.json');
const CHARTS_DIR = join(ROOT, 'docs', 'bench');

const began = Date.now();
const log = (line: string) => process.stderr.write(`[bench ${((Date.now() - began) / 1000).toFixed(1)}s] ${line}\n`);

// Nothing outlives the run: not on an error, not on Ctrl-C, not past the time budget.
process.on('exit', () => killChildrenNow('SIGKILL'));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping wrangler and exiting`);
    killChildrenNow('SIGTERM');
    setTimeout(() => process.exit(130), 1000);
  });
}
// undici can throw 'terminated' from a socket event when a stream's server goes away (a known
// quirk, seen when wrangler stops): that is no reason to lose the whole run. Anything else is.
process.on('uncaughtException', (error: Error & { cause?: { code?: string } }) => {
  if (error instanceof TypeError && error.message === 'terminated') {
    log(`ignored an undici stream termination (${error.cause?.code ?? 'no code'})`);
    return;
  }
  log(`fatal: ${error.stack ?? error.message}`);
  process.exit(1);
});
setTimeout(() => {
  log(`still running after ${WATCHDOG_MS / 1000} s: giving up`);
  process.exit(2);
}, WATCHDOG_MS).unref();

const failures: string[] = [];

/** Runs one measurement; a failure becomes one n/a row, and the run goes on. */
async function phase(name: string, key: string, fn: () => Promise<Metric[]>): Promise<Metric[]> {
  const start = Date.now();
  try {
    const metrics = await fn();
    log(`${name}: done in ${((Date.now() - start) / 1000).toFixed(1)} s`);
    return metrics;
  } catch (error) {
    const message = errorMessage(error);
    log(`${name}: FAILED: ${message}`);
    failures.push(`${name}: ${message}`);
    return [metric(`${key}.failed`, `${name}: FAILED`, null, '', message)];
  }
}

async function main(): Promise<number> {
  const previous = readPrevious(RESULTS_PATH);
  // Sampled before the bench adds its own load: was the machine quiet?
  const loadAverage = loadavg()[0] ?? 0;
  if (loadAverage > 0.5 * availableParallelism()) {
    log(`warning: load average ${loadAverage.toFixed(2)} before starting: other work will skew the figures`);
  }
  const wranglerVersion = (
    JSON.parse(readFileSync(join(ROOT, 'node_modules', 'wrangler', 'package.json'), 'utf8')) as { version: string }
  ).version;
  const metrics: Metric[] = [];

  metrics.push(...(await phase('size', 'size', () => measureSize(log))));

  let emulator: Emulator | undefined;
  let worker: WorkerProcess | undefined;
  const capRows: CapRow[] = [];
  try {
    emulator = await startBenchEmulator();
    log(`emulator on ${emulator.url}; starting the Worker (wrangler dev server, file watching off)`);
    worker = await startWorker(emulator.url);
    log(`Worker answering on ${worker.url} after ${(worker.startMs / 1000).toFixed(1)} s`);
    metrics.push(
      metric('setup.wrangler_dev_ready', 'Setup: Worker dev server ready (build included)', worker.startMs / 1000, 's'),
    );
    const world: World = { emulator, emulatorUrl: emulator.url, workerUrl: worker.url, log };
    metrics.push(...(await phase('overhead', 'overhead', () => measureOverhead(world))));
    metrics.push(...(await phase('latency', 'latency', () => measureLatency(world))));
    metrics.push(...(await phase('cost', 'cost', () => measureCost(world))));
    metrics.push(...(await phase('load', 'load', () => measureLoad(world))));
    metrics.push(...(await phase('many', 'many', () => measureMany(world))));
    const url = worker.url;
    metrics.push(...(await phase('widget', 'widget', () => measureWidget(url, log))));
    // The caps need Workers with other vars: this one is done, and its CPU is better spent on them.
    await worker.stop();
    worker = undefined;
    const emu = emulator;
    metrics.push(...(await phase('caps', 'caps', () => measureCaps(emu, log, capRows))));
  } catch (error) {
    failures.push(`setup: ${errorMessage(error)}`);
    log(`setup FAILED: ${errorMessage(error)}`);
    metrics.push(metric('setup.failed', 'Setup: FAILED', null, '', errorMessage(error)));
  } finally {
    await worker?.stop();
    await emulator?.close();
  }

  const durationSeconds = Math.round((Date.now() - began) / 100) / 10;
  const goals = judgeGoals(metrics, previous?.metrics);
  const results = { machine: machineInfo(ROOT, wranglerVersion, loadAverage), durationSeconds, metrics, goals };
  writeResults(RESULTS_PATH, results);
  const m = results.machine;
  const subtitle = `one run, ${m.date.slice(0, 10)}, commit ${m.commit}, ${m.cores} cores, load ${m.loadAverage} at start`;
  try {
    writeCharts(CHARTS_DIR, metrics, subtitle);
  } catch (error) {
    failures.push(`charts: ${errorMessage(error)}`);
  }

  const out = [
    `wiro-flux-edge benchmark · ${m.date} · commit ${m.commit} · ${m.os} · ${m.cpu} × ${m.cores} · Node ${m.node} · wrangler ${m.wrangler} · load ${m.loadAverage} at start`,
    '',
    // The caps' rows are their own table, below.
    table(metrics.filter((m) => !m.key.startsWith('caps.') || m.key === 'caps.failed')),
    '',
  ];
  if (capRows.length > 0) {
    out.push(
      'caps: 50 Runs at once per cap, each cap on a fresh Worker (empty budget and limiters), the other caps out of the way',
      capsTable(capRows),
      '',
    );
    const exceeded = capRows.filter((r) => !r.within);
    if (exceeded.length > 0) {
      out.push(
        `CAP EXCEEDED (${exceeded.length}): ${exceeded.map((r) => `${r.cap}=${r.value} ${r.visitors}: admitted ${r.admitted}, reached Wiro ${r.reached}`).join('; ')}`,
        '',
      );
    }
  }
  out.push("issue 14's goals, and checks that nothing else regressed (this run's figures):", goalsTable(goals), '');
  out.push(`total ${durationSeconds} s · written to bench/results.json and docs/bench/*.svg`);
  if (previous) {
    const found = regressions(previous, metrics);
    out.push(
      '',
      `regressions vs previous results (${previous.machine?.date ?? 'undated'}, commit ${previous.machine?.commit ?? '?'}; > 20% worse):`,
      ...(found.length > 0 ? found.map((r) => `  - ${r}`) : ['  none']),
    );
    const busy = Math.max(previous.machine?.loadAverage ?? 0, m.loadAverage) > 0.5 * m.cores;
    if (found.length > 0 && busy) {
      out.push('  (the machine was busy during one of the runs: load average above half the cores; re-run to confirm)');
    }
  }
  if (failures.length > 0) out.push('', 'failed:', ...failures.map((f) => `  - ${f}`));
  process.stdout.write(`${out.join('\n')}\n`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
