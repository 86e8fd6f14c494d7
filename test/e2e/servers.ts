/**
 * The end-to-end world: the Wiro emulator, the real Worker (wrangler's dev server, pointed at
 * the emulator) and a third-party site on another origin that embeds the widget with exactly
 * the contract's two lines, under a strict Content-Security-Policy.
 *
 * @example
 *   const world = await startWorld();
 *   // open `${world.hostUrl}/` in a browser …
 *   await world.close();
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { unstable_startWorker } from 'wrangler';
import { startEmulator } from '../../emulator/emulator.ts';
import { E2E_KEY, E2E_SECRET, E2E_SPEED } from './constants.ts';

export interface World {
  emulatorUrl: string;
  workerUrl: string;
  hostUrl: string;
  close(): Promise<void>;
}

/** The third-party page: the contract's two lines, nothing else from the Worker. */
function hostPage(workerUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sunday Sketches: a blog that embeds wiro-flux</title>
<link rel="stylesheet" href="/host.css">
<script type="module" src="/collect.js"></script>
</head>
<body>
<main>
<h1>Sunday Sketches</h1>
<p>Make a picture for this week's post:</p>
<script type="module" src="${workerUrl}/widget.js"></script>
<wiro-flux endpoint="${workerUrl}"></wiro-flux>
</main>
</body>
</html>`;
}

/** Records the widget's events and any CSP violation, as the page sees them (on `document`). */
const COLLECT_JS = `
window.__events = [];
window.__csp = [];
for (const type of ['wiro-task', 'wiro-status', 'wiro-done', 'wiro-error']) {
  document.addEventListener(type, (event) => {
    window.__events.push({ type, detail: JSON.parse(JSON.stringify(event.detail)), composed: event.composed });
  });
}
document.addEventListener('securitypolicyviolation', (event) => {
  window.__csp.push(event.violatedDirective + ' ' + event.blockedURI);
});
`;

const HOST_CSS = `
body { margin: 0; font: 16px/1.5 Georgia, serif; background: #faf7f2; color: #2b2620; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 16px 48px; }
h1 { font-size: 28px; margin: 0 0 4px; }
`;

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

export async function startWorld(): Promise<World> {
  const emulator = await startEmulator({ apiKey: E2E_KEY, apiSecret: E2E_SECRET, speed: E2E_SPEED });
  // The host page names the Worker, and the Worker allows the host's origin: the host listens
  // first, and learns the Worker's URL before it serves any page.
  let workerUrl = '';
  const host = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://host').pathname;
    const csp = [
      "default-src 'none'",
      `script-src 'self' ${workerUrl}`,
      `connect-src ${workerUrl} ${emulator.url}`,
      `img-src ${emulator.url} blob: data:`,
      "style-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
    ].join('; ');
    const send = (type: string, body: string) => {
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store', 'content-security-policy': csp });
      res.end(body);
    };
    if (path === '/') send('text/html; charset=utf-8', hostPage(workerUrl));
    else if (path === '/collect.js') send('text/javascript', COLLECT_JS);
    else if (path === '/host.css') send('text/css', HOST_CSS);
    else {
      res.writeHead(404).end();
    }
  });
  const hostUrl = await listen(host);

  const worker = await unstable_startWorker({
    config: 'wrangler.toml',
    // The suite builds the widget itself, once; no need for wrangler's [build] step.
    build: { custom: { command: 'true' } },
    bindings: {
      WIRO_API_BASE: { type: 'plain_text', value: `${emulator.url}/v1` },
      WIRO_API_KEY: { type: 'secret_text', value: E2E_KEY },
      WIRO_API_SECRET: { type: 'secret_text', value: E2E_SECRET },
      // Exactly the third-party page's origin, as an operator would set it.
      ALLOWED_ORIGINS: { type: 'plain_text', value: hostUrl },
      RUN_LIMIT_PER_MINUTE: { type: 'plain_text', value: '1000' },
      // Tasks of earlier files may still run when a later one starts its own.
      MAX_RUNNING_PER_CLIENT: { type: 'plain_text', value: '20' },
    },
    dev: {
      server: { hostname: '127.0.0.1', port: 0 },
      inspector: false,
      persist: false,
      logLevel: 'warn',
      watch: false,
    },
  } as Parameters<typeof unstable_startWorker>[0]);
  await worker.ready;
  workerUrl = (await worker.url).origin;

  return {
    emulatorUrl: emulator.url,
    workerUrl,
    hostUrl,
    async close() {
      host.closeAllConnections();
      await new Promise((resolve) => host.close(resolve));
      await worker.dispose();
      await emulator.close();
    },
  };
}
