/** The origins the end-to-end global setup provides (see global-setup.ts). */
import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The Worker under test (wrangler's dev server), e.g. http://127.0.0.1:41234. */
    workerUrl: string;
    /** A third-party site that embeds the widget from the Worker's origin. */
    hostUrl: string;
  }
}
