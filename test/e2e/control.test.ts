/**
 * Controlling a task end to end: cancel while queued, stop while running, a failure with Retry,
 * and a reload in the middle of a task. The emulator's speed 0 holds tasks where a test wants.
 */
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { control, events, launch, newestWiroTaskId, normalPace, openHost, ready, waitForEvent } from './helpers.ts';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterEach(() => normalPace());
afterAll(() => browser?.close());

describe('control', () => {
  test('Cancel while queued cancels the task on Wiro', async () => {
    await control('config', { speed: 0 });
    const { context, page } = await openHost(browser);
    const widget = page.locator('wiro-flux');
    await widget.locator('[part="submit"]').click();
    await waitForEvent(page, 'wiro-task');
    const cancel = widget.locator('[part="cancel"]');
    await expect.poll(() => cancel.textContent()).toBe('Cancel');
    await cancel.click();

    const done = await waitForEvent(page, 'wiro-done');
    expect(done.detail.task.status).toBe('task_cancel');
    await expect.poll(() => widget.locator('[part="status"]').textContent()).toContain('Cancelled');
    expect(await cancel.count()).toBe(0);
    const state = await control('state');
    const wiroId = await newestWiroTaskId();
    expect(state.tasks.find((t: any) => t.id === wiroId).status).toBe('task_cancel');
    expect(state.calls.filter((c: any) => c.route === 'Cancel' && c.body?.taskid === wiroId).length).toBe(1);
    await context.close();
  });

  test('Stop while running kills the task on Wiro', async () => {
    await control('config', { speed: 0 });
    const { context, page } = await openHost(browser);
    const widget = page.locator('wiro-flux');
    await widget.locator('[part="submit"]').click();
    await waitForEvent(page, 'wiro-task');
    const wiroId = await newestWiroTaskId();
    await control(`tasks/${wiroId}/advance`, { to: 'task_output' });
    const stop = widget.locator('[part="cancel"]');
    await expect.poll(() => stop.textContent(), { timeout: 15_000 }).toBe('Stop');
    await stop.click();

    const done = await waitForEvent(page, 'wiro-done');
    expect(done.detail.task.status).toBe('task_cancel');
    const calls = (await control('state')).calls.filter((c: any) => c.body?.taskid === wiroId).map((c: any) => c.route);
    expect(calls).toContain('Kill');
    expect(calls).not.toContain('Cancel');
    await context.close();
  });

  test('a failed task shows its debugerror; Retry makes the image', async () => {
    await control('config', { failNextTasks: 1 });
    const { context, page } = await openHost(browser);
    const widget = page.locator('wiro-flux');
    await widget.locator('[part="submit"]').click();
    const failed = await waitForEvent(page, 'wiro-error');
    expect(failed.detail.message).toContain('CUDA out of memory');
    const error = widget.locator('[part="error"]');
    await expect.poll(() => error.textContent()).toContain('RuntimeError: CUDA out of memory');
    await error.getByRole('button', { name: 'Retry' }).click();

    await expect.poll(() => widget.locator('[part="image"]').count(), { timeout: 15_000 }).toBe(1);
    const tasks = (await events(page)).filter((e) => e.type === 'wiro-task');
    expect(tasks.length).toBe(2);
    expect(await error.count()).toBe(0);
    await context.close();
  });

  test('a reload in the middle of a task picks it up again and finishes it', async () => {
    await control('config', { speed: 0 });
    const { context, page } = await openHost(browser);
    const widget = page.locator('wiro-flux');
    await widget.locator('[part="prompt"]').fill('a paper boat on a pond');
    await widget.locator('[part="submit"]').click();
    const task = await waitForEvent(page, 'wiro-task');

    await page.reload();
    await ready(page);
    await expect.poll(() => widget.locator('[part="status"]').textContent()).toContain('Queued');
    expect(await widget.locator('[part="cancel"]').textContent()).toBe('Cancel');
    await control('config', { speed: 3 });

    const done = await waitForEvent(page, 'wiro-done', 20_000);
    expect(done.detail.task.id).toBe(task.detail.taskid);
    await expect.poll(() => widget.locator('[part="image"]').count()).toBe(1);
    // The history kept the prompt; the first entry is this task.
    expect(await widget.locator('[part="history"] li button').first().getAttribute('aria-label')).toBe(
      'Done: a paper boat on a pond',
    );
    await context.close();
  });
});
