/**
 * The results: placeholder tiles in the Run's shape while it works, then the images with their
 * download buttons, the seed with Copy, and "use these settings again". Also what an image is
 * called (alt text, file name), which the viewer shares, and the download itself.
 */
import { html, nothing, type TemplateResult } from 'lit';
import { inputOf } from '../form/model';
import type { HistoryEntry } from '../history';
import { downloadIcon } from '../icons';
import { format } from '../strings';
import type WiroFlux from '../wiro-flux.component';

/** One result's URL, its alt text ("Image 2 of 4: the prompt") and its download file name. */
export function imageOf(host: WiroFlux, entry: HistoryEntry, index: number) {
  const label = format(host._t.image, { n: index + 1, count: entry.outputs.length });
  return {
    url: entry.outputs[index]?.url ?? '',
    alt: `${label}: ${inputOf(host.form.tool, entry.inputs, 'prompt') ?? ''}`,
    name: `wiro-${entry.taskid}-${index + 1}.png`,
    label,
  };
}

/** Saves an image. `download` only works same-origin and the images usually live elsewhere: fetch it first. */
export async function download(url: string, name: string): Promise<void> {
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(String(response.status));
    const href = URL.createObjectURL(await response.blob());
    const link = document.createElement('a');
    link.href = href;
    link.download = name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(href), 30_000);
  } catch {
    window.open(url, '_blank', 'noopener');
  }
}

/** As many tiles as the Run asked for, each in its width and height. */
export function renderPlaceholders(host: WiroFlux): TemplateResult {
  const { tool } = host.form;
  // Set before any Run (and by a re-attached task).
  const body = host._lastBody as Record<string, unknown>;
  const width = Number(inputOf(tool, body, 'width')) || 1;
  const height = Number(inputOf(tool, body, 'height')) || 1;
  const count = Number(inputOf(tool, body, 'count')) || 1;
  return html`<div class="tiles ${count === 1 ? 'one' : ''}" aria-hidden="true">
    ${Array.from(
      { length: count },
      () => html`<div class="tile"><svg class="placeholder" viewBox="0 0 ${width} ${height}">
        <rect width=${width} height=${height} /></svg></div>`,
    )}
  </div>`;
}

export function renderGallery(host: WiroFlux, entry: HistoryEntry): TemplateResult {
  const { _t: t } = host;
  const { tool } = host.form;
  const seed = String(inputOf(tool, entry.inputs, 'seed') ?? '');
  const count = entry.outputs.length;
  return html`<div class="gallery" part="gallery" tabindex="-1" role="region" aria-label=${t.results}>
    <div class="tiles ${count === 1 ? 'one' : ''}">
      ${entry.outputs.map((_, index) => {
        const { url, alt, name, label } = imageOf(host, entry, index);
        return html`<figure class="tile">
          <button class="open" type="button" aria-label="${t.open}: ${label}" @click=${() => host._view(entry, index)}>
            <img part="image" src=${url} alt=${alt} width=${Number(inputOf(tool, entry.inputs, 'width')) || nothing}
              height=${Number(inputOf(tool, entry.inputs, 'height')) || nothing} />
          </button>
          <button class="btn small dl" type="button" aria-label="${t.download}: ${label}"
            @click=${() => download(url, name)}>${downloadIcon}</button>
        </figure>`;
      })}
    </div>
    <div class="toolbar">
      ${
        seed
          ? html`<span class="seedv">${t.seed} ${seed}</span>
            <button class="btn small" type="button" @click=${() => host._copySeed(seed)}>${t.copySeed}</button>`
          : nothing
      }
      <button class="btn small" type="button" @click=${() => host._use(entry.inputs)}>${t.reuse}</button>
      <span class="sr-only" role="status">${host._copied ? t.copied : ''}</span>
    </div>
  </div>`;
}
