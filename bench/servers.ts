/**
 * The benchmark's world: the bundled Wiro emulator, in this process, and the real Worker under
 * wrangler's dev server (a child process, worker-host.ts, in its own process group so that
 * stopping it also stops workerd), pointed at the emulator with limits set out of the way.
 * Everything listens on 127.0.0.1 only. `killChildrenNow()` is safe from signal and exit handlers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { type Emulator, startEmulator } from '../emulator/emulator.ts';
import { sleep } from './lib.ts';

export const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
/** Scratch space (gitignored): wrangler's log. */
export const OUT_DIR = join(ROOT, 'bench', 'out');

/** Not real secrets: the emulator's project for the benchmark. */
export const BENCH_KEY = 'bench-key-3f9a1c';
export const BENCH_SECRET = 'bench-secret-7d2e44';

export interface WorkerProcess {
  url: string;
  /** How long the dev server took from spawn to the first answer of `GET /v1/Tool` (build included). */
  startMs: number;
  logPath: string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (tiny race between closing and reuse; fine for a local bench). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function startBenchEmulator(): Promise<Emulator> {
  // Speed 0: tasks move only when a measurement says so; each measurement sets its own speed.
  return startEmulator({ host: '127.0.0.1', apiKey: BENCH_KEY, apiSecret: BENCH_SECRET, speed: 0 });
}

// ---------------------------------------------------------------------------------------------
// Child processes (the Worker's host, wrangler deploy), with cleanup that survives errors and Ctrl-C

const children = new Set<ChildProcess>();

/** Kills every child's process group at once (synchronous: usable from 'exit' handlers). */
export function killChildrenNow(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    }
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
    children.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    // Already gone.
  }
  const gone = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
  if (!gone) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    await Promise.race([exited, sleep(2000)]);
  }
  children.delete(child);
}

/**
 * Keeps wrangler on loopback: no metrics, no update check (it hides with the banner), no fetch of
 * the `Request.cf` placeholder from workers.cloudflare.com (miniflare's built-in default is used).
 */
const QUIET_WRANGLER = {
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  CI: '1',
  FORCE_COLOR: '0',
};

/** Spawns a command in its own process group, logging to `log`; the group is killed by `stop`. */
export function spawnGroup(command: string, args: string[], log: WriteStream, options: { stdin?: boolean } = {}) {
  const child = spawn(command, args, {
    cwd: ROOT,
    detached: true,
    // A piped stdin lets a child notice when this process is gone (the pipe closes), however it ended.
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...QUIET_WRANGLER },
  });
  children.add(child);
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  child.once('exit', () => children.delete(child));
  return child;
}

/** The wrangler CLI, run with this very Node (22+), not whatever `node` is first on PATH. */
export const WRANGLER = [process.execPath, join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js')] as const;

export interface WorkerOptions {
  /** Vars over the defaults below (e.g. one cap set low). */
  vars?: Record<string, string>;
  /** Names the log, `bench/out/wrangler-dev[-name].log`, so a second Worker keeps the first's. */
  name?: string;
  /** Skip wrangler.toml's [build] (the widget is built already): a Worker that serves only the API. */
  skipBuild?: boolean;
  timeoutMs?: number;
}

/** Passed as secrets, not plain text, when given. */
const SECRET_VARS = ['WIRO_API_KEY', 'WIRO_API_SECRET', 'ADMIN_TOKEN'];

/**
 * The Worker under wrangler's dev server (see worker-host.ts: `unstable_startWorker`, watching
 * off, storage in memory: every Worker starts with empty budgets and limiters), against the
 * emulator, limits out of the way unless `vars` says otherwise. Waits for the host's READY line
 * and for `GET /v1/Tool` to answer (wrangler.toml's [build] builds the widget first, unless
 * skipped), for at most `timeoutMs`.
 */
export async function startWorker(emulatorUrl: string, options: WorkerOptions = {}): Promise<WorkerProcess> {
  const { vars = {}, name, skipBuild = false, timeoutMs = 120_000 } = options;
  mkdirSync(OUT_DIR, { recursive: true });
  const logPath = join(OUT_DIR, name ? `wrangler-dev-${name}.log` : 'wrangler-dev.log');
  const log = createWriteStream(logPath);
  const port = await freePort();
  const allVars: Record<string, string> = {
    WIRO_API_BASE: `${emulatorUrl}/v1`,
    WIRO_API_KEY: BENCH_KEY,
    WIRO_API_SECRET: BENCH_SECRET,
    RUN_LIMIT_PER_MINUTE: '1000000',
    MAX_RUNNING_PER_CLIENT: '1000000',
    DAILY_RUN_LIMIT: '1000000',
    DAILY_SPEND_LIMIT: '1000000',
    POLL_FIRST_MS: '1000',
    ...vars,
  };
  const hostOptions = { port, vars: allVars, secrets: SECRET_VARS, skipBuild };
  const started = performance.now();
  const args = [join(ROOT, 'bench', 'worker-host.ts'), JSON.stringify(hostOptions)];
  const child = spawnGroup(process.execPath, args, log, { stdin: true });
  let ready = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const match = /READY (\S+)/.exec(chunk.toString());
    if (match?.[1]) ready = match[1];
  });
  const stop = async () => {
    await stopChild(child);
    log.end();
  };
  let exitCode: number | null = null;
  child.once('exit', (code, signal) => {
    exitCode = code ?? (signal ? 128 : 0);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (exitCode !== null) throw new Error(`the Worker exited (${exitCode}) before it answered; see ${logPath}`);
      if (Date.now() > deadline) throw new Error(`the Worker did not answer within ${timeoutMs} ms; see ${logPath}`);
      if (ready) {
        try {
          const response = await fetch(`${url}/v1/Tool`, { signal: AbortSignal.timeout(2000) });
          await response.arrayBuffer();
          if (response.ok) break;
        } catch {
          // Not up yet.
        }
      }
      await sleep(100);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, startMs: performance.now() - started, logPath, stop };
}
