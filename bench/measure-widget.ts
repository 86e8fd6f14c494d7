/**
 * Widget: time from navigation start to an interactive form, in Chromium (the one test/browser.ts
 * finds, driven by playwright-core). The Worker's demo page `/` is loaded N times, each in a fresh
 * browser context (empty cache); "interactive" is the first moment the first `<wiro-flux>`'s shadow
 * root has its `[part=submit]` button and it is enabled. The time is the page's own `performance.now()` (0 =
 * navigation start), sampled every 5 ms. A load that never gets there counts as n/a.
 */
import { findChromium } from '../test/browser.ts';
import { errorMessage, type Metric, median, metric, p95 } from './lib.ts';

const LOADS = 10;
const LOAD_TIMEOUT_MS = 10_000;

export async function measureWidget(workerUrl: string, log: (line: string) => void): Promise<Metric[]> {
  const times: number[] = [];
  const failures: string[] = [];
  let fatal = '';
  try {
    const { chromium } = await import('playwright-core');
    const { executablePath, args, env } = await findChromium();
    const browser = await chromium.launch({ executablePath, args, env, headless: true });
    try {
      for (let i = 0; i < LOADS; i++) {
        const context = await browser.newContext();
        try {
          const page = await context.newPage();
          await page.goto(`${workerUrl}/`, { waitUntil: 'commit', timeout: LOAD_TIMEOUT_MS });
          const handle = await page.waitForFunction(
            () => {
              const button = document.querySelector('wiro-flux')?.shadowRoot?.querySelector('[part=submit]');
              return button instanceof HTMLButtonElement && !button.disabled ? performance.now() : false;
            },
            null,
            { polling: 5, timeout: LOAD_TIMEOUT_MS },
          );
          times.push(Number(await handle.jsonValue()));
        } catch (error) {
          failures.push(errorMessage(error).split('\n')[0] ?? 'failed');
        } finally {
          await context.close();
        }
      }
    } finally {
      await browser.close();
    }
  } catch (error) {
    fatal = errorMessage(error).split('\n')[0] ?? 'failed';
  }
  log(`widget: ${times.length}/${LOADS} loads interactive${fatal ? `; ${fatal}` : ''}`);
  let notes = `${times.length}/${LOADS} loads, fresh context each, Chromium headless`;
  if (fatal) notes = `n/a: ${fatal}`;
  else if (failures.length > 0)
    notes += `; ${failures.length} never interactive within ${LOAD_TIMEOUT_MS} ms: ${failures[0]}`;
  return [
    metric('widget.interactive.p50', 'Widget: navigation → interactive form, p50', median(times), 'ms', notes, 'lower'),
    metric('widget.interactive.p95', 'Widget: navigation → interactive form, p95', p95(times), 'ms', '', 'lower'),
  ];
}
