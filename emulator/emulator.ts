/**
 * A local stand-in for Wiro's API (https://api.wiro.ai/v1) for `wiro/text-to-image-flux-lora-fast`:
 * the same auth (x-api-key, x-nonce, x-signature), routes, task shape and status walk as Wiro,
 * real PNG outputs served by the emulator itself, callbacks, Wiro's realtime WebSocket (at
 * `ws://…/v1`, the API base over ws), and a control API under `/__emulator/` for tests (fault
 * injection, manual stepping, state inspection).
 *
 * Node built-ins only, erasable TypeScript only: runs as `node emulator/serve.ts` on Node 22.
 */
import { createHash, createHmac, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { clearTimeout, setTimeout } from 'node:timers';
import { picturePng } from './png.ts';
import { handshakeProblem, refuseUpgrade, WebSocketConnection } from './websocket.ts';

// ---------------------------------------------------------------------------------------------
// Public types and constants

export interface EmulatorOptions {
  /** 0 = a random free port (the default). */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 'emulator-key'. */
  apiKey?: string;
  /** Default 'emulator-secret'; '' makes an "API key only" project (no signature needed). */
  apiSecret?: string;
  /** Multiplier on realistic timing (default 1: a task takes ~6 s); 0 = tasks move only by hand. */
  speed?: number;
  /** Receives one line per event; default: no logging. */
  log?: (line: string) => void;
}

export interface Emulator {
  /** e.g. 'http://127.0.0.1:43123', without '/v1'; the API base is `${url}/v1`. */
  url: string;
  /** Wiro's realtime socket, e.g. 'ws://127.0.0.1:43123/v1': the API base with http → ws. */
  socketUrl: string;
  close(): Promise<void>;
  /** A snapshot (deep copy), the same data as `GET /__emulator/state`. */
  state(): EmulatorState;
  /** Same as `POST /__emulator/reset`. */
  reset(): void;
  /** Same as `POST /__emulator/config`; returns the new config. Throws on a bad value. */
  configure(patch: Partial<EmulatorConfig>): EmulatorConfig;
  /** Same as `POST /__emulator/faults`. Throws on a bad value. */
  fault(spec: FaultSpec): void;
  /**
   * Same as `POST /__emulator/tasks/<taskid>/advance`; returns the task. Throws if it can't. One
   * step of a failing task is its interim `task_error` line, which leaves Detail's status as it was.
   */
  advance(taskid: string, to?: string): EmulatorTask;
}

export type WiroRoute = 'Run' | 'Detail' | 'Cancel' | 'Kill' | 'List' | 'Other';
/** '*' is every Wiro API route (not Files, not Socket). */
export type FaultRoute = 'Run' | 'Detail' | 'Cancel' | 'Kill' | 'List' | 'Files' | 'Socket' | '*';
/**
 * 'slow' waits `delayMs` before doing anything; 'late' does the work at once (a Run's task is
 * created, runs, calls back) and holds only the answer for `delayMs`, lost if the client has gone
 * by then: Wiro took the Run but its answer never reached the caller. On Files both just wait.
 */
export type FaultKind =
  | '500'
  | '502'
  | 'html'
  | 'garbage'
  | 'slow'
  | 'late'
  | 'reset'
  | 'balance'
  | 'concurrency'
  | 'unauthorized';

export const FAULT_ROUTES: readonly FaultRoute[] = ['Run', 'Detail', 'Cancel', 'Kill', 'List', 'Files', 'Socket', '*'];
/**
 * The kinds the Socket route takes: 'reset' accepts the connection, sends the first message,
 * then destroys TCP without a close frame; '500' refuses the upgrade with HTTP 500.
 */
export const SOCKET_FAULT_KINDS: readonly FaultKind[] = ['reset', '500'];
export const FAULT_KINDS: readonly FaultKind[] = [
  '500',
  '502',
  'html',
  'garbage',
  'slow',
  'late',
  'reset',
  'balance',
  'concurrency',
  'unauthorized',
];

export interface FaultSpec {
  route: FaultRoute;
  kind: FaultKind;
  /** How many matching calls it hits (default 1). */
  times?: number;
  /** For 'slow' and 'late': how long to wait before answering (default 30000). */
  delayMs?: number;
}

export interface PendingFault {
  route: FaultRoute;
  kind: FaultKind;
  /** Matching calls it will still hit. */
  remaining: number;
  delayMs: number;
}

/** How the socket's `task_output` frames carry the progress: Wiro's clients decode both. */
export type ProgressAs = 'object' | 'string';

export interface EmulatorConfig {
  speed: number;
  dropCallbacks: boolean;
  /**
   * The next N tasks that Run creates fail: an interim `task_error` line on the socket, then
   * `task_postprocess_end` with pexit "1".
   */
  failNextTasks: number;
  /**
   * The next N tasks that Run creates die before they run (counted before `failNextTasks`):
   * `task_queue`, `task_accept`, then `task_error` as Detail's status for good, with pexit "1".
   */
  fatalNextTasks: number;
  /** The debugerror of failing and dying tasks. */
  failMessage: string;
  /** Whether the realtime socket takes connections (default true); false refuses upgrades with 503. */
  socket: boolean;
  /** 'object' (default): progress as a JSON object; 'string': the same object as a JSON string. */
  progressAs: ProgressAs;
}

export interface CallRecord {
  route: WiroRoute;
  method: string;
  path: string;
  /** The x-nonce header, or null. */
  nonce: string | null;
  /** Whether an x-api-key header was sent (the key itself is not recorded). */
  apiKey: boolean;
  /** The parsed body, as received. */
  body: unknown;
  /** HTTP status answered; null until answered, when the socket was reset, or a late answer was lost. */
  status: number | null;
  /** Whether auth passed; null when it was not checked (faulted call, unknown path). */
  authorized: boolean | null;
  fault: FaultKind | null;
  /** Arrival time, ms since the epoch. */
  at: number;
}

export interface CallbackRecord {
  taskid: string;
  url: string;
  /** 1, or 2 for the retry. */
  attempt: number;
  /** HTTP status of the receiver's answer, or null (network error, timeout, dropped). */
  status: number | null;
  error: string | null;
  /** When the attempt started, ms since the epoch. */
  at: number;
  dropped: boolean;
}

export interface EmulatorOutput {
  id: string;
  name: string;
  contenttype: string;
  parentid: string;
  uuid: string;
  size: string;
  addedtime: string;
  modifiedtime: string;
  accesskey: string;
  foldercount: string;
  filecount: string;
  ispublic: number;
  expiretime: null;
  url: string;
}

/** Wiro's task, field for field as Wiro's docs show it (`Task/Kill` answer), plus `progress`. */
export interface EmulatorTask {
  id: string;
  uuid: string;
  name: string;
  socketaccesstoken: string;
  parameters: Record<string, string>;
  debugoutput: string;
  debugerror: string;
  starttime: string;
  endtime: string;
  elapsedseconds: string;
  status: string;
  cps: string;
  totalcost: string;
  guestid: null;
  projectid: string;
  modelid: string;
  description: string;
  basemodelid: string;
  runtype: string;
  modelfolderid: string;
  modelfileid: string;
  callbackurl: string;
  marketplaceid: null;
  createtime: string;
  canceltime: string;
  assigntime: string;
  accepttime: string;
  preprocessstarttime: string;
  preprocessendtime: string;
  postprocessstarttime: string;
  postprocessendtime: string;
  pexit: string;
  categories: string;
  outputs: EmulatorOutput[];
  size: string;
  /** Non-standard: the latest progressGenerate message (a JSON string), '' before the first. */
  progress: string;
}

/** One WebSocket upgrade attempt on `/v1` (refused ones too: then `status` is not 101). */
export interface SocketRecord {
  /** The first task it subscribed to (with a valid task_info), else null. */
  taskid: string | null;
  /** Every task it subscribed to, in order, once each. */
  taskids: string[];
  /** When the upgrade request came, ms since the epoch. */
  openedAt: number;
  /** When the TCP connection ended (at once for a refused upgrade), null while open. */
  closedAt: number | null;
  /** Messages sent on it. */
  messages: number;
  /** HTTP status answered to the upgrade: 101, or 503 (socket off), 500 (fault), 400/426 (bad handshake). */
  status: number;
  /** Code of the close frame the emulator sent; null when none (still open, refused, dropped by a reset fault). */
  closeCode: number | null;
  fault: FaultKind | null;
}

/** One message sent on a socket, timestamped for latency measurements. */
export interface SocketMessageRecord {
  /** The task it was about; null for an `error` message. */
  taskid: string | null;
  type: string;
  /** When it was written to the socket, ms since the epoch. */
  at: number;
}

/** One message of Wiro's realtime socket, as the emulator sends it. */
export interface SocketMessage {
  /** The task's status, a `task_error` log line, or 'error'. */
  type: string;
  /** The task id ('' on an error). */
  id: string;
  /** The task's socketaccesstoken; on an error, the tasktoken the client sent ('' when none). */
  tasktoken: string;
  /**
   * task_output: the progressGenerate object (or JSON string, per config progressAs);
   * task_output_full: the debugoutput; task_error (a stderr line, or a dead task's end) and
   * task_error_full: the debugerror; task_postprocess_end: the outputs array (or, failed, the
   * debugerror); every other status: null. On an error, what was wrong.
   */
  message: unknown;
  /** False for an error, and for a task that ended failed (or died). */
  result: boolean;
  success?: boolean;
  /** True when the task is over: task_postprocess_end, task_cancel, or a dead task's task_error. */
  terminal?: boolean;
  /** The task's pexit, on terminal messages only. */
  exitCode?: string;
}

export interface EmulatorState {
  config: EmulatorConfig & { mode: 'signature' | 'api-key-only' };
  calls: CallRecord[];
  tasks: EmulatorTask[];
  callbacks: CallbackRecord[];
  faults: PendingFault[];
  /** Every socket upgrade attempt, oldest first (the last 5000). */
  sockets: SocketRecord[];
  /** Every message sent on a socket, oldest first (the last 5000). */
  socketMessages: SocketMessageRecord[];
}

export const TOOL = 'wiro/text-to-image-flux-lora-fast';
export const FIRST_TASK_ID = 2221;
export const CPS = '0.000585000000';
export const DEFAULT_FAIL_MESSAGE = 'RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB';
export const AUTH_ERROR_MESSAGE = 'Project authorization is not valid.';
export const QUEUED_STATUSES: readonly string[] = ['task_queue', 'task_accept', 'task_assign'];
export const TERMINAL_STATUSES: readonly string[] = ['task_postprocess_end', 'task_cancel'];
/**
 * Detail's status for a task that died before it ran (config fatalNextTasks): it never changes
 * again, and Wiro's MCP client stops there. On the socket a `task_error` is otherwise only a
 * line of stderr, never Detail's status.
 */
export const FATAL_STATUS = 'task_error';
/** Task/List's largest page. */
export const MAX_LIST_LIMIT = 100;
export const MAX_SIDE = 2048;
/** How many socket records and socket message records the state keeps (the newest). */
export const MAX_SOCKET_RECORDS = 5000;
export const MAX_SAMPLES = 8;

/** Lowercase hex HMAC-SHA256 of `apiSecret + nonce` keyed with `apiKey`: Wiro's x-signature. */
export function signNonce(apiKey: string, apiSecret: string, nonce: string): string {
  return createHmac('sha256', apiKey)
    .update(apiSecret + nonce)
    .digest('hex');
}

/** Headers for a signed (or, with secret '', API-key-only) request to the emulator or Wiro. */
export function authHeaders(apiKey: string, apiSecret: string, nonce: string): Record<string, string> {
  if (!apiSecret) return { 'x-api-key': apiKey };
  return { 'x-api-key': apiKey, 'x-nonce': nonce, 'x-signature': signNonce(apiKey, apiSecret, nonce) };
}

// ---------------------------------------------------------------------------------------------
// Task timeline

interface Step {
  status: string;
  /** Milliseconds after the previous step, at speed 1. */
  delay: number;
  /** For task_output: the progress tick, 1-based. */
  tick?: number;
  /** A line of stderr on the socket (the interim `task_error`): Detail's status does not move. */
  logOnly?: boolean;
}

/** How a task ends: well, failed (pexit "1" at task_postprocess_end), or dead before it ran. */
type Fate = 'ok' | 'fail' | 'fatal';

const QUEUE_MS = 1000;
const OUTPUT_MS = 3500;
const MAX_TICKS = 8;

function plan(ticks: number, fate: Fate): Step[] {
  const accept: Step = { status: 'task_accept', delay: QUEUE_MS };
  if (fate === 'fatal') return [accept, { status: FATAL_STATUS, delay: 150 }];
  const fail = fate === 'fail';
  const tick = OUTPUT_MS / ticks;
  const steps: Step[] = [
    accept,
    { status: 'task_assign', delay: 150 },
    { status: 'task_preprocess_start', delay: 150 },
    { status: 'task_preprocess_end', delay: 200 },
    { status: 'task_start', delay: 100 },
  ];
  const outputTicks = fail ? Math.max(1, Math.floor(ticks / 2)) : ticks;
  for (let i = 1; i <= outputTicks; i++) steps.push({ status: 'task_output', delay: tick, tick: i });
  if (fail) {
    steps.push({ status: 'task_error', delay: tick, logOnly: true }, { status: 'task_error_full', delay: 150 });
  } else {
    steps.push({ status: 'task_output_full', delay: 150 });
  }
  steps.push(
    { status: 'task_end', delay: 150 },
    { status: 'task_postprocess_start', delay: 100 },
    { status: 'task_postprocess_end', delay: 500 },
  );
  return steps;
}

interface TaskRecord {
  task: EmulatorTask;
  steps: Step[];
  /** Index in `steps` of the next step to take. */
  next: number;
  timer: ReturnType<typeof setTimeout> | null;
  fate: Fate;
  failMessage: string;
  width: number;
  height: number;
  samples: number;
  inferenceSteps: number;
  ticks: number;
  seed: string;
  prompt: string;
  parentId: string;
  createMs: number;
  pngs: Buffer[] | null;
}

interface SocketConn {
  ws: WebSocketConnection;
  record: SocketRecord;
  /** The tasks it follows: one per valid task_info. */
  taskids: Set<string>;
  /** A 'reset' fault: drop TCP right after the first message. */
  reset: boolean;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomAlnum(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALNUM[randomInt(ALNUM.length)] ?? 'x';
  return out;
}

function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

function unix(ms: number): string {
  return String(Math.floor(ms / 1000));
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** Constant-time string equality (hashing first, so lengths need not match). */
function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

function toParam(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  return JSON.stringify(value);
}

function intParam(value: string | undefined, fallback: number, min: number, max: number): number {
  const n = Number.parseInt(value ?? '', 10);
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, n));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function envelopeError(code: number, message: string): { result: false; errors: object[] } {
  return { result: false, errors: [{ code, message }] };
}

/** What a Wiro API route answers: the HTTP status and the JSON body. */
interface Answer {
  status: number;
  body: unknown;
}

class ControlError extends Error {
  status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

// ---------------------------------------------------------------------------------------------
// Request bodies: JSON, multipart/form-data, x-www-form-urlencoded

const MAX_BODY = 25 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new ControlError(413, 'Request body too large'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

type Fields = Record<string, unknown>;

function addField(fields: Fields, name: string, value: string): void {
  const existing = fields[name];
  if (existing === undefined) fields[name] = value;
  else if (Array.isArray(existing)) existing.push(value);
  else fields[name] = [existing, value];
}

function parseMultipart(body: Buffer, boundary: string, fileBase: string): Fields {
  const fields: Fields = {};
  const delimiter = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delimiter);
  while (pos !== -1) {
    let start = pos + delimiter.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break; // closing delimiter
    if (body[start] === 0x0d && body[start + 1] === 0x0a) start += 2;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    let end = next;
    if (body[end - 2] === 0x0d && body[end - 1] === 0x0a) end -= 2;
    const part = body.subarray(start, end);
    const split = part.indexOf('\r\n\r\n');
    if (split !== -1) {
      const head = part.subarray(0, split).toString('latin1');
      const name = /\bname="([^"]*)"/i.exec(head)?.[1];
      const filename = /\bfilename="([^"]*)"/i.exec(head)?.[1];
      if (name !== undefined) {
        const field = Buffer.from(name, 'latin1').toString('utf8');
        if (filename !== undefined) {
          // Wiro stores uploads and passes the model a URL; the emulator only makes one up.
          const file = Buffer.from(filename, 'latin1').toString('utf8') || 'file';
          addField(fields, field, `${fileBase}/v1/File/${randomAlnum(30)}/${encodeURIComponent(file)}`);
        } else {
          addField(fields, field, part.subarray(split + 4).toString('utf8'));
        }
      }
    }
    pos = next;
  }
  return fields;
}

