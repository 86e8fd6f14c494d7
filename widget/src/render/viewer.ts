/** The full-size viewer: a modal <dialog> with the image, previous and next (also the arrow keys), Download and Close. */
import { html, nothing, type TemplateResult } from 'lit';
import { downloadIcon } from '../icons';
import type WiroFlux from '../wiro-flux.component';
import { download, imageOf } from './gallery';

export function renderViewer(host: WiroFlux): TemplateResult {
  const { _t: t, _viewing: viewing } = host;
  const image = viewing && imageOf(host, viewing.entry, viewing.index);
  const arrow = (by: number, label: string, text: string) =>
    html`<button class="btn" type="button" aria-label=${label} @click=${() => host._step(by)}>${text}</button>`;
  return html`<dialog class="viewer" aria-labelledby="caption" @close=${() => {
    host._viewing = undefined;
  }} @keydown=${(event: KeyboardEvent) => host._step(event.key === 'ArrowLeft' ? -1 : event.key === 'ArrowRight' ? 1 : 0)}>
    ${
      image
        ? html`<img src=${image.url} alt=${image.alt} />
          <form method="dialog" class="actions">
            <p class="hint" id="caption">${image.alt}</p>
            ${(viewing?.entry.outputs.length ?? 0) > 1 ? [arrow(-1, t.previous, '‹'), arrow(1, t.next, '›')] : nothing}
            <button class="btn" type="button" @click=${() => download(image.url, image.name)}>
              ${downloadIcon} ${t.download}
            </button>
            <button class="btn" value="close">${t.close}</button>
          </form>`
        : nothing
    }
  </dialog>`;
}
