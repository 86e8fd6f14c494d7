/**
 * The one error type of the Worker. Anything that refuses a request throws an `ApiError`; the
 * app's single `onError` turns it into Wiro's envelope. Wiro's own error codes pass through.
 *
 * @example throw new ApiError(404, [{ code: 1, message: 'Task not found' }]);
 */
import type { WiroEnvelope, WiroErrorItem } from '../shared/protocol';

/** Wiro's error codes, as its docs list them. */
export const WiroCode = {
  general: 0,
  notFound: 1,
  concurrency: 96,
  insufficientBalance: 97,
} as const;

export class ApiError extends Error {
  readonly status: number;
  readonly errors: WiroErrorItem[];
  readonly headers: Record<string, string>;
  /** More fields for the envelope (a lost Run's identifiers, say). */
  readonly extra: Record<string, unknown>;

  constructor(
    status: number,
    errors: WiroErrorItem[] | string,
    options: { cause?: unknown; headers?: Record<string, string>; extra?: Record<string, unknown> } = {},
  ) {
    const list = typeof errors === 'string' ? [{ code: WiroCode.general, message: errors }] : errors;
    super(list.map((error) => error.message).join('; '), { cause: options.cause });
    this.name = 'ApiError';
    this.status = status;
    this.errors = list;
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
  }
}

export function envelope(errors: WiroErrorItem[], extra: Record<string, unknown> = {}): WiroEnvelope {
  return { result: errors.length === 0, errors, ...extra };
}

export function errorResponse(error: ApiError): Response {
  return Response.json(envelope(error.errors, error.extra), { status: error.status, headers: error.headers });
}
