/**
 * The widget as people see it, at desktop and phone widths, light and dark, saved to
 * test-results/screenshots/ for review. Each shot also checks the layout holds: nothing wider
 * than the viewport (no sideways scrolling, down to 320 px).
 */
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { control, launch, newestWiroTaskId, normalPace, openHost, ready, screenshot, waitForEvent } from './helpers.ts';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterEach(() => normalPace());
afterAll(() => browser?.close());

async function noSidewaysScroll(page: Page): Promise<void> {
  const [scroll, client] = await page.evaluate(() => [
    document.documentElement.scrollWidth,
    document.documentElement.clientWidth,
  ]);
  expect(scroll).toBeLessThanOrEqual(client);
}

/** The relative luminance (0 black … 1 white) of an element's computed background colour. */
async function backgroundLuminance(target: Locator): Promise<number> {
  const color = await target.evaluate((element) => getComputedStyle(element).backgroundColor);
  const [r = 0, g = 0, b = 0] = (color.match(/[\d.]+/g) ?? []).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}

/** Starts a task held at "Generating", with real step progress on screen. */
async function generating(page: Page): Promise<void> {
  await control('config', { speed: 0 });
  const widget = page.locator('wiro-flux');
  await widget.locator('[part="lora"]').selectOption('1328');
  await widget.locator('[part="prompt"]').fill('a lighthouse at dusk, bold geometric shapes');
  await widget.locator('[part="submit"]').click();
  await waitForEvent(page, 'wiro-task');
  const wiroId = await newestWiroTaskId();
  for (let i = 0; i < 4; i++) await control(`tasks/${wiroId}/advance`, { to: 'task_output' });
  await expect.poll(() => widget.locator('.meta').textContent(), { timeout: 15_000 }).toContain('Step');
  await page.waitForTimeout(500); // the progress bar eases to its value
}

async function finish(page: Page): Promise<void> {
  await control('config', { speed: 3 });
  await waitForEvent(page, 'wiro-done', 20_000);
  const images = page.locator('wiro-flux [part="image"]');
  await expect
    .poll(() => images.first().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
    .toBeGreaterThan(0);
  await page.waitForTimeout(500);
}

describe('screenshots', () => {
  test('desktop 1280×900: the form, generating, and two results', async () => {
    const { context, page } = await openHost(browser);
    expect(await page.locator('wiro-flux .keys').isVisible()).toBe(true); // a mouse and keyboard: the hint shows
    await screenshot(page, 'desktop-idle');
    await page.locator('wiro-flux input[name="samples"]').nth(1).check({ force: true });
    await page.locator('wiro-flux input[name="size"]').nth(1).check({ force: true });
    await generating(page);
    await screenshot(page, 'desktop-generating');
    await finish(page);
    expect(await page.locator('wiro-flux [part="image"]').count()).toBe(2);
    await screenshot(page, 'desktop-results');
    await noSidewaysScroll(page);
    await page.locator('wiro-flux .tile .open').first().click();
    await expect.poll(() => page.locator('wiro-flux dialog').evaluate((d: HTMLDialogElement) => d.open)).toBe(true);
    await screenshot(page, 'desktop-viewer', false);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('wiro-flux dialog').evaluate((d: HTMLDialogElement) => d.open)).toBe(false);
    await context.close();
  });

  test('desktop, dark system theme', async () => {
    const { context, page } = await openHost(browser, { width: 1280, height: 900 }, 'dark');
    // theme="auto" (the default) follows the system: the widget's own surface is dark.
    expect(await backgroundLuminance(page.locator('wiro-flux').locator('.base'))).toBeLessThan(0.2);
    await generating(page);
    await finish(page);
    await screenshot(page, 'desktop-dark');
    await context.close();
  });

  test('the demo page: the widget within the first screen, and the page follows a dark system theme', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: scheme });
      const page = await context.newPage();
      await page.goto(`${inject('workerUrl')}/`);
      await ready(page);
      const widget = page.locator('.stage wiro-flux');
      // It starts in the upper half of the first screen, its prompt and style picker in view.
      expect((await widget.boundingBox())!.y).toBeLessThan(450);
      const lora = (await widget.locator('[part="lora"]').boundingBox())!;
      expect(lora.y + lora.height).toBeLessThan(900);
      const pageLuminance = await backgroundLuminance(page.locator('html'));
      const widgetLuminance = await backgroundLuminance(widget.locator('.base'));
      if (scheme === 'dark') {
        expect(pageLuminance).toBeLessThan(0.2);
        expect(widgetLuminance).toBeLessThan(0.2);
      } else {
        expect(pageLuminance).toBeGreaterThan(0.8);
        expect(widgetLuminance).toBeGreaterThan(0.8);
      }
      await screenshot(page, `demo-page-desktop-${scheme}`, false);
      await noSidewaysScroll(page);
      await context.close();
    }
  });

  test('phone 375×800: form, generating, result', async () => {
    const { context, page } = await openHost(browser, { width: 375, height: 800 });
    await screenshot(page, 'phone-375-idle');
    await noSidewaysScroll(page);
    await generating(page);
    await screenshot(page, 'phone-375-generating', false);
    await finish(page);
    await screenshot(page, 'phone-375-result');
    await noSidewaysScroll(page);
    await context.close();
  });

  test('phone 375×800: four results sit two per row, not in one tall column', async () => {
    const { context, page } = await openHost(browser, { width: 375, height: 800 });
    await page.locator('wiro-flux input[name="samples"]').nth(3).check({ force: true });
    await generating(page);
    await finish(page);
    const images = page.locator('wiro-flux [part="image"]');
    expect(await images.count()).toBe(4);
    const boxes = await Promise.all([0, 1, 2].map(async (i) => (await images.nth(i).boundingBox())!));
    expect(boxes[1]!.y).toBe(boxes[0]!.y); // side by side
    expect(boxes[1]!.x).toBeGreaterThan(boxes[0]!.x + boxes[0]!.width);
    expect(boxes[2]!.y).toBeGreaterThan(boxes[0]!.y); // the next row
    await page.locator('wiro-flux [part="gallery"]').scrollIntoViewIfNeeded();
    await screenshot(page, 'phone-375-four-results', false);
    await noSidewaysScroll(page);
    await context.close();
  });

  test('touch-only phone: no "Enter to generate" hint, the counter stays', async () => {
    const context = await browser.newContext({ viewport: { width: 375, height: 800 }, hasTouch: true, isMobile: true });
    const page = await context.newPage();
    await page.goto(`${inject('hostUrl')}/`);
    await ready(page);
    const hint = page.locator('wiro-flux .row.hint');
    await expect.poll(() => hint.locator('.keys').isVisible()).toBe(false);
    expect(await hint.locator('[aria-hidden]').isVisible()).toBe(true);
    // The viewport only: a full-page capture drops the touch emulation (and so the media query).
    await screenshot(page, 'phone-touch-idle', false);
    await noSidewaysScroll(page);
    await context.close();
  });

  test('phone 320×640: the narrowest', async () => {
    const { context, page } = await openHost(browser, { width: 320, height: 640 });
    await page.locator('wiro-flux input[name="size"]').last().check({ force: true });
    await generating(page);
    await finish(page);
    await screenshot(page, 'phone-320-result');
    await noSidewaysScroll(page);
    await context.close();
  });
});
