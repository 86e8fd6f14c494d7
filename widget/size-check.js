#!/usr/bin/env node
/**
 * Fails when the built widget is over its budget: 20 KB minified + gzipped, Lit included.
 * Run after `npm run build`:
 *
 *   node widget/size-check.js            # prints "widget.js: 18.4 KB min+gzip (budget 20 KB)"
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

export const BUDGET_BYTES = 20 * 1024;

/** Minified and gzipped (level 9) size of a built file, in bytes. */
export function gzipSize(path) {
  return gzipSync(readFileSync(path), { level: 9 }).length;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const path = new URL('./dist/widget.js', import.meta.url);
  const bytes = gzipSize(path);
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  const line = `widget.js: ${kb(bytes)} min+gzip (budget ${kb(BUDGET_BYTES)})`;
  if (bytes > BUDGET_BYTES) {
    console.error(`${line}: over budget by ${bytes - BUDGET_BYTES} bytes`);
    process.exit(1);
  }
  console.log(line);
}
