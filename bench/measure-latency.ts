/**
 * Status latency, for 1, 100 and 1,000 watchers of one task, over SSE and over the WebSocket:
 * - end of task: from the emulator's first signal that the task ended (its realtime-socket
 *   message or its callback POST, whichever it sent first, as its state records them) to each
 *   watcher receiving the terminal status. The Worker believes an end only after one Task/Detail
 *   re-read of the emulator, so this includes that round trip;
 * - running statuses: a burst. The task is first walked to `task_start` (every watcher has it),
 *   then the emulator sends the rest of the run back-to-back on Wiro's socket (every
 *   `task_output`, `task_output_full`, `task_end`, `task_postprocess_start`: 11 messages at the
 *   default 8 ticks). Measured from the socket send of the burst's last status to each watcher
 *   receiving it (relayed as they come, no re-read), and checked for order: every watcher must
 *   receive the burst's statuses in the order Wiro sent them.
 * Each trial uses a fresh task, held still (emulator speed 0) while its watchers connect and sit
 * idle for a second, then walked by hand. SSE and WebSocket trials alternate. All watchers live in this one Node process
 * (with the emulator), so at 1,000 the p95 also includes this process's time to read them all.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type Watcher, watchSocket, watchSse } from './clients.ts';
import {
  errorMessage,
  fmt,
  type Metric,
  mapLimit,
  median,
  metric,
  now,
  p95,
  sleep,
  waitFor,
  withTimeout,
} from './lib.ts';
import { settleTasks, startTracked, type World } from './world.ts';

type Transport = 'sse' | 'ws';

/**
 * Watchers per trial, and how many trials of each transport (so every level has enough samples).
 * A trial now and then runs slow on this shared machine, and at 1,000 a single slow trial sets
 * the p95: with two or three trials the same code measured 1.03×, 1.15× and 1.96× SSE / WebSocket
 * in runs minutes apart. Six trials at 1,000 (about 40 s more) let no one trial decide the goal.
 */
export const LEVELS: ReadonlyArray<{ watchers: number; trials: number }> = [
  { watchers: 1, trials: 30 },
  { watchers: 100, trials: 6 },
  { watchers: 1000, trials: 6 },
];
/** Connected watchers sit idle this long before the first status, as real ones would (ms). */
const IDLE_MS = 1000;
/** Watchers connecting at the same time. */
const OPEN_CONCURRENCY = 50;
const OPEN_TIMEOUT_MS = 45_000;
const DELIVERY_TIMEOUT_MS = 20_000;
const RUNNING_WAIT_MS = 10_000;

interface Trial {
  /** Terminal status: emulator's first signal of the end → watcher. */
  latencies: number[];
  /** The burst's last status (task_postprocess_start) sent on Wiro's socket → watcher. */
  running: number[];
  /** Watchers that had the whole burst's statuses in the order Wiro sent them, ending with its last. */
  inOrder: number;
  /** Statuses in the burst (socket messages), for the notes. */
  burst: number;
  wanted: number;
  opened: number;
  openMs: number;
  /** The longest this process's event loop stalled while the statuses were arriving, in ms. */
  stallMs: number;
  error?: string;
}

/** Where the burst starts from (walked first, every watcher has it) and its last status. */
const BEFORE_BURST = 'task_start';
const RUNNING_STATUS = 'task_postprocess_start';
const FINAL_STATUS = 'task_postprocess_end';

/** When the emulator wrote `type` for its task `taskid` on Wiro's socket, if it did (emulators with a socket). */
function socketSentAt(world: World, taskid: string, type: string): number | undefined {
  return (world.emulator.state().socketMessages ?? []).find((m) => m.taskid === taskid && m.type === type)?.at;
}

/**
 * Whether `received` has the burst's statuses in the order `sent` had them (repeats such as
 * `task_output` may be coalesced, never reordered) and ends the burst with its last status.
 */
function inSentOrder(received: readonly string[], sent: readonly string[]): boolean {
  const rank = new Map<string, number>();
  sent.forEach((status, i) => {
    if (!rank.has(status)) rank.set(status, i);
  });
  const ranks = received.flatMap((status) => (rank.has(status) ? [rank.get(status) as number] : []));
  const last = sent[sent.length - 1];
  return (
    ranks.every((r, i) => i === 0 || r >= (ranks[i - 1] as number)) && last !== undefined && received.includes(last)
  );
}

