/**
 * `GET /v1/openapi.json`: the OpenAPI 3.1 document of the `/v1` API, generated from the schema
 * that validates Runs (see worker/tool/openapi.ts) on the first request of an isolate: at module
 * load the schema's module may not be evaluated yet (the Worker's modules import each other).
 */
import { Hono } from 'hono';
import type { Bindings } from '../env';
import { openApiDocument } from '../tool/openapi';
import { methodNotAllowed } from './methods';

export const openapi = new Hono<{ Bindings: Bindings }>();

let document: ReturnType<typeof openApiDocument> | undefined;

openapi.get('/openapi.json', (c) => {
  c.header('cache-control', 'public, max-age=300');
  document ??= openApiDocument();
  return c.json(document);
});

openapi.all('/openapi.json', methodNotAllowed('GET'));