/** Parses a request body the way Wiro accepts them; null when it can't be read. */
function parseBody(raw: Buffer, contentType: string, fileBase: string): Fields | null {
  const text = raw.toString('utf8');
  const trimmed = text.trim();
  if (trimmed === '') return {};
  // Wiro's own examples send JSON labelled multipart/form-data: look at the body first.
  if (trimmed.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (isRecord(parsed)) return parsed;
    } catch {
      // fall through to the content type
    }
  }
  const type = contentType.toLowerCase();
  if (type.includes('application/json')) return null;
  if (type.includes('multipart/form-data')) {
    const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
    const boundary = match?.[1] ?? match?.[2];
    if (!boundary) return null;
    return parseMultipart(raw, boundary, fileBase);
  }
  if (type === '' || type.includes('application/x-www-form-urlencoded') || type.includes('text/')) {
    const fields: Fields = {};
    for (const [key, value] of new URLSearchParams(text)) addField(fields, key, value);
    return fields;
  }
  return null;
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value[0] ?? null;
  return null;
}

// ---------------------------------------------------------------------------------------------
// The emulator

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const host = options.host ?? '127.0.0.1';
  const apiKey = options.apiKey ?? 'emulator-key';
  const apiSecret = options.apiSecret ?? 'emulator-secret';
  const log = options.log ?? (() => {});
  const startSpeed = options.speed ?? 1;
  if (!Number.isFinite(startSpeed) || startSpeed < 0) {
    throw new RangeError(`speed must be a number >= 0, got ${startSpeed}`);
  }

  const initialConfig = (): EmulatorConfig => ({
    speed: startSpeed,
    dropCallbacks: false,
    failNextTasks: 0,
    fatalNextTasks: 0,
    failMessage: DEFAULT_FAIL_MESSAGE,
    socket: true,
    progressAs: 'object',
  });

  let config = initialConfig();
  let tasks = new Map<string, TaskRecord>();
  /** The same tasks by their token: reads by token (as the Worker makes them) stay O(1) with many tasks. */
  let tokens = new Map<string, TaskRecord>();
  let calls: CallRecord[] = [];
  let callbacks: CallbackRecord[] = [];
  let faults: PendingFault[] = [];
  /** Bumped by reset(), so late callback results don't land in the fresh state. */
  let generation = 0;
  let nextTaskId = FIRST_TASK_ID;
  let closed = false;
  /** Nonces already used with this key; survives reset() so replays stay refused. */
  const usedNonces = new Set<string>();
  /** Callback retry timers (cleared by reset and close). */
  const retryTimers = new Set<ReturnType<typeof setTimeout>>();
  /** Wakers of requests held by the 'slow' fault (woken, and their sockets closed, by close). */
  const pendingSleeps = new Set<() => void>();
  const shutdown = new AbortController();
  let baseUrl = '';
  /** Open WebSocket connections (until their TCP connection closes). */
  const conns = new Set<SocketConn>();
  let sockets: SocketRecord[] = [];
  let socketMessages: SocketMessageRecord[] = [];

  // ---- tasks ---------------------------------------------------------------------------------

  /** Whether the task will never change again: ended, cancelled, or dead before it ran. */
  const isOver = (task: EmulatorTask): boolean =>
    TERMINAL_STATUSES.includes(task.status) || task.status === FATAL_STATUS;

  function elapsed(record: TaskRecord, now: number): number {
    return Math.max(0, now - record.createMs) / 1000;
  }

  function ensurePngs(record: TaskRecord): Buffer[] {
    if (!record.pngs) {
      record.pngs = [];
      for (let index = 0; index < record.samples; index++) {
        record.pngs.push(
          picturePng({
            width: record.width,
            height: record.height,
            seed: record.seed,
            prompt: record.prompt,
            index,
          }),
        );
      }
    }
    return record.pngs;
  }

  function progressFor(record: TaskRecord, tick: number): { json: string; line: string } {
    const total = record.inferenceSteps;
    const current = Math.min(total, Math.max(1, Math.round((tick * total) / record.ticks)));
    const percentage = Math.round((current / total) * 100);
    const perStep = OUTPUT_MS / 1000 / total;
    const rate = `${(1 / perStep).toFixed(2)}it/s`;
    const elapsedTime = clock(current * perStep);
    const remainingTime = clock((total - current) * perStep);
    const json = JSON.stringify({
      type: 'progressGenerate',
      percentage: String(percentage),
      stepCurrent: String(current),
      stepTotal: String(total),
      speed: rate,
      elapsedTime,
      remainingTime,
    });
    const filled = Math.floor(percentage / 10);
    const bar = '█'.repeat(filled) + ' '.repeat(10 - filled);
    const line = `${String(percentage).padStart(3)}%|${bar}| ${current}/${total} [${elapsedTime}<${remainingTime}, ${rate}]`;
    return { json, line };
  }

  /** Takes the record's next step now. */
  function step(record: TaskRecord, now: number): void {
    const next = record.steps[record.next];
    if (!next) return;
    record.next++;
    const task = record.task;
    const t = unix(now);
    task.elapsedseconds = elapsed(record, now).toFixed(4);
    if (next.logOnly) {
      // Wiro's interim task_error: stderr on the socket, not a failure by itself, not a status.
      task.debugerror = record.failMessage;
      log(`task ${task.id} stderr (${task.status})`);
      notify(record, logFrame(task, next.status, task.debugerror));
      return;
    }
    task.status = next.status;
    switch (next.status) {
      case 'task_accept':
        task.accepttime = t;
        break;
      case 'task_assign':
        task.assigntime = t;
        break;
      case 'task_preprocess_start':
        task.preprocessstarttime = t;
        break;
      case 'task_preprocess_end':
        task.preprocessendtime = t;
        break;
      case 'task_start':
        task.starttime = t;
        break;
      case 'task_output': {
        const progress = progressFor(record, next.tick ?? 1);
        task.progress = progress.json;
        task.debugoutput = progress.line;
        break;
      }
      case FATAL_STATUS:
        die(record, now);
        break;
      case 'task_end':
        task.endtime = t;
        break;
      case 'task_postprocess_start':
        task.postprocessstarttime = t;
        break;
      case 'task_postprocess_end':
        task.postprocessendtime = t;
        finish(record, now);
        break;
      default:
        break;
    }
    log(`task ${task.id} -> ${task.status}`);
    notify(record, statusFrame(task));
  }

  /** A task dead before it ran: Detail keeps `task_error` for good. */
  function die(record: TaskRecord, now: number): void {
    const task = record.task;
    task.pexit = '1';
    task.debugerror = record.failMessage;
    task.outputs = [];
    task.size = '0';
    task.totalcost = '0';
    task.endtime = unix(now);
    terminal(record);
  }

  function finish(record: TaskRecord, now: number): void {
    const task = record.task;
    if (record.fate === 'fail') {
      task.pexit = '1';
      task.outputs = [];
      task.size = '0';
      task.totalcost = '0';
      task.debugerror = record.failMessage;
    } else {
      const pngs = ensurePngs(record);
      const added = task.endtime !== '0' ? task.endtime : unix(now);
      task.pexit = '0';
      task.outputs = pngs.map((png, index) => ({
        id: randomHex(16),
        name: `${index}.png`,
        contenttype: 'image/png',
        parentid: record.parentId,
        uuid: task.uuid,
        size: String(png.length),
        addedtime: added,
        modifiedtime: added,
        accesskey: randomAlnum(30),
        foldercount: '0',
        filecount: '0',
        ispublic: 0,
        expiretime: null,
        url: `${baseUrl}/files/${task.id}/${index}.png`,
      }));
      task.size = String(pngs.reduce((sum, png) => sum + png.length, 0));
      task.totalcost = (Number(CPS) * elapsed(record, now)).toFixed(12);
    }
    terminal(record);
  }

  function cancel(record: TaskRecord, now: number): void {
    const task = record.task;
    const started = task.starttime !== '0';
    task.status = 'task_cancel';
    task.canceltime = unix(now);
    if (started && task.endtime === '0') task.endtime = unix(now);
    task.elapsedseconds = elapsed(record, now).toFixed(4);
    task.totalcost = started ? (Number(CPS) * elapsed(record, now)).toFixed(12) : '0';
    log(`task ${task.id} -> task_cancel`);
    terminal(record);
    notify(record, statusFrame(task));
  }

  function terminal(record: TaskRecord): void {
    if (record.timer) clearTimeout(record.timer);
    record.timer = null;
    record.next = record.steps.length;
    sendCallback(record);
  }

  /** (Re)arms the timer for the record's next step, per the current speed. */
  function schedule(record: TaskRecord): void {
    if (record.timer) clearTimeout(record.timer);
    record.timer = null;
    const next = record.steps[record.next];
    if (closed || !next || isOver(record.task) || config.speed <= 0) return;
    record.timer = setTimeout(() => {
      record.timer = null;
      step(record, Date.now());
      schedule(record);
    }, next.delay / config.speed);
    record.timer.unref();
  }

  function advance(taskid: string, to?: string): EmulatorTask {
    const record = tasks.get(taskid);
    if (!record) throw new ControlError(404, `Task ${taskid} not found`);
    if (isOver(record.task)) {
      throw new ControlError(409, `Task ${taskid} is over (${record.task.status}): it does not move any more`);
    }
    const now = Date.now();
    if (to === 'task_cancel') {
      cancel(record, now);
    } else if (to !== undefined) {
      const target = record.steps.findIndex((s, i) => i >= record.next && s.status === to);
      if (target === -1) {
        const ahead = [...new Set(record.steps.slice(record.next).map((s) => s.status))];
        throw new ControlError(
          409,
          `Task ${taskid} (${record.task.status}) can not advance to ${to}; ahead: ${[...ahead, 'task_cancel'].join(
            ', ',
          )}`,
        );
      }
      while (record.next <= target && !isOver(record.task)) step(record, now);
    } else {
      step(record, now);
    }
    schedule(record);
    return structuredClone(record.task);
  }

  function taskByToken(token: string): TaskRecord | undefined {
    return tokens.get(token);
  }

  /**
   * The task a body names by `taskid`, `tasktoken` or `socketaccesstoken`. Wiro's MCP client may
   * send both an id and a token: then every one given must name the same task, else none is found.
   */
  function findTask(fields: Fields): TaskRecord | undefined {
    let found: TaskRecord | undefined;
    for (const key of ['taskid', 'tasktoken', 'socketaccesstoken']) {
      const value = fields[key];
      if (value === undefined || value === null || value === '') continue;
      const wanted = toParam(value);
      const record = key === 'taskid' ? tasks.get(wanted) : taskByToken(wanted);
      if (!record || (found && found !== record)) return undefined;
      found = record;
    }
    return found;
  }

  // ---- callbacks -----------------------------------------------------------------------------

  function sendCallback(record: TaskRecord): void {
    const url = record.task.callbackurl;
    if (!url) return;
    const taskid = record.task.id;
    if (config.dropCallbacks) {
      callbacks.push({ taskid, url, attempt: 1, status: null, error: null, at: Date.now(), dropped: true });
      log(`callback for task ${taskid} dropped`);
      return;
    }
    const body = JSON.stringify({
      result: true,
      errors: [],
      total: '1',
      tasklist: [record.task],
    });
    const gen = generation;
    const attempt = async (n: number): Promise<void> => {
      const at = Date.now();
      let status: number | null = null;
      let error: string | null = null;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          redirect: 'manual',
          signal: AbortSignal.any([AbortSignal.timeout(5000), shutdown.signal]),
        });
        status = response.status;
        await response.arrayBuffer().catch(() => undefined);
        if (status < 200 || status > 299) error = `HTTP ${status}`;
      } catch (err) {
        const e = err as { name?: string; message?: string; cause?: { message?: string } };
        if (e.name === 'TimeoutError') error = 'Timed out after 5000 ms';
        else error = e.cause?.message ?? e.message ?? String(err);
      }
      if (closed || gen !== generation) return;
      callbacks.push({ taskid, url, attempt: n, status, error, at, dropped: false });
      log(`callback ${n} for task ${taskid} to ${url}: ${error ?? status}`);
      if (error !== null && n === 1) {
        const timer = setTimeout(() => {
          retryTimers.delete(timer);
          if (!closed && gen === generation) void attempt(2);
        }, 1000);
        timer.unref();
        retryTimers.add(timer);
      }
    };
    void attempt(1);
  }

  // ---- realtime socket -----------------------------------------------------------------------

  /** The progress as a task_output frame carries it: an object, or (config progressAs) a JSON string. */
  function progressMessage(task: EmulatorTask): unknown {
    if (!task.progress) return null;
    return config.progressAs === 'string' ? task.progress : (JSON.parse(task.progress) as unknown);
  }

  /** The socket frame for the task's current status, in Wiro's shape. */
  function statusFrame(task: EmulatorTask): SocketMessage {
    const terminal = isOver(task);
    const failed = terminal && task.pexit !== '0';
    let message: unknown = null;
    if (task.status === 'task_output') message = progressMessage(task);
    else if (task.status === 'task_output_full') message = task.debugoutput;
    else if (task.status === 'task_error_full' || task.status === FATAL_STATUS) message = task.debugerror;
    else if (task.status === 'task_postprocess_end') message = failed ? task.debugerror : task.outputs;
    return {
      type: task.status,
      id: task.id,
      tasktoken: task.socketaccesstoken,
      message,
      result: !failed,
      success: !failed,
      terminal,
      ...(terminal ? { exitCode: task.pexit } : {}),
    };
  }

  /** A line of the task's output on the socket (Wiro's interim task_error): no status, no ending. */
  function logFrame(task: EmulatorTask, type: string, text: string): SocketMessage {
    return {
      type,
      id: task.id,
      tasktoken: task.socketaccesstoken,
      message: text,
      result: true,
      success: true,
      terminal: false,
    };
  }

  function keepLast<T>(list: T[]): void {
    if (list.length > MAX_SOCKET_RECORDS) list.splice(0, list.length - MAX_SOCKET_RECORDS);
  }

  /** Sends one message; false when the socket is no longer open. */
  function sendSocket(conn: SocketConn, message: SocketMessage): boolean {
    const at = Date.now();
    if (!conn.ws.sendText(JSON.stringify(message))) return false;
    conn.record.messages++;
    socketMessages.push({ taskid: message.type === 'error' ? null : message.id, type: message.type, at });
    keepLast(socketMessages);
    return true;
  }

  /** Whether every task the socket follows is over (true when it follows none): nothing more will come. */
  function allOver(conn: SocketConn): boolean {
    for (const id of conn.taskids) {
      const record = tasks.get(id);
      if (record && !isOver(record.task)) return false;
    }
    return true;
  }

  /** Sends a frame about a followed task; closes the socket once the last task it follows is over. */
  function deliver(conn: SocketConn, frame: SocketMessage): void {
    if (!sendSocket(conn, frame)) return;
    if (conn.reset) {
      log(`socket for task ${frame.id}: dropped (reset fault)`);
      conn.ws.drop();
    } else if (frame.terminal && allOver(conn)) {
      conn.ws.close(1000, 'Task finished');
    }
  }

  /**
   * Answers a bad message with an error frame. A socket that still follows a live task stays open
   * for it; one that follows none is closed 1008 (or dropped, under a reset fault).
   */
  function refuseSocket(conn: SocketConn, message: string, tasktoken = ''): void {
    log(`socket message refused: ${message}`);
    sendSocket(conn, { type: 'error', id: '', tasktoken, message, result: false });
    if (conn.reset) conn.ws.drop();
    else if (allOver(conn)) conn.ws.close(1008, message.length <= 60 ? message : 'Bad task_info');
  }

  /** Sends a frame about a task to every socket that follows it. */
  function notify(record: TaskRecord, frame: SocketMessage): void {
    for (const conn of conns) {
      if (conn.taskids.has(record.task.id) && conn.ws.open) deliver(conn, frame);
    }
  }

  const TASK_INFO_HELP = 'each message must be {"type":"task_info","tasktoken":"<socketaccesstoken>"}';

  /** One task_info: follows one more task (again: just its current status). Nothing is replayed. */
  function onSocketText(conn: SocketConn, text: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      refuseSocket(conn, `Message is not JSON: ${TASK_INFO_HELP}`);
      return;
    }
    if (!isRecord(parsed) || parsed.type !== 'task_info') {
      const type = isRecord(parsed) ? JSON.stringify(parsed.type ?? null) : 'none';
      refuseSocket(conn, `Unexpected message type ${type}: ${TASK_INFO_HELP}`);
      return;
    }
    const token = parsed.tasktoken;
    if (typeof token !== 'string' || token === '') {
      refuseSocket(conn, `task_info without a tasktoken: ${TASK_INFO_HELP}`);
      return;
    }
    const record = taskByToken(token);
    if (!record) {
      refuseSocket(conn, 'Task not found', token);
      return;
    }
    const id = record.task.id;
    if (!conn.taskids.has(id)) {
      conn.taskids.add(id);
      conn.record.taskid ??= id;
      conn.record.taskids.push(id);
      log(`socket subscribed to task ${id}`);
    }
    deliver(conn, statusFrame(record.task));
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {
      // A client gone mid-handshake; nothing to do.
    });
    const path = new URL(req.url ?? '/', 'http://emulator').pathname;
    if (path !== '/v1' && path !== '/v1/') {
      refuseUpgrade(socket, 404, envelopeError(1, 'Not found: the realtime socket is at /v1'));
      return;
    }
    const record: SocketRecord = {
      taskid: null,
      taskids: [],
      openedAt: Date.now(),
      closedAt: null,
      messages: 0,
      status: 101,
      closeCode: null,
      fault: null,
    };
    const refuse = (status: number, message: string, extra: Record<string, string> = {}): void => {
      record.status = status;
      record.closedAt = Date.now();
      sockets.push(record);
      keepLast(sockets);
      log(`socket upgrade refused ${status}: ${message}`);
      refuseUpgrade(socket, status, envelopeError(0, message), extra);
    };
    if (closed) {
      refuse(503, 'The emulator is closing');
      return;
    }
    const problem = handshakeProblem(req);
    if (problem) {
      refuse(problem.status, problem.message, problem.status === 426 ? { 'sec-websocket-version': '13' } : {});
      return;
    }
    if (!config.socket) {
      refuse(503, 'The realtime socket is turned off (emulator config socket: false): poll Task/Detail');
      return;
    }
    const found = takeFault('Socket');
    if (found) record.fault = found.kind;
    if (found?.kind === '500') {
      refuse(500, 'Internal Server Error');
      return;
    }
    sockets.push(record);
    keepLast(sockets);
    let conn: SocketConn | null = null;
    const ws = new WebSocketConnection(req, socket, head, {
      onText: (text) => {
        if (conn) onSocketText(conn, text);
      },
      onCloseSent: (code) => {
        record.closeCode = code;
      },
      onClosed: () => {
        record.closedAt = Date.now();
        if (conn) conns.delete(conn);
        log(`socket${record.taskid ? ` for task ${record.taskid}` : ''} closed`);
      },
    });
    conn = { ws, record, taskids: new Set(), reset: found?.kind === 'reset' };
    conns.add(conn);
    log('socket opened');
    ws.start();
  }

  // ---- config, faults, reset, state ----------------------------------------------------------

  function configure(patch: Partial<EmulatorConfig>): EmulatorConfig {
    if (!isRecord(patch)) throw new ControlError(400, 'config body must be an object');
    const allowed = [
      'speed',
      'dropCallbacks',
      'failNextTasks',
      'fatalNextTasks',
      'failMessage',
      'socket',
      'progressAs',
    ];
    for (const key of Object.keys(patch)) {
      if (!allowed.includes(key)) {
        throw new ControlError(400, `unknown config field ${key}; known: ${allowed.join(', ')}`);
      }
    }
    const { speed, dropCallbacks, failNextTasks, fatalNextTasks, failMessage, socket, progressAs } = patch;
    if (speed !== undefined && (typeof speed !== 'number' || !Number.isFinite(speed) || speed < 0)) {
      throw new ControlError(400, 'speed must be a number >= 0');
    }
    if (dropCallbacks !== undefined && typeof dropCallbacks !== 'boolean') {
      throw new ControlError(400, 'dropCallbacks must be a boolean');
    }
    for (const [name, count] of [
      ['failNextTasks', failNextTasks],
      ['fatalNextTasks', fatalNextTasks],
    ] as const) {
      if (count !== undefined && (typeof count !== 'number' || !Number.isInteger(count) || count < 0)) {
        throw new ControlError(400, `${name} must be an integer >= 0`);
      }
    }
    if (failMessage !== undefined && typeof failMessage !== 'string') {
      throw new ControlError(400, 'failMessage must be a string');
    }
    if (socket !== undefined && typeof socket !== 'boolean') {
      throw new ControlError(400, 'socket must be a boolean');
    }
    if (progressAs !== undefined && progressAs !== 'object' && progressAs !== 'string') {
      throw new ControlError(400, "progressAs must be 'object' or 'string'");
    }
    config = {
      speed: speed ?? config.speed,
      dropCallbacks: dropCallbacks ?? config.dropCallbacks,
      failNextTasks: failNextTasks ?? config.failNextTasks,
      fatalNextTasks: fatalNextTasks ?? config.fatalNextTasks,
      failMessage: failMessage ?? config.failMessage,
      socket: socket ?? config.socket,
      progressAs: progressAs ?? config.progressAs,
    };
    if (speed !== undefined) for (const record of tasks.values()) schedule(record);
    log(`config ${JSON.stringify(config)}`);
    return { ...config };
  }

  function fault(spec: FaultSpec): void {
    if (!isRecord(spec)) throw new ControlError(400, 'fault body must be an object');
    const { route, kind } = spec;
    const times = spec.times ?? 1;
    const delayMs = spec.delayMs ?? 30000;
    if (!FAULT_ROUTES.includes(route)) {
      throw new ControlError(400, `route must be one of ${FAULT_ROUTES.join(', ')}`);
    }
    if (!FAULT_KINDS.includes(kind)) {
      throw new ControlError(400, `kind must be one of ${FAULT_KINDS.join(', ')}`);
    }
    if (route === 'Socket' && !SOCKET_FAULT_KINDS.includes(kind)) {
      throw new ControlError(400, `route Socket takes kind ${SOCKET_FAULT_KINDS.join(' or ')}`);
    }
    if (typeof times !== 'number' || !Number.isInteger(times) || times < 1) {
      throw new ControlError(400, 'times must be an integer >= 1');
    }
    if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) {
      throw new ControlError(400, 'delayMs must be a number >= 0');
    }
    faults.push({ route, kind, remaining: times, delayMs });
    log(`fault queued: ${kind} x${times} on ${route}`);
  }

  function takeFault(route: WiroRoute | 'Files' | 'Socket'): PendingFault | null {
    const index = faults.findIndex(
      (f) => f.remaining > 0 && (f.route === route || (f.route === '*' && route !== 'Files' && route !== 'Socket')),
    );
    const found = faults[index];
    if (!found) return null;
    found.remaining--;
    if (found.remaining <= 0) faults.splice(index, 1);
    return { ...found };
  }

  function reset(): void {
    for (const record of tasks.values()) {
      if (record.timer) clearTimeout(record.timer);
    }
    for (const timer of retryTimers) clearTimeout(timer);
    retryTimers.clear();
    for (const conn of [...conns]) conn.ws.shutdown(1001, 'Emulator reset');
    generation++;
    tasks = new Map();
    tokens = new Map();
    calls = [];
    callbacks = [];
    faults = [];
    sockets = [];
    socketMessages = [];
    config = initialConfig();
    log('reset');
  }

  function state(): EmulatorState {
    return structuredClone({
      config: { ...config, mode: apiSecret ? ('signature' as const) : ('api-key-only' as const) },
      calls,
      tasks: [...tasks.values()].map((record) => record.task),
      callbacks,
      faults,
      sockets,
      socketMessages,
    });
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  function send(
    res: ServerResponse,
    status: number,
    body: string | Buffer,
    type = 'application/json; charset=utf-8',
    extra: Record<string, string> = {},
  ): void {
    if (res.headersSent || res.destroyed) return;
    const payload = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { 'content-type': type, 'content-length': payload.length, ...extra });
    res.end(res.req.method === 'HEAD' ? undefined : payload);
  }

  function sendJson(res: ServerResponse, status: number, body: unknown): void {
    send(res, status, JSON.stringify(body));
  }

  /** Waits `ms`; resolves false at once if the emulator closes meanwhile. */
  function sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (closed) {
        resolve(false);
        return;
      }
      const wake = (): void => {
        clearTimeout(timer);
        pendingSleeps.delete(wake);
        resolve(false);
      };
      const timer = setTimeout(() => {
        pendingSleeps.delete(wake);
        resolve(true);
      }, ms);
      timer.unref();
      pendingSleeps.add(wake);
    });
  }

  /** Answers a fault; true when the request is done (false: go on normally). */
  async function applyFault(res: ServerResponse, found: PendingFault): Promise<boolean> {
    log(`fault ${found.kind} on ${res.req.method} ${res.req.url}`);
    switch (found.kind) {
      case '500':
        sendJson(res, 500, envelopeError(0, 'Internal Server Error'));
        return true;
      case '502':
        sendJson(res, 502, envelopeError(0, 'Bad Gateway'));
        return true;
      case 'html':
        send(
          res,
          502,
          '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n' +
            '<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n' +
            '</body>\r\n</html>\r\n',
          'text/html; charset=utf-8',
        );
        return true;
      case 'garbage':
        send(res, 200, 'not json{{');
        return true;
      case 'reset':
        res.req.socket.destroy();
        return true;
      case 'balance':
        sendJson(res, 200, envelopeError(97, 'Insufficient balance'));
        return true;
      case 'concurrency':
        sendJson(res, 429, envelopeError(96, 'Concurrency limit reached'));
        return true;
      case 'unauthorized':
        sendJson(res, 401, envelopeError(0, AUTH_ERROR_MESSAGE));
        return true;
      // On a file 'late' is 'slow': there is no work to do before the answer.
      case 'slow':
      case 'late': {
        const woke = await sleep(found.delayMs);
        if (!woke) {
          res.req.socket.destroy();
          return true;
        }
        return false;
      }
    }
  }

  function authorize(req: IncomingMessage): boolean {
    const key = header(req, 'x-api-key');
    if (key === null || !safeEqual(key, apiKey)) return false;
    if (!apiSecret) return true;
    const nonce = header(req, 'x-nonce');
    const signature = header(req, 'x-signature');
    if (nonce === null || signature === null || !/^\d{1,32}$/.test(nonce)) return false;
    if (!safeEqual(signature, signNonce(apiKey, apiSecret, nonce))) return false;
    if (usedNonces.has(nonce)) return false;
    usedNonces.add(nonce);
    return true;
  }

  function classify(method: string, path: string): WiroRoute | 'RunUnknown' {
    if (method !== 'POST') return 'Other';
    const p = path.replace(/\/+$/, '').toLowerCase();
    if (p.startsWith('/v1/run/')) {
      return p === `/v1/run/${TOOL}` ? 'Run' : 'RunUnknown';
    }
    if (p === '/v1/task/detail') return 'Detail';
    if (p === '/v1/task/cancel') return 'Cancel';
    if (p === '/v1/task/kill') return 'Kill';
    if (p === '/v1/task/list') return 'List';
    return 'Other';
  }

  function run(fields: Fields): Answer {
    const parameters: Record<string, string> = {};
    let callbackUrl = '';
    for (const [key, value] of Object.entries(fields)) {
      if (key === 'callbackUrl' || key === 'callbackurl') callbackUrl = toParam(value);
      else parameters[key] = toParam(value);
    }
    if (!parameters.prompt?.trim()) return { status: 200, body: envelopeError(0, 'prompt is required') };
    const now = Date.now();
    const id = String(nextTaskId++);
    let fate: Fate = 'ok';
    if (config.fatalNextTasks > 0) {
      config.fatalNextTasks--;
      fate = 'fatal';
    } else if (config.failNextTasks > 0) {
      config.failNextTasks--;
      fate = 'fail';
    }
    const inferenceSteps = intParam(parameters.steps, 20, 1, 50);
    const ticks = Math.min(MAX_TICKS, inferenceSteps);
    const task: EmulatorTask = {
      id,
      uuid: randomUUID(),
      name: '',
      socketaccesstoken: randomAlnum(30),
      parameters,
      debugoutput: '',
      debugerror: '',
      starttime: '0',
      endtime: '0',
      elapsedseconds: '0.0000',
      status: 'task_queue',
      cps: CPS,
      totalcost: '0',
      guestid: null,
      projectid: '1',
      modelid: '1',
      description: '',
      basemodelid: '0',
      runtype: 'model',
      modelfolderid: '',
      modelfileid: '',
      callbackurl: callbackUrl,
      marketplaceid: null,
      createtime: unix(now),
      canceltime: '0',
      assigntime: '0',
      accepttime: '0',
      preprocessstarttime: '0',
      preprocessendtime: '0',
      postprocessstarttime: '0',
      postprocessendtime: '0',
      pexit: '0',
      categories: '["tool","text-to-image","bf16","lora-flux","persistent","fast-interface"]',
      outputs: [],
      size: '0',
      progress: '',
    };
    const record: TaskRecord = {
      task,
      steps: plan(ticks, fate),
      next: 0,
      timer: null,
      fate,
      failMessage: config.failMessage,
      width: intParam(parameters.width, 1024, 1, MAX_SIDE),
      height: intParam(parameters.height, 1024, 1, MAX_SIDE),
      samples: intParam(parameters.samples, 1, 1, MAX_SAMPLES),
      inferenceSteps,
      ticks,
      seed: parameters.seed ?? '',
      prompt: parameters.prompt,
      parentId: randomHex(16),
      createMs: now,
      pngs: null,
    };
    tasks.set(id, record);
    tokens.set(task.socketaccesstoken, record);
    const note = { ok: '', fail: ' (will fail)', fatal: ' (will die before it runs)' }[fate];
    log(`task ${id} created${note}: ${JSON.stringify(parameters.prompt)}`);
    schedule(record);
    return { status: 200, body: { result: true, errors: [], taskid: id, socketaccesstoken: task.socketaccesstoken } };
  }

  function detail(fields: Fields): Answer {
    const record = findTask(fields);
    if (!record) return { status: 200, body: { ...envelopeError(1, 'Task not found'), total: '0', tasklist: [] } };
    return { status: 200, body: { result: true, errors: [], total: '1', tasklist: [record.task] } };
  }

  function cancelRoute(fields: Fields): Answer {
    const record = findTask(fields);
    if (!record) return { status: 200, body: envelopeError(1, 'Task not found') };
    if (!QUEUED_STATUSES.includes(record.task.status)) {
      return { status: 200, body: envelopeError(0, `Task can not be cancelled in status ${record.task.status}`) };
    }
    cancel(record, Date.now());
    return { status: 200, body: { result: true, errors: [], tasklist: [record.task] } };
  }

  function killRoute(fields: Fields): Answer {
    const record = findTask(fields);
    if (!record) return { status: 200, body: envelopeError(1, 'Task not found') };
    if (isOver(record.task)) {
      return { status: 200, body: envelopeError(0, `Task can not be killed in status ${record.task.status}`) };
    }
    cancel(record, Date.now());
    return { status: 200, body: { result: true, errors: [], tasklist: [record.task] } };
  }

  /**
   * Task/List as Wiro's MCP client calls it ({type, sort, order, start, limit}, all strings): every
   * task of the project, newest first unless order is 'ASC', a page of at most 100. `total` counts
   * them all. Ids grow with creation time, so every `sort` gives the same order here.
   */
  function list(fields: Fields): Answer {
    const all = [...tasks.values()].map((record) => record.task);
    if (toParam(fields.order).toUpperCase() !== 'ASC') all.reverse();
    const start = intParam(toParam(fields.start), 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(toParam(fields.limit), 20, 0, MAX_LIST_LIMIT);
    const tasklist = all.slice(start, start + limit);
    return { status: 200, body: { result: true, errors: [], total: String(all.length), tasklist } };
  }

  /** The answer of a Wiro API call that no fault cut short. */
  function answerWiro(
    kind: WiroRoute | 'RunUnknown',
    req: IncomingMessage,
    fields: Fields | null,
    call: CallRecord,
  ): Answer {
    if (kind === 'Other') return { status: 404, body: envelopeError(1, 'Not found') };
    call.authorized = authorize(req);
    if (!call.authorized) return { status: 401, body: envelopeError(0, AUTH_ERROR_MESSAGE) };
    if (kind === 'RunUnknown') return { status: 404, body: envelopeError(1, 'Tool not found') };
    if (!fields) return { status: 400, body: envelopeError(0, 'Request body could not be read') };
    if (kind === 'Run') return run(fields);
    if (kind === 'Detail') return detail(fields);
    if (kind === 'Cancel') return cancelRoute(fields);
    if (kind === 'Kill') return killRoute(fields);
    return list(fields);
  }

  async function handleWiro(req: IncomingMessage, res: ServerResponse, path: string) {
    const method = req.method ?? 'GET';
    const kind = classify(method, path);
    const route: WiroRoute = kind === 'RunUnknown' ? 'Run' : kind;
    const raw = await readBody(req);
    const fields = parseBody(raw, header(req, 'content-type') ?? '', baseUrl);
    const call: CallRecord = {
      route: kind === 'RunUnknown' ? 'Other' : kind,
      method,
      path,
      nonce: header(req, 'x-nonce'),
      apiKey: header(req, 'x-api-key') !== null,
      body: fields ?? raw.toString('utf8'),
      status: null,
      authorized: null,
      fault: null,
      at: Date.now(),
    };
    calls.push(call);
    res.on('finish', () => {
      call.status = res.statusCode;
    });
    const found = takeFault(route);
    if (found) call.fault = found.kind;
    // 'late' lets the call do its work now and holds only the answer; the other faults act first.
    const late = found?.kind === 'late' ? found : null;
    if (found && !late && (await applyFault(res, found))) return;
    const answer = answerWiro(kind, req, fields, call);
    // Serialized now: a late answer tells how things were when the call did its work.
    const body = JSON.stringify(answer.body);
    if (late) {
      log(`fault late on ${method} ${path}: answering in ${late.delayMs} ms`);
      if (!(await sleep(late.delayMs))) {
        res.req.socket.destroy();
        return;
      }
    }
    // A client that has gone meanwhile never gets it: send() drops an answer to a closed response.
    send(res, answer.status, body);
  }

  async function handleFile(req: IncomingMessage, res: ServerResponse, path: string) {
    const method = req.method ?? 'GET';
    const found = takeFault('Files');
    if (found && (await applyFault(res, found))) return;
    const match = /^\/files\/(\d+)\/(\d+)\.png$/.exec(path);
    const record = match ? tasks.get(match[1] ?? '') : undefined;
    const index = Number(match?.[2] ?? -1);
    if (method !== 'GET' && method !== 'HEAD') {
      sendJson(res, 405, envelopeError(0, 'Method not allowed'));
      return;
    }
    if (!record || record.task.outputs.length <= index || index < 0) {
      sendJson(res, 404, envelopeError(1, 'File not found'));
      return;
    }
    const png = ensurePngs(record)[index];
    if (!png) {
      sendJson(res, 404, envelopeError(1, 'File not found'));
      return;
    }
    send(res, 200, png, 'image/png', {
      'cache-control': 'public, max-age=31536000, immutable',
      'access-control-allow-origin': '*',
    });
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse, path: string) {
    const method = req.method ?? 'GET';
    const raw = await readBody(req);
    let body: unknown = {};
    if (raw.length > 0 && raw.toString('utf8').trim() !== '') {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new ControlError(400, 'body must be JSON');
      }
    }
    const advanceMatch = /^\/__emulator\/tasks\/([^/]+)\/advance\/?$/.exec(path);
    if (method === 'GET' && path === '/__emulator/state') {
      sendJson(res, 200, state());
    } else if (method === 'POST' && path === '/__emulator/reset') {
      reset();
      sendJson(res, 200, { result: true, errors: [] });
    } else if (method === 'POST' && path === '/__emulator/config') {
      sendJson(res, 200, { result: true, errors: [], config: configure(body as EmulatorConfig) });
    } else if (method === 'POST' && path === '/__emulator/faults') {
      fault(body as FaultSpec);
      sendJson(res, 200, { result: true, errors: [], faults });
    } else if (method === 'DELETE' && path === '/__emulator/faults') {
      faults = [];
      sendJson(res, 200, { result: true, errors: [], faults });
    } else if (method === 'POST' && advanceMatch) {
      if (!isRecord(body)) throw new ControlError(400, 'body must be an object');
      const to = body.to;
      if (to !== undefined && typeof to !== 'string') throw new ControlError(400, 'to must be a string');
      sendJson(res, 200, advance(decodeURIComponent(advanceMatch[1] ?? ''), to));
    } else {
      sendJson(res, 404, envelopeError(1, `No emulator control route ${method} ${path}`));
    }
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://emulator').pathname;
    let handler: Promise<void>;
    if (path.startsWith('/__emulator/')) handler = handleControl(req, res, path);
    else if (path.startsWith('/files/')) handler = handleFile(req, res, path);
    else if (path === '/v1' || path.startsWith('/v1/')) handler = handleWiro(req, res, path);
    else {
      sendJson(res, 404, envelopeError(1, 'Not found'));
      return;
    }
    res.on('finish', () => log(`${req.method} ${req.url} ${res.statusCode}`));
    handler.catch((err: unknown) => {
      if (err instanceof ControlError) {
        sendJson(res, err.status, envelopeError(0, err.message));
      } else {
        log(`error on ${req.method} ${req.url}: ${(err as Error)?.stack ?? String(err)}`);
        sendJson(res, 500, envelopeError(0, 'Emulator error'));
      }
    });
  });
  server.keepAliveTimeout = 5000;
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      handleUpgrade(req, socket, head);
    } catch (err) {
      log(`error on upgrade ${req.url}: ${(err as Error)?.stack ?? String(err)}`);
      socket.destroy();
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  let urlHost = host;
  if (host === '0.0.0.0' || host === '::' || host === '') urlHost = '127.0.0.1';
  else if (host.includes(':')) urlHost = `[${host}]`;
  baseUrl = `http://${urlHost}:${address.port}`;
  const socketUrl = `${baseUrl.replace(/^http/, 'ws')}/v1`;
  log(`listening on ${baseUrl}/v1 (socket ${socketUrl})`);

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    if (closing) return closing;
    closed = true;
    for (const record of tasks.values()) {
      if (record.timer) clearTimeout(record.timer);
      record.timer = null;
    }
    for (const timer of retryTimers) clearTimeout(timer);
    retryTimers.clear();
    for (const wake of [...pendingSleeps]) wake();
    for (const conn of [...conns]) conn.ws.shutdown(1001, 'Emulator closing');
    shutdown.abort();
    closing = new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };

  const wrap = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ControlError) throw new Error(err.message);
      throw err;
    }
  };

  return {
    url: baseUrl,
    socketUrl,
    close,
    state,
    reset,
    configure: (patch) => wrap(() => configure(patch)),
    fault: (spec) => wrap(() => fault(spec)),
    advance: (taskid, to) => wrap(() => advance(taskid, to)),
  };
}
