/**
 * Keeping a task's outputs: copied from Wiro's CDN (whose links live "for a limited time") to the
 * optional R2 bucket `OUTPUTS` and pointed at the Worker's `/v1/File/…`, so results outlive
 * Wiro's links. An output that cannot be copied keeps Wiro's URL.
 */
import type { WiroOutput } from '../../shared/protocol';

const COPY_TIMEOUT_MS = 30_000;

export async function keepOutputs(
  bucket: R2Bucket,
  folder: string,
  publicOrigin: string,
  outputs: WiroOutput[],
  log: (what: string, error: unknown) => void,
): Promise<WiroOutput[]> {
  return Promise.all(
    outputs.map(async (output, index) => {
      const name = /^[\w.-]{1,100}$/.test(output.name) ? output.name : `${index}.png`;
      try {
        const response = await fetch(output.url, { signal: AbortSignal.timeout(COPY_TIMEOUT_MS) });
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        await bucket.put(`${folder}/${name}`, await response.arrayBuffer(), {
          httpMetadata: { contentType: output.contenttype || 'image/png' },
        });
        return { ...output, url: `${publicOrigin}/v1/File/${folder}/${name}`, wirourl: output.url };
      } catch (error) {
        log(`could not keep output ${name}`, error);
        return output;
      }
    }),
  );
}
