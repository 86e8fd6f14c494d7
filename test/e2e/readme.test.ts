/**
 * The README's API walk-through runs as written: its shell block is taken from README.md and run
 * with bash and curl against the real Worker (wrangler's dev server) and the emulator, with only
 * the Worker's address changed. A README line that stops working fails here.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, inject, test } from 'vitest';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const FIRST_LINE = 'W=http://localhost:8787';

describe('the README', () => {
  test('API walk-through runs verbatim: tool, schema, Run, Detail, Events, Cancel, Kill', () => {
    const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
    const walkthrough = blocks.find((block) => block.startsWith(FIRST_LINE));
    expect(walkthrough, 'the API block of the README').toBeDefined();
    const script = (walkthrough ?? '').replace(FIRST_LINE, `W=${inject('workerUrl')}`);
    const run = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 20_000 });
    const out = run.stdout;
    expect(out).toContain('"slug":"wiro/text-to-image-flux-lora-fast"'); // GET /v1/Tool
    expect(out).toContain('"tool":[{"id":"wiro/text-to-image-flux-lora-fast"'); // Tool/Detail
    expect(out).toMatch(/"result":true,"errors":\[\],"taskid":"[A-Za-z0-9]{59}"/); // Run
    expect(out).toContain('"total":"1","tasklist":[{'); // Detail
    expect(out).toContain('event: task_queue'); // Events
    expect(out).toContain('"status":"task_cancel"'); // Cancel
    expect(out).toContain('has already ended (task_cancel); there is nothing to stop'); // Kill, after the Cancel
    expect(out).not.toMatch(/is required|could not be read|not valid JSON/);
  });
});
