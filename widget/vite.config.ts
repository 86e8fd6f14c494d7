/**
 * Builds the widget into one ES module, `widget/dist/widget.js`, which the Worker serves as a
 * static asset, and copies the demo page (`widget/public/index.html`) beside it.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  publicDir: here('./public'),
  build: {
    outDir: here('./dist'),
    emptyOutDir: true,
    target: 'es2022',
    lib: {
      entry: here('./src/index.ts'),
      formats: ['es'],
      fileName: () => 'widget.js',
    },
  },
});
