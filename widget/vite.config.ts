/**
 * Builds the widget into one ES module with Lit bundled in, `widget/dist/widget.js`, which the
 * Worker serves as a static asset, and copies the demo page (`widget/public/`) beside it.
 *
 * Besides `widget.js` (a stable URL for the two-line embed), the build writes a content-hashed
 * copy, `widget.<hash>.js`, and `manifest.json` naming it, so the Worker can serve the hashed
 * one with immutable caching:
 *
 *   {"widget.js": "widget.3f9c2a1b7d4e.js", "integrity": "sha384-…", "bytes": 48211, "gzipBytes": 16102}
 *
 * Then it builds the typed client into the same folder (client/vite.config.ts), so whatever
 * builds the widget (npm run build, wrangler's [build], the test setups) also serves /client.js.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, defineConfig, type Plugin } from 'vite';
import { minifyTemplates } from './build/minify-templates.ts';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** Emits `widget.<hash>.js` and `manifest.json` next to `widget.js`. */
function hashedCopy(): Plugin {
  return {
    name: 'wiro-flux:hashed-copy',
    generateBundle(_options, bundle) {
      const chunk = bundle['widget.js'];
      if (chunk?.type !== 'chunk') this.error('widget.js was not built');
      const code = chunk.code;
      const hash = createHash('sha256').update(code).digest('hex').slice(0, 12);
      const hashed = `widget.${hash}.js`;
      this.emitFile({ type: 'asset', fileName: hashed, source: code });
      const manifest = {
        'widget.js': hashed,
        integrity: `sha384-${createHash('sha384').update(code).digest('base64')}`,
        bytes: Buffer.byteLength(code),
        gzipBytes: gzipSync(code, { level: 9 }).length,
      };
      this.emitFile({ type: 'asset', fileName: 'manifest.json', source: `${JSON.stringify(manifest, null, 2)}\n` });
    },
  };
}

/** This build empties widget/dist/: the client's build adds to it once the widget is written. */
function withClient(): Plugin {
  return {
    name: 'wiro-flux:client',
    async closeBundle() {
      await build({ configFile: here('../client/vite.config.ts'), logLevel: 'warn' });
    },
  };
}

export default defineConfig({
  publicDir: here('./public'),
  plugins: [minifyTemplates(), hashedCopy(), withClient()],
  // Lit's production build, also when the build runs under a test runner (NODE_ENV=test would
  // pick Lit's larger development build, with its dev-mode warnings).
  resolve: { conditions: ['module', 'browser', 'production'] },
  build: {
    outDir: here('./dist'),
    emptyOutDir: true,
    target: 'es2022',
    // An ES library build keeps its whitespace by default (for bundlers downstream); this one
    // goes to browsers as is, so minify it fully.
    minify: 'oxc',
    rolldownOptions: { output: { minify: true, comments: false } },
    reportCompressedSize: false,
    lib: {
      entry: here('./src/index.ts'),
      formats: ['es'],
      fileName: () => 'widget.js',
    },
  },
});
