/**
 * `GET /v1/File/<object>/<name>`: outputs the task objects copied to R2 (when `OUTPUTS` is
 * bound), so results outlive Wiro's CDN links. Names are fixed once written: cache for a year.
 */
import { Hono } from 'hono';
import type { Bindings } from '../env';
import { ApiError, WiroCode } from '../errors';

export const file = new Hono<{ Bindings: Bindings }>();

file.get('/File/:object/:name', async (c) => {
  const { object, name } = c.req.param();
  const bucket = c.env.OUTPUTS;
  const found = bucket && /^[0-9a-f]{64}$/.test(object) ? await bucket.get(`${object}/${name}`) : null;
  if (!found) throw new ApiError(404, [{ code: WiroCode.notFound, message: 'File not found' }]);
  return new Response(found.body, {
    headers: {
      'content-type': found.httpMetadata?.contentType ?? 'application/octet-stream',
      'content-length': String(found.size),
      'cache-control': 'public, max-age=31536000, immutable',
      etag: found.httpEtag,
    },
  });
});
