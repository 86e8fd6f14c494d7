/**
 * Size: what a page downloads for the widget and what Cloudflare runs for the Worker.
 * - the widget: `widget/dist/widget.js` (already minified by vite), raw and gzip level 9;
 * - the typed client: `widget/dist/client.js` (built with the widget), raw and gzip level 9;
 * - the Worker: the bundle `wrangler deploy --dry-run --minify` writes (wrangler.toml's [build]
 *   rebuilds the widget first, so this also refreshes widget/dist), raw and gzip level 9.
 * Runs before `wrangler dev` starts, so the rebuild can't disturb the dev server.
 */
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { errorMessage, type Metric, metric, sleep } from './lib.ts';
import { OUT_DIR, ROOT, spawnGroup, WRANGLER } from './servers.ts';

const DEPLOY_TIMEOUT_MS = 120_000;

function gzipSize(bytes: Buffer): number {
  return gzipSync(bytes, { level: 9 }).length;
}

const kb = (bytes: number) => bytes / 1024;

/** `wrangler deploy --dry-run --outdir <dir> --minify`; resolves with its exit code. */
async function dryRun(outdir: string): Promise<number> {
  mkdirSync(OUT_DIR, { recursive: true });
  const log = createWriteStream(join(OUT_DIR, 'wrangler-deploy.log'));
  const child = spawnGroup(WRANGLER[0], [WRANGLER[1], 'deploy', '--dry-run', '--outdir', outdir, '--minify'], log);
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  const code = await Promise.race([exited, sleep(DEPLOY_TIMEOUT_MS).then(() => -1)]);
  if (code === -1 && child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  log.end();
  return code;
}

export async function measureSize(log: (line: string) => void): Promise<Metric[]> {
  const metrics: Metric[] = [];
  const outdir = mkdtempSync(join(tmpdir(), 'wiro-bench-bundle-'));
  try {
    log('size: wrangler deploy --dry-run --minify (builds the widget too)');
    const code = await dryRun(outdir);
    const files = existsSync(outdir) ? readdirSync(outdir).filter((f) => /\.(m?js)$/.test(f)) : [];
    if (code !== 0 || files.length === 0) {
      const why = code === -1 ? 'timed out' : `exit ${code}`;
      metrics.push(
        metric(
          'size.worker.gzip',
          'Size: Worker bundle, min+gzip',
          null,
          'KiB',
          `dry run failed (${why}); see bench/out`,
        ),
      );
    } else {
      const bytes = Buffer.concat(files.map((f) => readFileSync(join(outdir, f))));
      metrics.push(
        metric(
          'size.worker.gzip',
          'Size: Worker bundle, min+gzip',
          kb(gzipSize(bytes)),
          'KiB',
          files.join(', '),
          'lower',
        ),
        metric('size.worker.min', 'Size: Worker bundle, minified', kb(bytes.length), 'KiB', '', 'lower'),
      );
    }
  } catch (error) {
    metrics.push(metric('size.worker.gzip', 'Size: Worker bundle, min+gzip', null, 'KiB', errorMessage(error)));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }

  metrics.push(...builtModuleSizes('widget', 'widget.js', 'gzip -9'));
  metrics.push(...builtModuleSizes('client', 'client.js', 'gzip -9; aim < 3'));
  return metrics;
}

/** Sizes of one module vite built into widget/dist (`widget.js`, `client.js`), or why there are none. */
function builtModuleSizes(key: string, file: string, gzipNote: string) {
  const path = join(ROOT, 'widget', 'dist', file);
  if (!existsSync(path))
    return [metric(`size.${key}.gzip`, `Size: ${file}, min+gzip`, null, 'KiB', `widget/dist/${file} missing`)];
  const bytes = readFileSync(path);
  return [
    metric(`size.${key}.gzip`, `Size: ${file}, min+gzip`, kb(gzipSize(bytes)), 'KiB', gzipNote, 'lower'),
    metric(`size.${key}.min`, `Size: ${file}, minified`, kb(bytes.length), 'KiB', 'as vite built it', 'lower'),
  ];
}
