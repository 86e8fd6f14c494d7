/** This browser's past generations: a strip of thumbnails (or how each ended), newest first, and Clear. */
import { html, nothing, type TemplateResult } from 'lit';
import { inputOf } from '../form/model';
import { endingOf, stageOf } from '../status';
import type WiroFlux from '../wiro-flux.component';

export function renderHistory(host: WiroFlux): TemplateResult | typeof nothing {
  const { _t: t, history } = host;
  if (history.entries.length === 0) return nothing;
  const currentId = history.shownId ?? host.stream.task?.id;
  return html`<section class="history" part="history" aria-labelledby="history-title">
    <div class="row">
      <div>
        <h2 id="history-title">${t.history}</h2>
        <p class="hint">${t.historyHint}</p>
      </div>
      <button class="btn small" type="button" @click=${() => history.clear()}>${t.clearHistory}</button>
    </div>
    <ul>
      ${history.entries.map((entry) => {
        const first = entry.outputs[0];
        const prompt = String(inputOf(host.form.tool, entry.inputs, 'prompt') ?? '');
        const state = t[endingOf(entry) ?? stageOf(entry.status)];
        // Also the text of a tile without an image, so what is read is what is shown.
        const name = `${state}: ${prompt.slice(0, 80)}`;
        return html`<li>
          <button type="button" aria-current=${entry.taskid === currentId}
            aria-label=${name} title=${prompt} @click=${() => host._show(entry)}>
            ${first ? html`<img src=${first.url} alt="" loading="lazy" />` : html`<span>${name}</span>`}
          </button>
        </li>`;
      })}
    </ul>
  </section>`;
}
