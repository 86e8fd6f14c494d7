#!/usr/bin/env node
/**
 * Fails when the built client is over its budget: 4 KB minified + gzipped (the aim is under
 * 3 KB; apps pay for every byte before their first Run). Run after `npm run build`:
 *
 *   node widget/client-size-check.js     # prints "client.js: 1.9 KB min+gzip (budget 4.0 KB)"
 */
import { pathToFileURL } from 'node:url';
import { gzipSize } from './size-check.js';

export const CLIENT_BUDGET_BYTES = 4 * 1024;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const bytes = gzipSize(new URL('./dist/client.js', import.meta.url));
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  const line = `client.js: ${kb(bytes)} min+gzip (budget ${kb(CLIENT_BUDGET_BYTES)})`;
  if (bytes > CLIENT_BUDGET_BYTES) {
    console.error(`${line}: over budget by ${bytes - CLIENT_BUDGET_BYTES} bytes`);
    process.exit(1);
  }
  console.log(line);
}
