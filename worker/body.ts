/**
 * Reads a request body the way Wiro accepts it: JSON, multipart/form-data or a url-encoded form,
 * into a plain object. A body that is a JSON object is JSON whatever its `Content-Type` says:
 * Wiro's own examples send JSON labelled `multipart/form-data`, and `curl -d` labels it a form.
 * Refuses oversized bodies before reading them whole, uploaded files (this model takes none)
 * and anything that is not an object, each with a clear 4xx.
 */
import { ApiError } from './errors';

export async function readBody(request: Request, maxBytes: number): Promise<Record<string, unknown>> {
  const declared = Number(request.headers.get('content-length'));
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readCapped(request, maxBytes);
  const contentType = request.headers.get('content-type') ?? '';
  const type = contentType.toLowerCase();
  const text = new TextDecoder().decode(bytes);
  // A form never starts with `{`; a JSON object always does.
  const isForm = type.startsWith('multipart/form-data') || type.startsWith('application/x-www-form-urlencoded');
  if (isForm && !text.trimStart().startsWith('{')) {
    let form: FormData;
    try {
      // The boundary is case-sensitive: the header goes on as it came.
      form = await new Response(bytes, { headers: { 'content-type': contentType } }).formData();
    } catch (error) {
      throw new ApiError(400, 'The form body could not be read', { cause: error });
    }
    const body: Record<string, unknown> = {};
    for (const [name, value] of form) {
      if (typeof value !== 'string') throw new ApiError(400, `${name}: this model takes no file uploads`);
      body[name] = value;
    }
    return body;
  }
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, 'The body is not valid JSON', { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ApiError(400, 'The body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, `The body is larger than ${maxBytes} bytes`);
}

/** Reads at most `maxBytes`, even when the client lied about (or left out) its length. */
async function readCapped(request: Request, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
