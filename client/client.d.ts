/**
 * The types of `/client.js`, the typed client of wiro-flux-edge. The statuses are imported from
 * shared/protocol.ts; the built copy beside `client.js` has them written out, so it needs nothing
 * else. `client/index.ts` implements these very declarations and `client/types.check.ts` holds
 * them to the Worker's schema and protocol.
 */

/**
 * Wiro's statuses, from the one table in shared/protocol.ts. The build writes them out in place
 * of these two lines (client/vite.config.ts), so that the `client.d.ts` the Worker serves stands
 * alone. After a `TerminalStatus` nothing changes; a `task_postprocess_end` with `pexit` other
 * than `"0"` failed.
 */
import type { RunningStatus, TaskStatus, TerminalStatus } from '../shared/protocol';

export type { RunningStatus, TaskStatus, TerminalStatus };

/** The LoRA styles the model offers (`GET /v1/Tool` lists their labels and trigger words). */
export type LoraValue = '655' | '678' | '1239' | '1236' | '1328' | '1214';

/** Each LoRA's scale setting, a body field named by its `generatesettings` id. */
export type LoraScaleId =
  | 'Movie-poster-style-LoRA-Flux-v1.0'
  | 'Dreamy-Vista-Soft-Color-Pencil-Drawings'
  | 'Vintage-Comic-Book-Cover-Sci-fi-Pulp'
  | 'WPAP-ART-Style'
  | 'Vintage-Mascot-Logotypes';

/** The inputs of a Run. Numbers may also be sent as numeric strings, as forms do. */
export type GenerateInput = {
  /** 1–2000 characters; put the style's trigger words in it. */
  prompt: string;
  /** `""` means Wiro's default, `"655"`. */
  selectedLoraModel?: LoraValue | '';
  /** The id of one of your own LoRAs on Wiro. */
  selectedLoraModelPrivate?: string;
  /** A direct https link to a public `.safetensors` file. */
  selectedLoraModelPrivateUrl?: string;
  /** 1–50, default 20. */
  steps?: number | string;
  /** Guidance, 0–20, default 3.5. */
  scale?: number | string;
  /** Images to make, 1–4, default 1 (each is billed). */
  samples?: number | string;
  /** 0–4294967295; left out, a random one is used. */
  seed?: number | string;
  /** 256–2048, a multiple of 16, default 1024. */
  width?: number | string;
  height?: number | string;
  /** Your webhook (https, a public host), told once when the task ends. */
  callbackUrl?: string;
} & { [id in LoraScaleId]?: number | string };

export interface WiroOutput {
  name: string;
  contenttype: string;
  size: string;
  url: string;
  [field: string]: unknown;
}

/** A task in Wiro's shape: every value a string, as Wiro sends it. */
export interface WiroTask {
  id: string;
  socketaccesstoken: string;
  /** One of Wiro's statuses, or one Wiro added after this client was built: it arrives too. */
  status: TaskStatus | (string & {});
  pexit?: string;
  debugerror?: string;
  outputs: WiroOutput[];
  createtime?: string;
  starttime?: string;
  endtime?: string;
  elapsedseconds?: string;
  totalcost?: string;
  /** The latest step progress Wiro reported, when it did. */
  progress?: { percentage: number; stepCurrent?: number; stepTotal?: number; remainingTime?: string };
  [field: string]: unknown;
}

export interface WiroErrorItem {
  code: number;
  message: string;
  /** The input field the error is about. */
  field?: string;
}

/** Wiro's envelope around every answer. */
export interface WiroAnswer {
  result: boolean;
  errors: WiroErrorItem[];
  [field: string]: unknown;
}

export interface RunAnswer extends WiroAnswer {
  /** The task's id and token: both are its capability, either one names it. */
  taskid: string;
  socketaccesstoken: string;
}

/**
 * A refusal, or a task that did not finish well. `status` is the HTTP status (0 when the Worker
 * could not be reached, or when it is the task that failed: see `task`).
 */
export declare class WiroError extends Error {
  readonly name: 'WiroError';
  readonly status: number;
  readonly errors: WiroErrorItem[];
  /** Seconds to wait before trying again, from `Retry-After` (429, say). */
  readonly retryAfter: number | undefined;
  /** The task that failed (`pexit` not `"0"`) or was cancelled. */
  readonly task: WiroTask | undefined;
}

export interface ClientOptions {
  /** The Worker's origin, e.g. `https://YOUR-WORKER`. */
  endpoint: string;
  /** A `fetch` for every request instead of the global one; streams are then read through it too, not EventSource. */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
}

export interface GenerateOptions {
  /** Called with each new state of the task, from `task_queue` to its end. */
  onStatus?: (task: WiroTask) => void;
  /** Aborting rejects with an `AbortError` and stops the task (Cancel while queued, Kill once running). */
  signal?: AbortSignal;
  /** Repeats with the same key start one task (default: a fresh UUID). */
  idempotencyKey?: string;
}

export interface WatchOptions {
  signal?: AbortSignal;
  /** Resume after this event id: only later states are given. */
  lastEventId?: string;
}

export interface ToolAnswer extends WiroAnswer {
  /** The inputs, the LoRA catalog and the limits, for building forms. */
  tool: {
    slug: string;
    title: string;
    inputs: {
      name: string;
      kind: string;
      label: string;
      help: string;
      default: string | number;
      [k: string]: unknown;
    }[];
    loras: { value: LoraValue; label: string; description: string; triggerwords: string[]; settings: unknown[] }[];
    sizes: { label: string; width: number; height: number }[];
    limits: Record<string, number>;
  };
  [field: string]: unknown;
}

export interface WiroClient {
  /** Runs, follows and resolves with the finished task (`pexit` `"0"`, its `outputs`). */
  generate(input: GenerateInput, options?: GenerateOptions): Promise<WiroTask>;
  /** Starts a task; Runs are billed and never retried. */
  run(
    input: GenerateInput,
    options?: {
      idempotencyKey?: string;
      signal?: AbortSignal;
      /** Added to the request: a Cloudflare Turnstile token as `cf-turnstile-response`, when the Worker asks for one. */
      headers?: Record<string, string>;
    },
  ): Promise<RunAnswer>;
  /**
   * Each new state of the task until a terminal one: Server-Sent Events (EventSource where there
   * is one, else a fetch-read stream), resumed after a dropped connection from the last event
   * seen, and `Task/Detail` polling when streaming keeps failing.
   */
  watch(token: string, options?: WatchOptions): AsyncGenerator<WiroTask, void, undefined>;
  /** The task now, by its taskid or its token. */
  detail(token: string, options?: { signal?: AbortSignal }): Promise<WiroTask>;
  /** Wiro's `Task/Cancel`: only while the task is queued. */
  cancel(token: string): Promise<WiroAnswer>;
  /** Wiro's `Task/Kill`: once the task runs. */
  kill(token: string): Promise<WiroAnswer>;
  /** `GET /v1/Tool`: the input schema and LoRA catalog. */
  tool(): Promise<ToolAnswer>;
}

export declare function createClient(options: ClientOptions): WiroClient;