async function trial(world: World, transport: Transport, count: number): Promise<Trial> {
  const { emulator, workerUrl } = world;
  const task = await startTracked(world);
  const watchers: Watcher[] = [];
  const result: Trial = {
    latencies: [],
    running: [],
    inOrder: 0,
    burst: 0,
    wanted: count,
    opened: 0,
    openMs: 0,
    stallMs: 0,
  };
  try {
    const openStart = now();
    const opened = await withTimeout(
      mapLimit(Array.from({ length: count }), OPEN_CONCURRENCY, async () => {
        const watcher = transport === 'sse' ? watchSse(workerUrl, task.token) : watchSocket(workerUrl, task.token);
        watchers.push(watcher);
        try {
          await watcher.ready;
          return true;
        } catch {
          return false;
        }
      }),
      OPEN_TIMEOUT_MS,
      `opening ${count} ${transport} watchers`,
    );
    result.openMs = now() - openStart;
    result.opened = opened.filter(Boolean).length;
    // Let the connections settle, so what follows measures fan-out, not the tail of connecting.
    await sleep(count === 1 ? 100 : IDLE_MS);

    // The emulator's state is read only once each wave has landed: copying it while the watchers
    // are receiving would stall this process and inflate what they measure.
    const stalls = monitorEventLoopDelay({ resolution: 10 });
    stalls.enable();

    /** Until every watcher has had `status` (or RUNNING_WAIT_MS passed: the figures say who had it). */
    const reachedEveryone = (status: string) =>
      waitFor(
        `${status} to reach every watcher`,
        () => (watchers.every((w) => w.seen.has(status)) ? true : undefined),
        RUNNING_WAIT_MS,
        10,
      ).catch(() => undefined);

    // 1. Walk to the start of the run, let every watcher have it, then send the burst.
    emulator.advance(task.wiroId, BEFORE_BURST);
    await reachedEveryone(BEFORE_BURST);
    await sleep(50);
    const burstFrom = Date.now();
    emulator.advance(task.wiroId, RUNNING_STATUS);
    await reachedEveryone(RUNNING_STATUS);
    const runningAt = socketSentAt(world, task.wiroId, RUNNING_STATUS);
    if (runningAt !== undefined) {
      for (const w of watchers) {
        const at = w.seen.get(RUNNING_STATUS);
        if (at !== undefined) result.running.push(at - runningAt);
      }
    }
    const sent = (emulator.state().socketMessages ?? [])
      .filter((m) => m.taskid === task.wiroId && m.at >= burstFrom)
      .map((m) => m.type);
    result.burst = sent.length;
    result.inOrder = watchers.filter((w) => inSentOrder(w.order, sent)).length;

    // 2. The end: the socket message and the callback go out; the earlier is the send moment.
    emulator.advance(task.wiroId, FINAL_STATUS);
    const received = await withTimeout(
      Promise.allSettled(watchers.map((w) => w.terminal)),
      DELIVERY_TIMEOUT_MS,
      `delivery to ${count} ${transport} watchers`,
    );
    stalls.disable();
    result.stallMs = Math.max(0, stalls.max / 1e6 - 10); // minus the 10 ms sampling interval
    const callbackAt = await waitFor(
      'the emulator to record the callback',
      () => emulator.state().callbacks.find((c) => c.taskid === task.wiroId)?.at,
      DELIVERY_TIMEOUT_MS,
      50,
    );
    const sentAt = Math.min(callbackAt, socketSentAt(world, task.wiroId, FINAL_STATUS) ?? callbackAt);
    for (const r of received) if (r.status === 'fulfilled') result.latencies.push(r.value.at - sentAt);
  } catch (error) {
    result.error = errorMessage(error);
  } finally {
    for (const watcher of watchers) watcher.close();
  }
  return result;
}

