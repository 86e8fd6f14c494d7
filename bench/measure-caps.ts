/**
 * Caps: whether the wallet guard holds under a burst. For each cap (`DAILY_SPEND_LIMIT`,
 * `DAILY_RUN_LIMIT`, `RUN_LIMIT_PER_MINUTE`, `MAX_RUNNING_PER_CLIENT`) a Worker of its own is
 * started with that cap set low and every other limit out of the way, and 50 Runs are sent at
 * once. Counted: how many the Worker admitted (Wiro's success envelope), how many reached the
 * emulator's Run route (matched by each Run's unique prompt), and whether that stays within the
 * cap: admitted ≤ cap; for spend, admitted × the reservation per Run ≤ cap + one reservation (the
 * guard reserves up front, so a burst may pass the cap by at most one Run).
 *
 * One Worker per cap because vars are fixed per dev-server process, and because the day's budget
 * is one global object: each wrangler dev keeps its storage in memory, so every cap starts from an
 * empty day. These Workers skip the widget build (built already) to start in a second or two.
 *
 * Who sends: the daily caps are global, so their 50 Runs come from 50 visitors (one
 * `cf-connecting-ip` each); the per-client caps get 50 Runs from one IP with 50 different
 * `Origin`s (the Origin must not make a second client), then 50 from 50 addresses of one IPv6
 * /64 (one client). A last Run from a fresh IP must pass the running cap: the cap is per client,
 * and wrangler's dev server passes a client-set `cf-connecting-ip` through (checked, not assumed).
 */
import type { Emulator } from '../emulator/emulator.ts';
import { type Answer, uniqueRunBody, viaWorker } from './clients.ts';
import { errorMessage, fmt, type Metric, metric } from './lib.ts';
import { startWorker } from './servers.ts';
import { settleTasks, type World } from './world.ts';

const BURST = 50;
/** Not a real secret: opens the cap Workers' `GET /v1/Stats`, to read the reservations. */
const ADMIN_TOKEN = 'bench-admin-5c81e0';
/** What the budget reserves for a default Run before any task has ended (worker/guard/budget.ts). */
const DEFAULT_RESERVATION = 0.05;

interface Burst {
  key: string;
  /** Who sends, for the table. */
  visitors: string;
  size: number;
  headers(i: number): Record<string, string>;
}

interface Cap {
  key: string;
  name: 'DAILY_SPEND_LIMIT' | 'DAILY_RUN_LIMIT' | 'RUN_LIMIT_PER_MINUTE' | 'MAX_RUNNING_PER_CLIENT';
  value: number;
  bursts: Burst[];
}

const fiftyVisitors = (net: number): Burst => ({
  key: 'visitors',
  visitors: `${BURST} IPs, no Origin`,
  size: BURST,
  headers: (i) => ({ 'cf-connecting-ip': `10.${net}.0.${i + 1}` }),
});
const oneIp = (net: number): Burst => ({
  key: 'one_ip',
  visitors: `1 IP, ${BURST} Origins`,
  size: BURST,
  headers: (i) => ({ 'cf-connecting-ip': `10.${net}.1.1`, origin: `https://site-${i + 1}.example` }),
});
const oneSlash64 = (net: number): Burst => ({
  key: 'one_64',
  visitors: `1 IPv6 /64, ${BURST} addresses`,
  size: BURST,
  headers: (i) => ({ 'cf-connecting-ip': `2001:db8:${net}:1:${(i + 1).toString(16)}::1` }),
});

const CAPS: Cap[] = [
  { key: 'daily_spend', name: 'DAILY_SPEND_LIMIT', value: 0.12, bursts: [fiftyVisitors(81)] },
  { key: 'daily_runs', name: 'DAILY_RUN_LIMIT', value: 4, bursts: [fiftyVisitors(82)] },
  { key: 'per_minute', name: 'RUN_LIMIT_PER_MINUTE', value: 5, bursts: [oneIp(83), oneSlash64(83)] },
  {
    key: 'running',
    name: 'MAX_RUNNING_PER_CLIENT',
    value: 2,
    bursts: [
      oneIp(84),
      oneSlash64(84),
      // After the two bursts above filled their clients' slots: a new client must still get in.
      { key: 'other_ip', visitors: '1 more IP', size: 1, headers: () => ({ 'cf-connecting-ip': '10.84.9.9' }) },
    ],
  },
];

export interface CapRow {
  cap: string;
  value: string;
  visitors: string;
  sent: number;
  admitted: number;
  /** How many the cap lets through from an empty start (what a correct guard admits). */
  allows: number;
  /** Runs that reached the emulator's Run route. */
  reached: number;
  /** Answered 429 (a cap's refusal). */
  refused: number;
  /** Any other answer: status and message, first few. */
  errors: string[];
  within: boolean;
  /** How `within` was decided. */
  check: string;
}

const money = (value: number) => `$${value.toFixed(2)}`;

