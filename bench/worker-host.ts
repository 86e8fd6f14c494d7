/**
 * Runs the Worker for the benchmark in a process of its own: wrangler's dev server
 * (`unstable_startWorker`, the same runtime `wrangler dev` uses) with file watching OFF, so
 * edits made while the benchmark runs can't restart the Worker under it (the `wrangler dev` CLI
 * has no switch for that). wrangler.toml's [build] runs once, first, as with `wrangler dev`.
 *
 * Started by servers.ts as `node bench/worker-host.ts '<json options>'`; prints one line
 * `READY <url>` once the Worker listens, and stops the Worker and exits on SIGTERM, SIGINT, or
 * when its parent goes away (its stdin closes).
 */
import { unstable_startWorker } from 'wrangler';

interface HostOptions {
  port: number;
  vars: Record<string, string>;
  /** Var names passed as secrets rather than plain text. */
  secrets: string[];
  /** Skip wrangler.toml's [build]: the widget is built already (a second Worker needs only the API). */
  skipBuild?: boolean;
}

const options = JSON.parse(process.argv[2] ?? '{}') as HostOptions;

const bindings = Object.fromEntries(
  Object.entries(options.vars).map(([name, value]) => [
    name,
    { type: options.secrets.includes(name) ? 'secret_text' : 'plain_text', value },
  ]),
);

const worker = await unstable_startWorker({
  config: 'wrangler.toml',
  // `true` is a command that does nothing: an empty one would fall back to wrangler.toml's.
  ...(options.skipBuild ? { build: { custom: { command: 'true' } } } : {}),
  bindings,
  dev: {
    server: { hostname: '127.0.0.1', port: options.port },
    inspector: false,
    // In memory: a fresh store every run (no tasks, counters or budgets left from the last one).
    persist: false,
    logLevel: 'warn',
    watch: false,
    liveReload: false,
  },
} as Parameters<typeof unstable_startWorker>[0]);
await worker.ready;
const url = (await worker.url).origin;
process.stdout.write(`READY ${url}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(1), 5000);
  try {
    await worker.dispose();
  } finally {
    clearTimeout(force);
    process.exit(0);
  }
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.on('close', () => void stop());
process.stdin.resume();
