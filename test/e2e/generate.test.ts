/** Generating an image end to end, from a third-party page, through the real Worker. */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { cspViolations, events, launch, normalPace, openHost, screenshot, waitForEvent } from './helpers.ts';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
  await normalPace();
});
afterAll(() => browser?.close());

describe('generate', () => {
  test('a prompt becomes an image, with wiro-task, wiro-status and wiro-done on the page', async () => {
    const { context, page } = await openHost(browser);
    const requests: string[] = [];
    page.on('request', (request) => requests.push(new URL(request.url()).pathname));
    const widget = page.locator('wiro-flux');
    await widget.locator('[part="prompt"]').fill('a lighthouse at dusk, oil painting');
    await widget.locator('[part="submit"]').click();

    const task = await waitForEvent(page, 'wiro-task');
    expect(task.composed).toBe(true);
    // The Worker's own id, a capability like the token: never Wiro's sequential one.
    expect(task.detail.taskid).toMatch(/^(?:[A-Za-z0-9]{40}|[A-Za-z0-9]{59})$/);
    expect(task.detail.socketaccesstoken).toEqual(expect.any(String));

    const done = await waitForEvent(page, 'wiro-done');
    expect(done.detail.task.status).toBe('task_postprocess_end');
    expect(done.detail.task.pexit).toBe('0');
    expect(done.detail.task.outputs.length).toBe(1);

    const statuses = (await events(page)).filter((e) => e.type === 'wiro-status').map((e) => e.detail.status);
    expect(statuses[0]).toBe('task_queue');
    expect(statuses.at(-1)).toBe('task_postprocess_end');
    // Streamed across origins (CORS on the task object's stream), not polled.
    expect(requests).toContain('/v1/Task/Events');
    expect(requests).not.toContain('/v1/Task/Detail');

    const image = widget.locator('[part="image"]');
    await expect
      .poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
      .toBeGreaterThan(0);
    expect(await image.getAttribute('src')).toBe(done.detail.task.outputs[0].url);
    await expect.poll(() => widget.locator('[part="status"]').textContent()).toContain('Done');
    expect(await widget.locator('[part="cancel"]').count()).toBe(0);

    // Focus went to the results; the page's strict CSP was never violated.
    expect(
      await page.evaluate(() => document.querySelector('wiro-flux')?.shadowRoot?.activeElement?.getAttribute('part')),
    ).toBe('gallery');
    expect(await cspViolations(page)).toEqual([]);
    await screenshot(page, 'desktop-done');
    await context.close();
  });

  test('on the Worker’s own page the status streams live (Server-Sent Events, no polling)', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (request) => requests.push(new URL(request.url()).pathname));
    await page.goto(`${inject('workerUrl')}/`);
    const widget = page.locator('wiro-flux').first();
    await widget.locator('[part="prompt"]').waitFor();
    await widget.locator('[part="submit"]').click();
    await expect
      .poll(() => widget.evaluate((el: any) => el.stream.transport ?? el.stream.status))
      .toMatch(/stream|ended/);
    await expect.poll(() => widget.locator('[part="image"]').count(), { timeout: 15_000 }).toBe(1);
    expect(requests).toContain('/v1/Task/Events');
    expect(requests).not.toContain('/v1/Task/Detail');
    await context.close();
  });

  test('the demo page serves the widget from the Worker, light and dark', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${inject('workerUrl')}/`);
    await expect.poll(() => page.locator('wiro-flux').count()).toBe(2);
    await page.locator('wiro-flux [part="prompt"]').first().waitFor();
    await expect.poll(() => page.locator('wiro-flux [part="notice"]').first().textContent()).toContain('Demo mode');
    // The "Embed it" snippet names this Worker (filled in by /demo.js, under the page's CSP).
    const snippet = page.locator('#embed pre');
    await expect.poll(() => snippet.textContent()).toContain(`src="${inject('workerUrl')}/widget.js"`);
    expect(await snippet.textContent()).toContain(`endpoint="${inject('workerUrl')}"`);
    expect(await snippet.textContent()).not.toContain('YOUR-WORKER');
    await screenshot(page, 'demo-page');
    await context.close();
  });
});

describe('a page the Worker does not serve yet', () => {
  test('hears from the widget which origin to add to ALLOWED_ORIGINS', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    // The same host page, from an origin the Worker was not told about.
    const other = inject('hostUrl').replace('127.0.0.1', 'localhost');
    await page.goto(`${other}/`);
    const notice = page.locator('wiro-flux').getByText('ALLOWED_ORIGINS');
    await notice.waitFor();
    expect(await notice.textContent()).toContain(`This page (${other}) may not use this Worker`);
    await screenshot(page, 'origin-refused');
    const errors = (await events(page)).filter((event) => event.type === 'wiro-error');
    expect(errors[0]?.detail.message).toContain('ALLOWED_ORIGINS');
    await context.close();
  });
});
