/**
 * Reads the Worker's `Server-Timing` header on Run answers (worker/routes/run.ts): each entry is
 * one step's duration, object round trips marked `desc="object"`. Summarised over many Runs:
 * the median of each step, and how many sequential object round trips a Run made.
 *
 *   parseServerTiming('validate;dur=0.4, admit;dur=3.1;desc="object"')
 *   // → [{ name: 'validate', ms: 0.4, object: false }, { name: 'admit', ms: 3.1, object: true }]
 */
import { median } from './lib.ts';

export interface TimingEntry {
  name: string;
  ms: number;
  /** A round trip to a Durable Object (the laps are sequential, so each counts once). */
  object: boolean;
}

export function parseServerTiming(header: string | undefined): TimingEntry[] {
  if (!header) return [];
  return header.split(',').flatMap((part) => {
    const [name = '', ...params] = part.split(';').map((p) => p.trim());
    if (!name) return [];
    let ms = 0;
    let object = false;
    for (const param of params) {
      const [key, value = ''] = param.split('=');
      if (key === 'dur') ms = Number(value);
      if (key === 'desc') object = value.replace(/"/g, '') === 'object';
    }
    return [{ name, ms: Number.isFinite(ms) ? ms : 0, object }];
  });
}

export interface TimingSummary {
  /** Step name → median ms, in the order the steps first appeared. */
  steps: Map<string, number>;
  /** The most sequential object round trips any Run made (null with no header at all). */
  roundTrips: number | null;
  /** Runs that carried the header. */
  count: number;
}

export function summarizeTimings(headers: readonly (string | undefined)[]): TimingSummary {
  const parsed = headers.map(parseServerTiming).filter((entries) => entries.length > 0);
  const byStep = new Map<string, number[]>();
  for (const entries of parsed) {
    for (const entry of entries) byStep.set(entry.name, [...(byStep.get(entry.name) ?? []), entry.ms]);
  }
  const steps = new Map([...byStep].map(([name, values]) => [name, median(values) ?? 0]));
  const roundTrips = parsed.length > 0 ? Math.max(...parsed.map((e) => e.filter((x) => x.object).length)) : null;
  return { steps, roundTrips, count: parsed.length };
}
