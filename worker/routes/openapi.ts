/**
 * `GET /v1/openapi.json`: the OpenAPI 3.1 document of the `/v1` API, generated once per isolate
 * from the schema that validates Runs (see worker/tool/openapi.ts).
 */
import { Hono } from 'hono';
import type { Bindings } from '../env';
import { openApiDocument } from '../tool/openapi';
import { methodNotAllowed } from './methods';

export const openapi = new Hono<{ Bindings: Bindings }>();

const document = openApiDocument();

openapi.get('/openapi.json', (c) => {
  c.header('cache-control', 'public, max-age=300');
  return c.json(document);
});

openapi.all('/openapi.json', methodNotAllowed('GET'));
