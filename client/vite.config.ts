/**
 * Builds the client (`client/index.ts`) into one minified ES module, `widget/dist/client.js`,
 * which the Worker serves as a static asset at `/client.js`, with its types beside it for apps to
 * download: `client.d.ts`, and `wiro-flux.d.ts` (the widget's declarations for React, Vue and
 * Svelte). The widget's build runs it once it has emptied and written `widget/dist/`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  publicDir: false,
  plugins: [
    {
      name: 'wiro-flux:client-types',
      generateBundle() {
        this.emitFile({ type: 'asset', fileName: 'client.d.ts', source: readFileSync(here('./client.d.ts'), 'utf8') });
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
