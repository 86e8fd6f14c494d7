/**
 * Runs the Wiro emulator as a standalone server:
 *
 *   node emulator/serve.ts [--port 8788] [--host 127.0.0.1] [--speed 1] [--log]
 *
 * Environment: WIRO_EMULATOR_KEY (default 'emulator-key'), WIRO_EMULATOR_SECRET (default
 * 'emulator-secret'; set it to '' for an API-key-only project), WIRO_EMULATOR_SPEED (default 1;
 * 0 = tasks move only through the control API), WIRO_EMULATOR_PORT, WIRO_EMULATOR_HOST,
 * WIRO_EMULATOR_LOG=1 (log every request and task step to stderr). Flags win over the environment.
 */

import type { EmulatorOptions } from './emulator.ts';
import { startEmulator } from './emulator.ts';

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: node emulator/serve.ts [--port 8788] [--host 127.0.0.1] ` +
      '[--speed 1] [--key KEY] [--secret SECRET] [--log]\n',
  );
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') usage('Wiro emulator');
    if (arg === '--log') {
      args.log = '1';
      continue;
    }
    const match = /^--(port|host|speed|key|secret)(?:=(.*))?$/.exec(arg);
    if (!match?.[1]) usage(`unknown argument ${arg}`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) usage(`missing value for --${match[1]}`);
    args[match[1]] = value;
  }
  return args;
}

function number(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) usage(`${name} must be a number >= 0, got ${text}`);
  return value;
}

const args = parseArgs(process.argv.slice(2));
const env = process.env;
const logging = args.log === '1' || (env.WIRO_EMULATOR_LOG ?? '') === '1';
const options: EmulatorOptions = {
  port: number('port', args.port ?? env.WIRO_EMULATOR_PORT, 8788),
  host: args.host ?? env.WIRO_EMULATOR_HOST ?? '127.0.0.1',
  apiKey: args.key ?? env.WIRO_EMULATOR_KEY ?? 'emulator-key',
  apiSecret: args.secret ?? env.WIRO_EMULATOR_SECRET ?? 'emulator-secret',
  speed: number('speed', args.speed ?? env.WIRO_EMULATOR_SPEED, 1),
  log: logging ? (line) => process.stderr.write(`[wiro-emulator] ${line}\n`) : undefined,
};

try {
  const emulator = await startEmulator(options);
  const mode = options.apiSecret ? 'signature mode' : 'API-key-only mode';
  process.stdout.write(`Wiro emulator listening on ${emulator.url}/v1 (key "${options.apiKey}", ${mode})\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (err) {
  const e = err as { code?: string; message?: string };
  process.stderr.write(`Wiro emulator could not start: ${e.code ?? ''} ${e.message ?? String(err)}\n`);
  process.exit(1);
}
