/** The built widget: within its size budget, and served by the Worker as the embed needs it. */
import { readFileSync } from 'node:fs';
import { describe, expect, inject, test } from 'vitest';
import { BUDGET_BYTES, gzipSize } from '../../widget/size-check.js';

const dist = (name: string) => new URL(`../../widget/dist/${name}`, import.meta.url);

describe('bundle', () => {
  test(`widget.js is at most ${BUDGET_BYTES / 1024} KB min+gzip, Lit included`, () => {
    const bytes = gzipSize(dist('widget.js'));
    console.log(`widget.js: ${bytes} bytes min+gzip`);
    expect(bytes).toBeLessThanOrEqual(BUDGET_BYTES);
    expect(readFileSync(dist('widget.js'), 'utf8')).not.toMatch(/^import\s|from\s*["']lit/m); // nothing left to fetch
  });

  test('manifest.json names a content-hashed copy of widget.js', () => {
    const manifest = JSON.parse(readFileSync(dist('manifest.json'), 'utf8'));
    expect(manifest['widget.js']).toMatch(/^widget\.[0-9a-f]{12}\.js$/);
    expect(readFileSync(dist(manifest['widget.js']))).toEqual(readFileSync(dist('widget.js')));
    expect(manifest.integrity).toMatch(/^sha384-/);
  });

  test('the Worker serves widget.js (and the hashed copy) to other origins as a module', async () => {
    const manifest = JSON.parse(readFileSync(dist('manifest.json'), 'utf8'));
    for (const name of ['widget.js', manifest['widget.js']]) {
      const response = await fetch(`${inject('workerUrl')}/${name}`, { headers: { origin: inject('hostUrl') } });
      expect(response.status, `${name}: ${response.status === 200 ? '' : await response.clone().text()}`).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/javascript/);
      // Module scripts are fetched with CORS: without this no other site could embed the widget.
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      await response.arrayBuffer();
    }
  });
});
