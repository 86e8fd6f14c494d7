/**
 * The bench's figures as hand-written SVG (no dependency), from one run's metrics, written to
 * docs/bench/ for the README:
 * - `latency.svg`: status latency (p50) against watchers (1, 100, 1,000; log scales), SSE and
 *   WebSocket, end of task and the running-status burst;
 * - `run.svg`: where a Run's milliseconds go (Server-Timing steps stacked, plus what lies outside
 *   the route), beside the finished-task Detail it is judged against.
 * A missing figure leaves its point or segment out; the chart still renders.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fmt, type Metric } from './lib.ts';

const FONT = 'font-family="system-ui, sans-serif" font-size="12"';
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#64748b'];
const WATCHERS = [1, 100, 1000];

const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const text = (x: number, y: number, body: string, extra = '') =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${extra}>${esc(body)}</text>`;

function svg(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} role="img" aria-label="${esc(title)}">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    text(width / 2, 22, title, 'text-anchor="middle" font-size="14" font-weight="600"'),
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** Latency p50 against watchers, one line per transport and kind, both axes logarithmic. */
export function latencyChart(metrics: ReadonlyMap<string, number | null>, subtitle: string): string {
  const series = [
    { key: 'sse.n{n}.p50', label: 'SSE, end of task', dash: '' },
    { key: 'ws.n{n}.p50', label: 'WebSocket, end of task', dash: '' },
    { key: 'sse.n{n}.running.p50', label: 'SSE, running burst', dash: '6 4' },
    { key: 'ws.n{n}.running.p50', label: 'WebSocket, running burst', dash: '6 4' },
  ].map((s, i) => ({
    ...s,
    color: COLORS[i % 2] as string,
    points: WATCHERS.map((n) => ({ n, ms: metrics.get(`latency.${s.key.replace('{n}', String(n))}`) ?? null })),
  }));
  const values = series.flatMap((s) => s.points.map((p) => p.ms)).filter((ms): ms is number => ms !== null && ms > 0);
  const [W, H, left, right, top, bottom] = [700, 380, 76, 210, 48, 50];
  const lo = 10 ** Math.floor(Math.log10(values.length > 0 ? Math.min(...values) : 1));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(10, ...values)));
  const x = (n: number) => left + (Math.log10(n) / 3) * (W - left - right);
  const y = (ms: number) => H - bottom - ((Math.log10(ms) - Math.log10(lo)) / Math.log10(hi / lo)) * (H - top - bottom);
  const body: string[] = [text(W / 2, 38, subtitle, 'text-anchor="middle" fill="#475569" font-size="11"')];
  for (let tick = lo; tick <= hi; tick *= 10) {
    body.push(
      `<line x1="${left}" x2="${W - right}" y1="${y(tick)}" y2="${y(tick)}" stroke="#e2e8f0"/>`,
      text(left - 6, y(tick) + 4, `${fmt(tick, 0)} ms`, 'text-anchor="end" fill="#475569"'),
    );
  }
  for (const n of WATCHERS) {
    body.push(text(x(n), H - bottom + 18, n.toLocaleString('en-US'), 'text-anchor="middle" fill="#475569"'));
  }
  body.push(text((left + W - right) / 2, H - 12, 'watchers of one task (p50)', 'text-anchor="middle"'));
  series.forEach((s, i) => {
    const drawn = s.points.filter((p): p is { n: number; ms: number } => p.ms !== null && p.ms > 0);
    const path = drawn.map((p, k) => `${k === 0 ? 'M' : 'L'}${x(p.n).toFixed(1)},${y(p.ms).toFixed(1)}`).join(' ');
    if (path) {
      body.push(
        `<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
      );
    }
    for (const p of drawn) body.push(`<circle cx="${x(p.n)}" cy="${y(p.ms)}" r="3" fill="${s.color}"/>`);
    const ly = top + 10 + i * 20;
    body.push(
      `<line x1="${W - right + 14}" x2="${W - right + 40}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
      text(W - right + 46, ly + 4, s.label),
    );
  });
  return svg(W, H, 'Status latency against watchers', body);
}

/** One stacked bar for the Run (Server-Timing steps, then the rest) and one for Detail. */
export function runChart(metrics: ReadonlyMap<string, number | null>, subtitle: string): string {
  const steps = [...metrics]
    .filter(([key, ms]) => /^overhead\.run\.step\.[^.]+\.p50$/.test(key) && ms !== null)
    .map(([key, ms]) => ({ name: key.split('.')[3] as string, ms: ms as number }));
  const named: Record<string, string> = {
    validate: 'validate (route)',
    claim: 'claim (task object)',
    admit: 'admit (limiter + budget)',
    task: "task object + Wiro's Run",
    rest: 'outside the route',
  };
  const detail = metrics.get('overhead.detail_finished.worker.p50') ?? null;
  const total = steps.reduce((sum, s) => sum + s.ms, 0);
  const [W, H, left, right] = [640, 200, 150, 30];
  const scale = (W - left - right) / Math.max(1, total, detail ?? 0);
  const body: string[] = [text(W / 2, 38, subtitle, 'text-anchor="middle" fill="#475569" font-size="11"')];
  const barY = 60;
  body.push(text(left - 8, barY + 20, `Run, p50 ${fmt(total, 1)} ms`, 'text-anchor="end"'));
  let at = left;
  steps.forEach((s, i) => {
    const w = s.ms * scale;
    const color = COLORS[i % COLORS.length] as string;
    body.push(`<rect x="${at.toFixed(1)}" y="${barY}" width="${w.toFixed(1)}" height="30" fill="${color}"/>`);
    const ly = barY + 100 + Math.floor(i / 2) * 18;
    const lx = left + (i % 2) * 240;
    body.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${color}"/>`,
      text(lx + 18, ly, `${named[s.name] ?? s.name}: ${fmt(s.ms, 1)} ms`),
    );
    at += w;
  });
  if (detail !== null) {
    body.push(
      text(left - 8, barY + 60, `Detail, p50 ${fmt(detail, 1)} ms`, 'text-anchor="end"'),
      `<rect x="${left}" y="${barY + 40}" width="${(detail * scale).toFixed(1)}" height="30" fill="#94a3b8"/>`,
    );
  }
  return svg(W, H, "Where a Run's milliseconds go", body);
}

/** Writes both charts to `dir`; returns the paths written. */
export function writeCharts(dir: string, metrics: readonly Metric[], subtitle: string): string[] {
  mkdirSync(dir, { recursive: true });
  const byKey = new Map(metrics.map((m) => [m.key, m.value]));
  const files = [
    ['latency.svg', latencyChart(byKey, subtitle)],
    ['run.svg', runChart(byKey, subtitle)],
  ] as const;
  return files.map(([name, body]) => {
    const path = join(dir, name);
    writeFileSync(path, body);
    return path;
  });
}
