/**
 * The live status of the task: the five steps, the headline, the progress bar, Wiro's step
 * count and time left, the elapsed time, and Cancel (queued) or Stop (running). A status Wiro
 * added after our table is shown too: in the stage it came after, its own name as the headline.
 */
import { html, nothing, type TemplateResult } from 'lit';
import { isTerminal } from '../../../shared/protocol';
import { clock, endingOf, percentOf, STAGES, stopKind, unknownLabel } from '../status';
import { format } from '../strings';
import type WiroFlux from '../wiro-flux.component';

export function renderStatus(host: WiroFlux): TemplateResult {
  const { _t: t, stream } = host;
  const { task, status } = stream;
  const ending = task && status === 'ended' ? endingOf(task) : undefined;
  const stage = status === 'starting' || !task ? undefined : stream.stage;
  const current = stage ? STAGES.indexOf(stage) : -1;
  // The last step says how it ended: Done, Failed or Cancelled.
  const stepLabel = (name: (typeof STAGES)[number]) => t[name === 'done' && ending ? ending : name];
  const headline =
    status === 'starting'
      ? t.sending
      : ending === 'failed'
        ? t.failedTitle
        : ending === 'cancelled'
          ? t.cancelled
          : ((task && unknownLabel(task.status)) ?? t[`${stage ?? 'queued'}Head`]);
  const percent = stage && task ? percentOf(task, stage) : 0;
  const progress = task?.progress;
  const details: string[] = [];
  if (progress?.stepCurrent !== undefined && progress.stepTotal && stage === 'running') {
    details.push(format(t.stepOf, { current: progress.stepCurrent, total: progress.stepTotal }));
    if (progress.remainingTime) {
      details.push(format(t.left, { time: progress.remainingTime.replace(/^0(\d:)/, '$1') }));
    }
  } else if (stage === 'running') details.push(t.waiting);
  const seconds = (ending && Number(task?.elapsedseconds)) || (Date.now() - stream.startedAt) / 1000;
  return html`<div class="status" tabindex="-1" aria-labelledby="headline">
    <div part="status" role="status" aria-live="polite">
      <ol class="steps">
        ${STAGES.map(
          (name, index) =>
            html`<li class=${index < current ? 'past' : name === 'done' && ending && ending !== 'done' ? 'bad' : ''}
              aria-current=${index === current ? 'step' : nothing}>${stepLabel(name)}</li>`,
        )}
      </ol>
      <p class="headline" id="headline">${headline}</p>
    </div>
    ${
      // A stopped or failed task did not get to the end: no bar, rather than a full one.
      ending && ending !== 'done'
        ? nothing
        : html`<progress part="progress" max="100" .value=${percent} aria-label=${stage ? stepLabel(stage) : headline}
          aria-valuemin="0" aria-valuemax="100" aria-valuenow=${percent} aria-valuetext=${details[0] ?? `${percent}%`}></progress>`
    }
    <div class="row">
      <div class="meta">
        ${details.map((text) => html`<span>${text}</span>`)}
        <span>${format(t.elapsed, { time: clock(seconds) })}</span>
      </div>
      ${
        status === 'running' && task && !isTerminal(task.status)
          ? html`<button class="btn small" part="cancel" type="button" ?disabled=${host._stopping}
            @click=${host._stop}>${stopKind(task.status) === 'Cancel' ? t.cancel : t.stop}</button>`
          : nothing
      }
    </div>
  </div>`;
}
