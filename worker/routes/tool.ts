/**
 * The tool's description, two ways from one schema: `GET /v1/Tool` (inputs, LoRA catalog and
 * limits, for building forms) and `POST /v1/Tool/Detail` (Wiro's own answer shape, for Wiro's
 * SDKs' `getModelSchema`); any other model gets Wiro's not-found envelope.
 */
import { Hono } from 'hono';
import { describeTool } from '../../shared/tool';
import { readBody } from '../body';
import { type Bindings, isLoopbackUrl } from '../env';
import { servedTool } from '../tool/served';
import { wiroToolDetail } from '../tool/wiro-tool';
import { methodNotAllowed } from './methods';

export const tool = new Hono<{ Bindings: Bindings }>();

const described = describeTool();
const detail = wiroToolDetail();

tool.get('/Tool', (c) => {
  const emulator = isLoopbackUrl(c.env.WIRO_API_BASE ?? '');
  c.header('cache-control', 'public, max-age=300');
  const sitekey = c.env.TURNSTILE_SITE_KEY;
  return c.json({
    result: true,
    errors: [],
    tool: described,
    upstream: { emulator },
    ...(sitekey ? { turnstile: { sitekey } } : {}),
  });
});

tool.post('/Tool/Detail', async (c) => {
  // No key needed to describe the tool: a small fixed cap instead of the configured one.
  const body = await readBody(c.req.raw, 16 * 1024);
  const slug = `${String(body.slugowner ?? '')}/${String(body.slugproject ?? '')}`;
  servedTool(slug);
  return c.json({ result: true, errors: [], tool: [detail] });
});

tool.all('/Tool', methodNotAllowed('GET'));
tool.all('/Tool/Detail', methodNotAllowed('POST'));
