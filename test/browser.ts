/**
 * Finds the Chromium that the widget tests, the end-to-end tests and the benchmark drive, so that
 * `npm install && npm test` is all the set-up. In order:
 *   1. `CHROMIUM_PATH`, when the user sets it (`CHROMIUM_PATH=npm` forces step 3, to test it);
 *   2. the usual system Chromium / Chrome paths (Debian, Ubuntu, Fedora, Arch, macOS, Windows);
 *   3. on Linux, the Chromium shipped in the npm package `@sparticuz/chromium` (a dev dependency),
 *      unpacked to the temp dir on first use (a few seconds, then reused).
 * Node only (imported by vitest configs, e2e helpers and the benchmark); nothing is downloaded.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';

/** No sandbox (containers, root), no GPU, nothing fetched from the network by the browser itself. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
];

/** What playwright's `launch()` needs: spread it into its options. */
export interface ChromiumLaunch {
  executablePath: string;
  args: string[];
  /** Set only for the npm-shipped Chromium (its own libraries and fonts); otherwise the browser inherits ours. */
  env?: Record<string, string>;
  /** Where it was found, for logs. */
  source: string;
}

const SYSTEM_PATHS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/usr/lib/chromium/chromium',
  '/snap/bin/chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe',
  'C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe',
];

let found: Promise<ChromiumLaunch> | undefined;

/** The browser to launch; resolved once per process. Rejects with what to set when there is none. */
export function findChromium(): Promise<ChromiumLaunch> {
  found ??= locate();
  return found;
}

async function locate(): Promise<ChromiumLaunch> {
  const wanted = process.env.CHROMIUM_PATH?.trim();
  if (wanted === 'npm') return npmChromium();
  if (wanted) {
    if (existsSync(wanted)) return { executablePath: wanted, args: CHROMIUM_ARGS, source: 'CHROMIUM_PATH' };
    throw new Error(`CHROMIUM_PATH is set to ${wanted}, which does not exist. Point it at a Chromium or Chrome.`);
  }
  const system = SYSTEM_PATHS.find((path) => existsSync(path));
  if (system) return { executablePath: system, args: CHROMIUM_ARGS, source: system };
  try {
    return await npmChromium();
  } catch (error) {
    throw new Error(
      'No Chromium found for the browser tests. Set CHROMIUM_PATH to a Chromium or Chrome executable ' +
        `(looked in ${SYSTEM_PATHS.join(', ')}; the npm-shipped @sparticuz/chromium failed: ` +
        `${error instanceof Error ? error.message : String(error)}).`,
    );
  }
}

/**
 * `@sparticuz/chromium`: a headless-shell build for Linux x64/arm64. Its recommended args are not
 * used: they switch off web security and site isolation, which the CORS tests rely on, and force
 * `--single-process`; ours suffice. Its binary links NSS and expat, which a machine without a
 * system Chromium may lack, so the copies it ships (its Amazon Linux bundle) go on the library
 * path, and its fonts are used when the system has no fontconfig.
 */
async function npmChromium(): Promise<ChromiumLaunch> {
  if (process.platform !== 'linux') {
    throw new Error(`@sparticuz/chromium runs on Linux only (this is ${process.platform})`);
  }
  const { default: chromium, inflate } = await import('@sparticuz/chromium');
  const executablePath = await chromium.executablePath();
  const bin = join(dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')), '..', 'bin');
  const libs = join(await inflate(join(bin, 'al2023.tar.br')), 'lib');
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
  env.LD_LIBRARY_PATH = [env.LD_LIBRARY_PATH, libs].filter(Boolean).join(delimiter);
  if (!env.FONTCONFIG_PATH && !existsSync('/etc/fonts/fonts.conf')) {
    env.FONTCONFIG_PATH = join(dirname(executablePath), 'fonts');
  }
  return { executablePath, args: CHROMIUM_ARGS, env, source: `npm @sparticuz/chromium (${executablePath})` };
}
