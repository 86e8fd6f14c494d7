/** `GET /v1/Tool`: the tool's inputs, LoRA catalog and limits, for building forms. */
import { Hono } from 'hono';
import { type Bindings, isLoopbackUrl } from '../env';
import { describeTool } from '../tool/schema';

export const tool = new Hono<{ Bindings: Bindings }>();

const described = describeTool();

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
