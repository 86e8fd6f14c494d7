/**
 * The upstream client: every call to Wiro goes through `WiroClient`, which signs it, bounds it
 * with a timeout, retries only what is safe to repeat (reads, never Run: Runs are billed) and
 * turns every way Wiro can fail into an `UpstreamError` in Wiro's envelope, which also says
 * whether Wiro refused the call or its answer was lost (a lost Run may have started a task).
 *
 * @example
 *   const wiro = new WiroClient(readConfig(env));
 *   const { taskid, socketaccesstoken } = await wiro.run(TOOL_SLUG, body);
 */

import type { RunAnswer, WiroEnvelope, WiroErrorItem, WiroTask } from '../../shared/protocol';
import type { Config } from '../env';
import { ApiError, WiroCode } from '../errors';
import { authHeaders } from './sign';

type ClientConfig = Pick<Config, 'apiBase' | 'apiKey' | 'apiSecret' | 'timeoutMs'>;

/** How Detail is retried: attempts after the first, and the wait before each. */
const DETAIL_RETRY_DELAYS_MS = [250, 1000];
const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/**
 * A call to Wiro that failed. `refused`: Wiro answered with an error, so nothing happened;
 * otherwise the answer was lost (no answer in time, a reset, or a success that cannot be read)
 * and Wiro may have acted on the call.
 */
export class UpstreamError extends ApiError {
  readonly refused: boolean;
  /** Wiro's HTTP status, when it answered. */
  readonly upstreamStatus: number | undefined;

  constructor(
    status: number,
    errors: WiroErrorItem[] | string,
    options: { refused: boolean; upstreamStatus?: number; cause?: unknown },
  ) {
    super(status, errors, { cause: options.cause });
    this.name = 'UpstreamError';
    this.refused = options.refused;
    this.upstreamStatus = options.upstreamStatus;
  }
}

/** One of Wiro's task lists (`Task/List`), newest first. */
export interface TaskListQuery {
  start: number;
  limit: number;
}

export class WiroClient {
  readonly #config: ClientConfig;
  /** Calls made by this client, for the cost-per-task counters. */
  calls = 0;

  constructor(config: ClientConfig) {
    this.#config = config;
  }

  /** Starts a task. Never retried: a Run that timed out may still have been billed. */
  async run(slug: string, body: Record<string, unknown>): Promise<RunAnswer> {
    const answer = await this.#call(`Run/${slug}`, body);
    if (typeof answer.taskid !== 'string' || typeof answer.socketaccesstoken !== 'string') {
      throw new UpstreamError(502, 'Wiro accepted the Run but its answer has no taskid or socketaccesstoken', {
        refused: false,
      });
    }
    return answer as RunAnswer;
  }

  /** Reads one task by Wiro's token for it (a token, unlike an id, can never name another task). */
  async detail(tasktoken: string): Promise<WiroTask> {
    const answer = await this.#read('Task/Detail', { tasktoken });
    const task = Array.isArray(answer.tasklist) ? (answer.tasklist[0] as WiroTask | undefined) : undefined;
    if (!task || typeof task.status !== 'string') {
      throw new UpstreamError(502, 'Wiro answered Task/Detail without the task', { refused: false });
    }
    return task;
  }

