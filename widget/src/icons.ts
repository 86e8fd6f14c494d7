/** The few line icons the widget draws (24×24, stroked with currentColor; decorative). */
import { html, type SVGTemplateResult, svg } from 'lit';

const icon = (paths: SVGTemplateResult) =>
  html`<svg class="i" viewBox="0 0 24 24" aria-hidden="true" focusable="false">${paths}</svg>`;

export const lockIcon = icon(
  svg`<rect x="5" y="11" width="14" height="10" rx="2" /><path d="M8 11V7a4 4 0 0 1 8 0v4" />`,
);
export const unlockIcon = icon(
  svg`<rect x="5" y="11" width="14" height="10" rx="2" /><path d="M8 11V7a4 4 0 0 1 7.5-2" />`,
);
export const diceIcon = icon(
  svg`<rect x="4" y="4" width="16" height="16" rx="3" /><path d="M9 9h.01M15 15h.01M15 9h.01M9 15h.01M12 12h.01" />`,
);
export const downloadIcon = icon(svg`<path d="M12 4v11m-5-5 5 5 5-5M5 20h14" />`);
export const imageIcon = icon(
  svg`<rect x="3" y="4" width="18" height="16" rx="2" /><circle cx="9" cy="10" r="2" /><path d="m21 16-5-5-9 9" />`,
);
