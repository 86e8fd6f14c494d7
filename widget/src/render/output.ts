/**
 * The results pane and the form's stand-in: while the form loads (or could not), the live
 * status, a failed task or a refused request with Retry, the placeholders or the gallery, and
 * the empty state; also the error part they share.
 */
import { html, nothing, type TemplateResult } from 'lit';
import { imageIcon } from '../icons';
import { endingOf } from '../status';
import type WiroFlux from '../wiro-flux.component';
import { renderGallery, renderPlaceholders } from './gallery';
import { renderStatus } from './status';

/** An error part: what went wrong, and a button to try again when there is something to try. */
function alert(body: TemplateResult, label: string, action: (() => void) | undefined): TemplateResult {
  return html`<div class="error" part="error" role="alert">
    ${body}
    ${action ? html`<div class="actions"><button class="btn" type="button" @click=${action}>${label}</button></div>` : nothing}
  </div>`;
}

/** In the form's place until `GET /v1/Tool` answers: loading, or why it failed with Try again. */
export function renderLoading(host: WiroFlux): TemplateResult {
  const { _t: t, _toolError: error } = host;
  return html`<form part="form" class="main loading" aria-busy=${!error}>
    ${error ? alert(html`<p>${error}</p>`, t.reload, host._loadTool) : html`<p>${t.loading}</p>`}
  </form>`;
}

export function renderOutput(host: WiroFlux): TemplateResult {
  const { _t: t, _message: message, stream } = host;
  const { status, task, active } = stream;
  const picked = host.history.shownId;
  // One without images (failed, cancelled) still has its settings to use again.
  const shown = host.history.find(picked ?? (status === 'ended' ? task?.id : undefined));
  const showStatus = status !== 'idle' && status !== 'error' && !(picked && !active);
  const ending = task && status === 'ended' && !picked ? endingOf(task) : undefined;
  // Lit calls a listener with the element as `this`: the host's methods need no wrapping.
  const retry = host._retry;
  return html`${showStatus ? renderStatus(host) : nothing}
  ${
    ending === 'failed'
      ? alert(
          html`<p><strong>${t.failedTitle}</strong></p><pre>${task?.debugerror || t.failedTitle}</pre>`,
          t.retry,
          retry,
        )
      : nothing
  }
  ${message ? alert(html`<p>${message.text}</p>`, t.retry, message.retry ? retry : undefined) : nothing}
  ${active && !picked ? renderPlaceholders(host) : shown ? renderGallery(host, shown) : nothing}
  ${ending === 'done' && task?.outputs.length === 0 ? html`<p class="hint">${t.noOutputs}</p>` : nothing}
  ${!showStatus && !shown && !message ? html`<div class="empty">${imageIcon}<p>${t.empty}</p></div>` : nothing}`;
}