  /** The project's latest tasks, newest first: where a Run whose answer was lost can be found. */
  async list({ start, limit }: TaskListQuery): Promise<WiroTask[]> {
    const answer = await this.#read('Task/List', {
      type: 'model',
      sort: 'id',
      order: 'DESC',
      start: String(start),
      limit: String(limit),
    });
    return Array.isArray(answer.tasklist) ? (answer.tasklist as WiroTask[]) : [];
  }

  /** A read: retried with backoff on timeouts, network errors, 408, 429 and 5xx. */
  async #read(path: string, body: Record<string, unknown>): Promise<WiroEnvelope> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#call(path, body);
      } catch (error) {
        const delay = DETAIL_RETRY_DELAYS_MS[attempt];
        if (delay === undefined || !(error instanceof UpstreamError) || !isRetryable(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /**
   * Stops a queued task. Named both ways, as Wiro's examples and clients name it (`taskid`) and
   * as its API reference does (`tasktoken`), so the stop holds whichever one Wiro reads.
   */
  cancel(taskid: string, token?: string): Promise<WiroEnvelope> {
    return this.#call('Task/Cancel', stopBody(taskid, token));
  }

  /** Stops a running task; named both ways, like `cancel`. */
  kill(taskid: string, token?: string): Promise<WiroEnvelope> {
    return this.#call('Task/Kill', stopBody(taskid, token));
  }

  async #call(path: string, body: unknown): Promise<WiroEnvelope> {
    const { apiBase, apiKey, apiSecret, timeoutMs } = this.#config;
    this.calls++;
    let response: Response;
    try {
      response = await fetch(`${apiBase}/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(await authHeaders(apiKey, apiSecret)) },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
        throw new UpstreamError(504, `Wiro did not answer ${path} within ${timeoutMs / 1000} s`, {
          refused: false,
          cause: error,
        });
      }
      throw new UpstreamError(502, `Wiro could not be reached for ${path}`, { refused: false, cause: error });
    }
    return parseAnswer(path, response, timeoutMs);
  }
}

function stopBody(taskid: string, token: string | undefined): Record<string, string> {
  return token ? { taskid, tasktoken: token } : { taskid };
}

async function parseAnswer(path: string, response: Response, timeoutMs: number): Promise<WiroEnvelope> {
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw new UpstreamError(504, `Wiro did not finish answering ${path} within ${timeoutMs / 1000} s`, {
      refused: false,
      cause: error,
    });
  }
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = undefined;
  }
  if (!isEnvelope(answer)) {
    // An error page is a refusal; a success that cannot be read may still have done its work.
    throw new UpstreamError(
      502,
      `Wiro answered ${path} with something that is not its JSON (HTTP ${response.status}, ${
        response.headers.get('content-type') || 'no content type'
      })`,
      { refused: !response.ok, upstreamStatus: response.status },
    );
  }
  if (answer.result === true && response.ok) return answer;
  throw new UpstreamError(upstreamErrorStatus(response.status, answer.errors), upstreamErrors(path, answer.errors), {
    refused: true,
    upstreamStatus: response.status,
  });
}

function isEnvelope(value: unknown): value is WiroEnvelope {
  return typeof value === 'object' && value !== null && typeof (value as WiroEnvelope).result === 'boolean';
}

/** Wiro's own errors, passed through with their codes; a bare failure gets a plain message. */
function upstreamErrors(path: string, errors: unknown): WiroErrorItem[] {
  const list = Array.isArray(errors)
    ? errors.flatMap((error) =>
        typeof error === 'object' && error !== null && typeof error.message === 'string'
          ? [{ code: typeof error.code === 'number' ? error.code : Number(error.code) || 0, message: error.message }]
          : [],
      )
    : [];
  return list.length > 0 ? list : [{ code: WiroCode.general, message: `Wiro refused ${path} without saying why` }];
}

/**
 * Wiro answers errors with varying HTTP statuses (often 200 with `result: false`). Keep Wiro's
 * own 4xx; give its 5xx as 502 (the fault is upstream, not ours); map bare 200s by Wiro's code.
 */
function upstreamErrorStatus(status: number, errors: unknown): number {
  if (status >= 500) return 502;
  if (status >= 400) return status;
  const code = Array.isArray(errors) ? Number(errors[0]?.code) : Number.NaN;
  if (code === WiroCode.concurrency) return 429;
  if (code === WiroCode.insufficientBalance) return 402;
  if (code === WiroCode.notFound) return 404;
  return 400;
}

function isRetryable(error: UpstreamError): boolean {
  if (error.upstreamStatus === undefined) return true; // no answer: unreachable, reset or too slow
  return RETRYABLE_STATUSES.has(error.upstreamStatus);
}
