/**
 * Builds the client (`client/index.ts`) into one minified ES module, `widget/dist/client.js`,
 * which the Worker serves as a static asset at `/client.js`, with its types beside it for apps to
 * download: `client.d.ts` (with the statuses written out: standaloneTypes), and `wiro-flux.d.ts` (the widget's declarations for React, Vue and
 * Svelte). The widget's build runs it once it has emptied and written `widget/dist/`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { RUNNING_STATUSES, TERMINAL_STATUSES } from '../shared/protocol.ts';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

const STATUS_IMPORT = "import type { RunningStatus, TaskStatus, TerminalStatus } from '../shared/protocol';";
const STATUS_EXPORT = 'export type { RunningStatus, TaskStatus, TerminalStatus };';

/** `client.d.ts` standing alone: its one import, the statuses, written out from shared/protocol.ts. */
function standaloneTypes(): string {
  const source = readFileSync(here('./client.d.ts'), 'utf8');
  if (!source.includes(STATUS_IMPORT) || !source.includes(STATUS_EXPORT)) {
    throw new Error('client.d.ts: the statuses import to write out was not found');
  }
  const union = (statuses: readonly string[]) => statuses.map((status) => `'${status}'`).join(' | ');
  const written = [
    `export type RunningStatus = ${union(RUNNING_STATUSES)};`,
    `export type TerminalStatus = ${union(TERMINAL_STATUSES)};`,
    'export type TaskStatus = RunningStatus | TerminalStatus;',
  ].join('\n');
  return source.replace(STATUS_IMPORT, written).replace(`${STATUS_EXPORT}\n`, '');
}

export default defineConfig({
  publicDir: false,
  plugins: [
    {
      name: 'wiro-flux:client-types',
      generateBundle() {
        this.emitFile({ type: 'asset', fileName: 'client.d.ts', source: standaloneTypes() });
        // The widget's framework declarations too, importing the client's types from beside them.
        const jsx = readFileSync(here('../widget/jsx.d.ts'), 'utf8').replace("'../client/client'", "'./client'");
        this.emitFile({ type: 'asset', fileName: 'wiro-flux.d.ts', source: jsx });
      },
    },
  ],
  build: {
    outDir: here('../widget/dist'),
    emptyOutDir: false,
    target: 'es2022',
    minify: 'oxc',
    rolldownOptions: { output: { minify: true, comments: false } },
    reportCompressedSize: false,
    lib: {
      entry: here('./index.ts'),
      formats: ['es'],
      fileName: () => 'client.js',
    },
  },
});
