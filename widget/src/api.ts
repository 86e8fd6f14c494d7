/**
 * The widget's client for the Worker's Wiro-compatible API. Every answer is Wiro's envelope;
 * a refusal (HTTP error or `result: false`) becomes one `ApiRequestError` carrying the status,
 * the per-field errors and `Retry-After`, so the component has one error path.
 *
 * @example
 *   const api = new WiroApi('https://YOUR-WORKER');
 *   const { socketaccesstoken } = await api.run({ prompt: 'a lion' }, crypto.randomUUID());
 */
import type { RunAnswer, WiroErrorItem, WiroTask } from '../../shared/protocol';
import type { FieldSpec, Lora } from '../../shared/tool';

/** What `GET /v1/Tool` publishes under `tool`: everything the form is built from. */
export interface ToolDescription {
  slug: string;
  title: string;
  inputs: FieldSpec[];
  loras: Lora[];
  sizes: SizePreset[];
  limits: Record<string, number>;
}

export interface SizePreset {
  label: string;
  width: number;
  height: number;
}

export interface ToolAnswer {
  tool: ToolDescription;
  upstream?: { emulator?: boolean };
  /** Present when Runs need a Cloudflare Turnstile token: the challenge's public site key. */
  turnstile?: { sitekey?: string };
}

export class ApiRequestError extends Error {
  /** HTTP status; 0 when the service could not be reached at all. */
  readonly status: number;
  readonly errors: WiroErrorItem[];
  /** Seconds from `Retry-After`, when the answer had one. */
  readonly retryAfter: number | undefined;

  constructor(status: number, errors: WiroErrorItem[], retryAfter?: number) {
    super(errors[0]?.message ?? `HTTP ${status}`);
    this.name = 'ApiRequestError';
    this.status = status;
    this.errors = errors;
    this.retryAfter = retryAfter;
  }
}

/** The Run path: this Worker serves this one model. */
export const RUN_PATH = '/v1/Run/wiro/text-to-image-flux-lora-fast';

export class WiroApi {
  readonly endpoint: string;

  constructor(endpoint: string) {
    this.endpoint = endpoint.replace(/\/+$/, '');
  }

  tool(signal?: AbortSignal): Promise<ToolAnswer> {
    return this.#call<ToolAnswer>('GET', '/v1/Tool', undefined, { signal });
  }

  /**
   * Starts a task. The key lets the Worker recognise a repeated submit; Runs are billed.
   * `headers` adds to the request's (the Turnstile token, when the Worker asks for one).
   */
  run(
    body: Record<string, unknown>,
    idempotencyKey: string,
    signal?: AbortSignal,
    headers?: Record<string, string>,
  ): Promise<RunAnswer> {
    return this.#call<RunAnswer>('POST', RUN_PATH, body, {
      signal,
      headers: { 'idempotency-key': idempotencyKey, ...headers },
    });
  }

  async detail(token: string, signal?: AbortSignal): Promise<WiroTask | undefined> {
    const answer = await this.#call<{ tasklist?: WiroTask[] }>(
      'POST',
      '/v1/Task/Detail',
      { tasktoken: token },
      { signal },
    );
    return answer.tasklist?.[0];
  }

  /** `Task/Cancel` while queued, `Task/Kill` once running: Wiro accepts each only then. */
  async stop(token: string, how: 'Cancel' | 'Kill'): Promise<WiroTask | undefined> {
    const answer = await this.#call<{ tasklist?: WiroTask[] }>('POST', `/v1/Task/${how}`, { tasktoken: token });
    return answer.tasklist?.[0];
  }

  eventsUrl(token: string): string {
    return `${this.endpoint}/v1/Task/Events?tasktoken=${encodeURIComponent(token)}`;
  }

  async #call<T>(
    method: string,
    path: string,
    body: unknown,
    options: { signal?: AbortSignal | undefined; headers?: Record<string, string> } = {},
  ): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.endpoint + path, {
        method,
        headers: body === undefined ? options.headers : { 'content-type': 'application/json', ...options.headers },
        body: body === undefined ? null : JSON.stringify(body),
        signal: options.signal ?? null,
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw new ApiRequestError(0, []);
    }
    let answer: { result?: boolean; errors?: WiroErrorItem[] } | undefined;
    try {
      answer = await response.json();
    } catch {
      // Not JSON: a proxy's error page, say. The status still tells what happened.
    }
    if (!response.ok || answer?.result !== true) {
      const retryAfter = Number(response.headers.get('retry-after'));
      throw new ApiRequestError(
        response.status,
        Array.isArray(answer?.errors) ? answer.errors : [],
        Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
      );
    }
    return answer as T;
  }
}

/** A random v4 UUID, also where `crypto.randomUUID` is missing (pages served over plain http). */
export function uuid(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
