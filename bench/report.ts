/**
 * The benchmark's output: machine info, the one table on stdout, `bench/results.json`, and the
 * comparison with the previous results (any figure more than 20% worse is a regression).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, availableParallelism, cpus, platform, release, totalmem, type } from 'node:os';
import type { Goal } from './goals.ts';
import type { Metric } from './lib.ts';
import type { CapRow } from './measure-caps.ts';

export interface Machine {
  os: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  /** 1-minute load average when the run began: other work on the machine skews every figure. */
  loadAverage: number;
  node: string;
  wrangler: string;
  date: string;
  commit: string;
}

export interface Results {
  machine: Machine;
  durationSeconds: number;
  metrics: Metric[];
  /** Issue 14's goals as judged from this run (absent in older results). */
  goals?: Goal[];
}

/** Worse by more than this fraction counts as a regression. */
const REGRESSION = 0.2;
/** Differences smaller than this (in ms) are marked as likely noise. */
const NOISE_MS = 1;

function read(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    }).trim();
  } catch {
    return 'unknown';
  }
}

export function machineInfo(root: string, wranglerVersion: string, loadAverage: number): Machine {
  return {
    os: `${type()} ${release()} (${platform()}/${arch()})`,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverage: Number(loadAverage.toFixed(2)),
    node: process.version,
    wrangler: wranglerVersion,
    date: new Date().toISOString(),
    // Read-only: which commit these figures belong to.
    commit: read('git', ['-C', root, 'rev-parse', '--short', 'HEAD']),
  };
}

export function readPrevious(path: string): Results | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Results;
    return Array.isArray(parsed.metrics) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function writeResults(path: string, results: Results): void {
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
}

function formatValue(value: number | null): string {
  if (value === null) return 'n/a';
  return value.toLocaleString('en-US', { maximumFractionDigits: Math.abs(value) >= 100 ? 1 : 3 });
}

/** The one table: metric, value, unit, notes; a blank line between groups (key prefixes). */
export function table(metrics: readonly Metric[]): string {
  const rows = metrics.map((m) => [m.metric, formatValue(m.value), m.unit, m.notes]);
  const head = ['metric', 'value', 'unit', 'notes'];
  const width = (col: number) => Math.max(head[col]?.length ?? 0, ...rows.map((r) => r[col]?.length ?? 0));
  const [w0, w1, w2] = [width(0), width(1), width(2)];
  const line = (r: string[]) =>
    `${(r[0] ?? '').padEnd(w0)}  ${(r[1] ?? '').padStart(w1)}  ${(r[2] ?? '').padEnd(w2)}  ${r[3] ?? ''}`.trimEnd();
  const out = [line(head), line(['-'.repeat(w0), '-'.repeat(w1), '-'.repeat(w2), '-----'])];
  let group = '';
  metrics.forEach((m, i) => {
    const g = m.key.split('.')[0] ?? '';
    if (group && g !== group) out.push('');
    group = g;
    out.push(line(rows[i] ?? []));
  });
  return out.join('\n');
}

/**
 * The caps table: per cap and burst, what was admitted and what reached Wiro against the cap.
 * Its figures are in results.json too (`caps.*`), so the main table leaves them out.
 */
export function capsTable(rows: readonly CapRow[]): string {
  const head = ['cap', 'value', 'sent by', 'sent', 'admitted', 'cap allows', 'reached Wiro', 'within cap'];
  const cells = rows.map((r) => {
    let verdict = r.within ? `yes: ${r.check}` : `NO, CAP EXCEEDED: ${r.check}`;
    if (r.admitted !== r.reached) verdict += `; MISMATCH admitted/reached`;
    if (r.errors.length > 0) verdict += `; ${r.errors.length} answers neither 200 nor 429`;
    return [
      r.cap,
      r.value,
      r.visitors,
      String(r.sent),
      String(r.admitted),
      String(r.allows),
      String(r.reached),
      verdict,
    ];
  });
  const widths = head.map((h, col) => Math.max(h.length, ...cells.map((c) => c[col]?.length ?? 0)));
  // Text columns left, counts right; the verdict last, unpadded.
  const numeric = new Set([3, 4, 5, 6]);
  const line = (r: string[]) =>
    r
      .map((cell, col) =>
        col === r.length - 1
          ? cell
          : numeric.has(col)
            ? cell.padStart(widths[col] ?? 0)
            : cell.padEnd(widths[col] ?? 0),
      )
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** Every figure with a direction that got more than 20% worse since `previous`. */
export function regressions(previous: Results, current: readonly Metric[]): string[] {
  const before = new Map(previous.metrics.map((m) => [m.key, m]));
  const found: string[] = [];
  for (const m of current) {
    const old = before.get(m.key);
    if (!m.better || !old || old.value === null || m.value === null || old.value === 0) continue;
    const change = (m.value - old.value) / Math.abs(old.value);
    const worse = m.better === 'lower' ? change > REGRESSION : change < -REGRESSION;
    if (!worse) continue;
    const noise =
      m.unit === 'ms' && Math.abs(m.value - old.value) < NOISE_MS ? ` (under ${NOISE_MS} ms: likely noise)` : '';
    found.push(
      `${m.metric}: ${formatValue(old.value)} → ${formatValue(m.value)} ${m.unit} (${change > 0 ? '+' : ''}${(change * 100).toFixed(0)}%)${noise}`,
    );
  }
  return found;
}
