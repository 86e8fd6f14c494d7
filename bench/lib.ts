/**
 * Small shared pieces of the benchmark: the `Metric` every measurement returns, statistics
 * (median, p95), timing, bounded waiting and a tiny concurrency limiter. No I/O here.
 */

/** One figure of the benchmark: a row of the table and an entry of `bench/results.json`. */
export interface Metric {
  /** Stable id, used to compare with the previous run (e.g. `overhead.detail_finished.worker.p50`). */
  key: string;
  /** Human label for the table. */
  metric: string;
  /** null when it could not be measured (the notes say why). */
  value: number | null;
  unit: string;
  notes: string;
  /** Which direction is better; absent for informational figures (counts, configuration). */
  better?: 'lower' | 'higher';
}

/** Builds a metric; rounds to a sensible precision for the unit. */
export function metric(
  key: string,
  label: string,
  value: number | null,
  unit: string,
  notes = '',
  better?: 'lower' | 'higher',
): Metric {
  let rounded = value;
  if (value !== null && Number.isFinite(value)) {
    const digits = Math.abs(value) >= 100 ? 1 : Math.abs(value) >= 10 ? 2 : 3;
    rounded = Number(value.toFixed(digits));
  } else if (value !== null) {
    rounded = null;
  }
  return better
    ? { key, metric: label, value: rounded, unit, notes, better }
    : { key, metric: label, value: rounded, unit, notes };
}

/** The q-quantile (0..1) by nearest rank; null for an empty sample. */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] ?? null;
}

export const median = (values: readonly number[]): number | null => quantile(values, 0.5);
export const p95 = (values: readonly number[]): number | null => quantile(values, 0.95);

export function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** a / b, or null when either is missing or b is 0. */
export function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** High-resolution milliseconds for measuring durations (not wall-clock). */
export const now = (): number => performance.now();

/** Runs `fn` and returns how long it took in ms, with its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = now();
  const value = await fn();
  return { ms: now() - start, value };
}

/** Polls `check` every `everyMs` until it returns a non-undefined value or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Rejects with a clear message when `promise` takes longer than `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Maps `items` with at most `limit` calls of `fn` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>) {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** `fmt(1234.5)` → '1,234.5': for notes. */
export function fmt(value: number | null, digits = 1): string {
  if (value === null) return 'n/a';
  return value.toLocaleString('en-US', { maximumFractionDigits: digits });
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