async function stats(workerUrl: string): Promise<{ reserved: number; estimate: number } | undefined> {
  try {
    const response = await fetch(`${workerUrl}/v1/Stats`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const body = (await response.json()) as { usage?: { reserved?: number; estimatePerRun?: number } };
    const { reserved, estimatePerRun } = body.usage ?? {};
    return typeof reserved === 'number' && typeof estimatePerRun === 'number'
      ? { reserved, estimate: estimatePerRun }
      : undefined;
  } catch {
    return undefined;
  }
}

async function burst(world: World, cap: Cap, spec: Burst): Promise<CapRow> {
  const bodies = Array.from({ length: spec.size }, () => uniqueRunBody());
  const answers = await Promise.all(
    bodies.map((body, i) =>
      viaWorker(world.workerUrl, 'Run/wiro/text-to-image-flux-lora-fast', body, spec.headers(i)).catch(
        (error: unknown): Answer => ({ status: 0, body: { error: errorMessage(error) } }),
      ),
    ),
  );
  const admitted = answers.filter((a) => a.status === 200 && a.body.result === true).length;
  const refused = answers.filter((a) => a.status === 429).length;
  const errors = answers
    .filter((a) => !(a.status === 200 && a.body.result === true) && a.status !== 429)
    .map((a) => `${a.status} ${JSON.stringify(a.body).slice(0, 120)}`);
  // Every Run that reached Wiro, whatever the Worker answered: matched by the burst's prompts.
  const prompts = new Set(bodies.map((b) => b.prompt));
  const reached = world.emulator.state().calls.filter((c) => {
    const prompt = (c.body as { prompt?: unknown } | null)?.prompt;
    return c.route === 'Run' && typeof prompt === 'string' && prompts.has(prompt);
  }).length;

  const sent = Math.max(admitted, reached);
  let within: boolean;
  let check: string;
  let allows: number;
  if (cap.name === 'DAILY_SPEND_LIMIT') {
    const read = await stats(world.workerUrl);
    const estimate = read?.estimate ?? DEFAULT_RESERVATION;
    allows = Math.ceil(cap.value / estimate - 1e-9);
    const spent = sent * estimate;
    within = spent <= cap.value + estimate + 1e-9;
    check = `${sent} × ${money(estimate)} = ${money(spent)} ≤ ${money(cap.value)} + ${money(estimate)}`;
    if (read) check += `; reserved ${money(read.reserved)}`;
  } else {
    allows = Math.min(spec.size, cap.value);
    within = sent <= cap.value;
    check = `${sent} ≤ ${cap.value}`;
  }
  if (spec.key === 'other_ip') {
    // A fresh client is one Run under its own cap: it must get in.
    allows = 1;
  }
  return {
    cap: cap.name,
    value: cap.name === 'DAILY_SPEND_LIMIT' ? money(cap.value) : String(cap.value),
    visitors: spec.visitors,
    sent: spec.size,
    admitted,
    allows,
    reached,
    refused,
    errors,
    within,
    check,
  };
}

/** Runs every cap on a fresh Worker; each row goes to `rows` (for the caps table) and a metric. */
export async function measureCaps(emulator: Emulator, log: (line: string) => void, rows: CapRow[]): Promise<Metric[]> {
  emulator.configure({ speed: 0, dropCallbacks: false });
  const metrics: Metric[] = [];
  for (const cap of CAPS) {
    const worker = await startWorker(emulator.url, {
      vars: { [cap.name]: String(cap.value), ALLOWED_ORIGINS: '*', ADMIN_TOKEN },
      name: `caps-${cap.key}`,
      skipBuild: true,
      timeoutMs: 30_000,
    });
    const world: World = { emulator, emulatorUrl: emulator.url, workerUrl: worker.url, log };
    try {
      log(`caps: ${cap.name}=${cap.value} (Worker ready in ${fmt(worker.startMs / 1000, 1)} s)`);
      for (const spec of cap.bursts) {
        const row = await burst(world, cap, spec);
        rows.push(row);
        const line =
          `${row.cap}=${row.value}, ${row.visitors}: admitted ${row.admitted} (allows ${row.allows}), ` +
          `reached Wiro ${row.reached}, refused ${row.refused}` +
          (row.errors.length > 0 ? `, ${row.errors.length} OTHER ANSWERS: ${row.errors[0]}` : '');
        log(`caps: ${line}${row.within ? '' : ` — CAP EXCEEDED: ${row.check}`}`);
        let notes = `cap ${row.value}; reached Wiro ${row.reached}; ${row.within ? 'within the cap' : 'CAP EXCEEDED'} (${row.check})`;
        if (row.admitted !== row.reached) notes += `; MISMATCH: admitted ${row.admitted}, reached ${row.reached}`;
        if (row.admitted < row.allows) notes += `; fewer than the cap allows (${row.allows})`;
        if (row.errors.length > 0) notes += `; ${row.errors.length} answers neither 200 nor 429: ${row.errors[0]}`;
        if (spec.key === 'other_ip') {
          notes +=
            row.admitted === 1
              ? '; a new client gets in: wrangler dev passed the client-set cf-connecting-ip through'
              : '; REFUSED: wrangler dev may have overwritten cf-connecting-ip (every Run one client)';
        }
        metrics.push(
          metric(
            `caps.${cap.key}.${spec.key}.admitted`,
            `Caps: ${row.cap} = ${row.value}, ${row.sent} Run${row.sent === 1 ? '' : 's'} at once (${row.visitors}): admitted`,
            row.admitted,
            'Runs',
            notes,
          ),
        );
      }
    } finally {
      // End this Worker's tasks while it can still take their callbacks, then stop it.
      await settleTasks(world);
      await worker.stop();
    }
  }
  return metrics;
}
