/** Browser and emulator helpers for the end-to-end tests. */
import { mkdirSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { inject } from 'vitest';
import { findChromium } from '../browser.ts';
import { E2E_SPEED, SCREENSHOTS } from './constants.ts';

export interface RecordedEvent {
  type: string;
  detail: any;
  composed: boolean;
}

/** The browser test/browser.ts finds (CHROMIUM_PATH, a system one, or the npm-shipped one). */
export async function launch(): Promise<Browser> {
  const { executablePath, args, env } = await findChromium();
  return chromium.launch({ executablePath, args, env });
}

/** A fresh browser context (its own localStorage) on the third-party page. */
export async function openHost(
  browser: Browser,
  viewport = { width: 1280, height: 900 },
  colorScheme: 'light' | 'dark' = 'light',
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, colorScheme });
  const page = await context.newPage();
  await page.goto(`${inject('hostUrl')}/`);
  await ready(page);
  return { context, page };
}

/** Waits until the widget has built its form from `GET /v1/Tool`. */
export async function ready(page: Page): Promise<void> {
  await page.locator('wiro-flux [part="prompt"]').first().waitFor();
}

export function events(page: Page): Promise<RecordedEvent[]> {
  return page.evaluate(() => (window as any).__events as RecordedEvent[]);
}

export async function waitForEvent(page: Page, type: string, timeout = 15_000): Promise<RecordedEvent> {
  await page.waitForFunction((name) => (window as any).__events.some((e: any) => e.type === name), type, { timeout });
  const found = (await events(page)).find((event) => event.type === type);
  if (!found) throw new Error(`no ${type} event`);
  return found;
}

export function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as any).__csp as string[]);
}

/** Calls the emulator's control API (`/__emulator/...`). */
export async function control(path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${inject('emulatorUrl')}/__emulator/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`emulator ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/**
 * The emulator's (Wiro's) id of the task a page just started. The Worker never shows Wiro's ids,
 * and the end-to-end tests start one task at a time, so it is the newest task on the emulator.
 */
export async function newestWiroTaskId(): Promise<string> {
  const state = await control('state');
  const newest = state.tasks.at(-1);
  if (!newest) throw new Error('the emulator has no task');
  return newest.id;
}

/** Back to the suite's normal pace, with no pending failures. */
export function normalPace(): Promise<unknown> {
  return control('config', { speed: E2E_SPEED, failNextTasks: 0, dropCallbacks: false });
}

export async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage });
}