export async function measureLatency(world: World): Promise<Metric[]> {
  world.emulator.configure({ speed: 0, dropCallbacks: false });
  const metrics: Metric[] = [];
  const both = <T>(make: () => T): Record<Transport, T> => ({ sse: make(), ws: make() });
  for (const level of LEVELS) {
    const ends = both<number[]>(() => []);
    const running = both<number[]>(() => []);
    const inOrder = both(() => 0);
    const burst = both(() => 0);
    const wanted = both(() => 0);
    const opened = both(() => 0);
    const openMs = both<number[]>(() => []);
    const stallMs = both(() => 0);
    const errors = both<string[]>(() => []);
    for (let t = 0; t < level.trials; t++) {
      const order: Transport[] = t % 2 === 0 ? ['sse', 'ws'] : ['ws', 'sse'];
      for (const transport of order) {
        const r = await trial(world, transport, level.watchers);
        ends[transport].push(...r.latencies);
        running[transport].push(...r.running);
        inOrder[transport] += r.inOrder;
        burst[transport] = Math.max(burst[transport], r.burst);
        wanted[transport] += r.wanted;
        opened[transport] += r.opened;
        openMs[transport].push(r.openMs);
        stallMs[transport] = Math.max(stallMs[transport], r.stallMs);
        if (r.error) errors[transport].push(r.error);
        if (level.watchers > 1) {
          world.log(
            `latency: ${transport} × ${level.watchers}: opened ${r.opened} in ${fmt(r.openMs, 0)} ms; ` +
              `end received by ${r.latencies.length}, p50 ${fmt(median(r.latencies))} ms; ` +
              `burst's last status p50 ${fmt(median(r.running))} ms, ${r.inOrder} in order; client loop stalled ≤ ${fmt(r.stallMs, 0)} ms` +
              (r.error ? `; error: ${r.error}` : ''),
          );
        }
        // Tasks of failed trials stay open: end them so their polls don't disturb the next trial.
        if (r.error) await settleTasks(world);
      }
    }
    const n = level.watchers;
    const count = `${n.toLocaleString('en-US')} watcher${n === 1 ? '' : 's'}`;
    for (const transport of ['sse', 'ws'] as const) {
      const name = transport === 'sse' ? 'SSE' : 'WebSocket';
      const got = ends[transport].length;
      let notes = `${level.trials} trial${level.trials === 1 ? '' : 's'}; received ${got}/${wanted[transport]}`;
      if (n > 1) notes += `; connecting took ${fmt(median(openMs[transport]), 0)} ms`;
      if (stallMs[transport] >= 50) notes += `; this process stalled up to ${fmt(stallMs[transport], 0)} ms`;
      if (got < wanted[transport]) notes += `; INCOMPLETE (${opened[transport]} connected)`;
      if (errors[transport].length > 0) notes += `; error: ${errors[transport][0]}`;
      const label = `Latency, end of task, ${name}, ${count}`;
      metrics.push(
        metric(`latency.${transport}.n${n}.p50`, `${label}, p50`, median(ends[transport]), 'ms', notes, 'lower'),
        metric(`latency.${transport}.n${n}.p95`, `${label}, p95`, p95(ends[transport]), 'ms', '', 'lower'),
      );
    }
    for (const transport of ['sse', 'ws'] as const) {
      const name = transport === 'sse' ? 'SSE' : 'WebSocket';
      const label = `Latency, running statuses (burst), ${name}, ${count}`;
      const notes =
        running[transport].length > 0
          ? `burst of ${burst[transport]} socket messages; last received by ${running[transport].length}/${wanted[transport]}`
          : 'n/a: the Worker did not relay the running statuses (no Wiro socket?)';
      metrics.push(
        metric(
          `latency.${transport}.n${n}.running.p50`,
          `${label}, p50`,
          median(running[transport]),
          'ms',
          notes,
          'lower',
        ),
        metric(`latency.${transport}.n${n}.running.p95`, `${label}, p95`, p95(running[transport]), 'ms', '', 'lower'),
        metric(
          `latency.${transport}.n${n}.running.in_order`,
          `${label}, watchers that had it in order`,
          inOrder[transport],
          'watchers',
          `of ${wanted[transport]}`,
          'higher',
        ),
      );
    }
  }
  await settleTasks(world);
  return metrics;
}
