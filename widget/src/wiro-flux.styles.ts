/**
 * The widget's look. Public custom properties (`--wiro-flux-*`) feed private ones (`--_*`), so
 * a page's value always wins over the light or dark default. No inline styles anywhere: the
 * widget works under a strict Content-Security-Policy.
 *
 * Why some rules are there (as JS comments: the build keeps CSS comments in the bundle): on
 * touch screens the "Enter to generate" hint goes (no Enter key to tell of); in a container
 * under 480px the step names go (too narrow for five words: the bars stay, the headline says
 * where it is) and results sit two per row (`min(40%, 200px)`, rather than one very tall column);
 * a history tile is a flex box so that a tile without an image shows its text from the top (a
 * button centres its content, and the overflow would cut off the status).
 */
import { css } from 'lit';

/** The dark palette: for `theme="dark"`, and for visitors who prefer dark unless `theme="light"`. */
const dark = css`
    --_accent: var(--wiro-flux-accent, #8b7dff);
    --_accent-fg: var(--wiro-flux-accent-fg, #0d0c1d);
    --_bg: var(--wiro-flux-bg, #16161c);
    --_fg: var(--wiro-flux-fg, #ececf1);
    --_muted: var(--wiro-flux-muted, #a0a0ae);
    --_border: var(--wiro-flux-border, #2e2e38);
    --_surface: var(--wiro-flux-surface, #1e1e26);
    --_danger: var(--wiro-flux-danger, #ff7b72);
    --_ok: var(--wiro-flux-success, #4ccf86);
    --_shadow: 0 1px 2px rgb(0 0 0 / 30%), 0 8px 24px rgb(0 0 0 / 25%);
    color-scheme: dark;
`;

export default css`
  :host {
    --_accent: var(--wiro-flux-accent, #5b4cf0);
    --_accent-fg: var(--wiro-flux-accent-fg, #fff);
    --_bg: var(--wiro-flux-bg, #fff);
    --_fg: var(--wiro-flux-fg, #17171c);
    --_muted: var(--wiro-flux-muted, #62626e);
    --_border: var(--wiro-flux-border, #e3e3ea);
    --_surface: var(--wiro-flux-surface, #f6f6f9);
    --_danger: var(--wiro-flux-danger, #c62a2a);
    --_ok: var(--wiro-flux-success, #17804a);
    --_radius: var(--wiro-flux-radius, 14px);
    --_r: calc(var(--_radius) * 0.6);
    --_shadow: 0 1px 2px rgb(20 20 40 / 6%), 0 8px 24px rgb(20 20 40 / 6%);
    --_focus: 0 0 0 3px color-mix(in srgb, var(--_accent) 35%, transparent);
    display: block;
    color: var(--_fg);
    font: 15px/1.45 var(--wiro-flux-font, system-ui, sans-serif);
    color-scheme: light;
  }
  :host([theme='dark']) {
    ${dark}
  }
  @media (prefers-color-scheme: dark) {
    :host(:not([theme='light'])) {
      ${dark}
    }
  }
  :host([hidden]) {
    display: none;
  }
  *,
  *::before,
  *::after {
    box-sizing: border-box;
  }
  .base {
    container-type: inline-size;
    background: var(--_bg);
    border: 1px solid var(--_border);
    border-radius: var(--_radius);
    box-shadow: var(--_shadow);
    overflow: hidden;
  }
  .layout {
    display: grid;
  }
  .main,
  .output {
    padding: 20px;
    min-width: 0;
  }
  .output {
    display: flex;
    flex-direction: column;
    gap: 16px;
    background: var(--_surface);
    border-top: 1px solid var(--_border);
  }
  @container (min-width: 760px) {
    .layout {
      grid-template-columns: minmax(320px, 5fr) 7fr;
    }
    .output {
      border-top: 0;
      border-left: 1px solid var(--_border);
    }
    .main,
    .output {
      padding: 24px;
    }
  }
  @container (max-width: 360px) {
    .main,
    .output {
      padding: 14px;
    }
  }
  @container (max-width: 759px) {
    .empty {
      min-height: 140px;
    }
  }
  .notice {
    margin: 0;
    padding: 8px 20px;
    font-size: 13px;
    color: var(--_muted);
    background: color-mix(in srgb, var(--_accent) 9%, var(--_bg));
    border-bottom: 1px solid var(--_border);
  }
  .main {
    display: flex;
    flex-direction: column;
    gap: 18px;
  }
  .field {
    display: flex;
    flex-direction: column;
    gap: 6px;
    min-width: 0;
    border: 0;
    margin: 0;
    padding: 0;
  }
  label,
  legend,
  summary,
  .label {
    font-size: 13px;
    font-weight: 600;
    padding: 0;
  }
  .row > span:last-child {
    white-space: nowrap;
  }
  .row {
    display: flex;
    align-items: center;
    justify-content: space-between;
    gap: 8px;
  }
  .hint,
  .help,
  .lora-info,
  .invalid-msg,
  .over {
    font-size: 12.5px;
    color: var(--_muted);
    margin: 0;
  }
  .invalid-msg,
  .over {
    color: var(--_danger);
  }
  @media (hover: none) and (pointer: coarse) {
    .keys {
      display: none;
    }
    .row.hint {
      justify-content: flex-end;
    }
  }
  input,
  select,
  textarea,
  button {
    font: inherit;
    color: inherit;
  }
  textarea,
  select,
  input:not([type='range'], [type='radio']) {
    width: 100%;
    min-width: 0;
    background: var(--_bg);
    border: 1px solid var(--_border);
    border-radius: var(--_r);
    padding: 9px 11px;
    outline: none;
    transition:
      border-color 0.15s,
      box-shadow 0.15s;
  }
  textarea {
    resize: vertical;
    min-height: 96px;
    line-height: 1.5;
  }
  select {
    appearance: none;
    padding-right: 32px;
    background-image: linear-gradient(45deg, transparent 50%, var(--_muted) 50%),
      linear-gradient(135deg, var(--_muted) 50%, transparent 50%);
    background-position:
      calc(100% - 17px) 55%,
      calc(100% - 12px) 55%;
    background-size: 5px 5px;
    background-repeat: no-repeat;
    text-overflow: ellipsis;
  }
  textarea:focus,
  select:focus,
  input:focus-visible {
    border-color: var(--_accent);
    box-shadow: var(--_focus);
  }
  [aria-invalid='true'] {
    border-color: var(--_danger) !important;
  }
  button:focus-visible,
  summary:focus-visible,
  a:focus-visible,
  [tabindex='-1']:focus-visible {
    outline: 2px solid var(--_accent);
    outline-offset: 2px;
  }
  [tabindex='-1']:focus:not(:focus-visible) {
    outline: none;
  }
  .chips {
    display: flex;
    flex-wrap: wrap;
    gap: 6px;
    margin: 0;
    padding: 0;
    list-style: none;
  }
  .chip {
    display: inline-flex;
    align-items: center;
    gap: 2px;
    padding: 2px 4px 2px 10px;
    font-size: 12.5px;
    font-weight: 500;
    color: var(--_accent);
    background: color-mix(in srgb, var(--_accent) 12%, var(--_bg));
    border-radius: 999px;
  }
  .chip button {
    border: 0;
    background: none;
    padding: 0 6px;
    cursor: pointer;
    border-radius: 999px;
    line-height: 1.4;
    font-size: 15px;
  }
  .lora-info code {
    font: 600 12px ui-monospace, Menlo, monospace;
    color: var(--_fg);
    background: var(--_surface);
    border: 1px solid var(--_border);
    border-radius: 6px;
    padding: 0 5px;
  }
  .grid {
    display: grid;
    grid-template-columns: repeat(auto-fit, minmax(150px, 1fr));
    gap: 18px 16px;
  }
  output {
    font-size: 13px;
    font-variant-numeric: tabular-nums;
    color: var(--_muted);
  }
  input[type='range'] {
    width: 100%;
    margin: 4px 0;
    accent-color: var(--_accent);
  }
  .segmented {
    display: grid;
    grid-template-columns: repeat(auto-fit, minmax(62px, 1fr));
    gap: 6px;
  }
  .segmented label {
    position: relative;
  }
  .nums {
    grid-template-columns: repeat(auto-fit, minmax(44px, 1fr));
  }
  .wide {
    grid-column: 1 / -1;
  }
  .segmented input {
    position: absolute;
    opacity: 0;
    inset: 0;
    margin: 0;
  }
  .segmented span {
    display: flex;
    align-items: center;
    justify-content: center;
    gap: 6px;
    min-height: 36px;
    padding: 6px 10px;
    font-weight: 500;
    border: 1px solid var(--_border);
    border-radius: var(--_r);
    background: var(--_bg);
    cursor: pointer;
    font-variant-numeric: tabular-nums;
  }
  .segmented input:checked + span,
  .icon-btn[aria-pressed='true'] {
    border-color: var(--_accent);
    background: color-mix(in srgb, var(--_accent) 10%, var(--_bg));
    color: var(--_accent);
  }
  .segmented input:focus-visible + span {
    box-shadow: var(--_focus);
  }
  .segmented svg {
    flex: none;
    width: 16px;
    height: 16px;
  }
  .segmented rect {
    fill: none;
    stroke: currentColor;
  }
  .pair {
    display: grid;
    grid-template-columns: 1fr 1fr;
    gap: 10px;
  }
  .seed {
    display: flex;
    gap: 6px;
  }
  .icon-btn {
    flex: none;
    display: inline-grid;
    place-items: center;
    width: 40px;
    height: 40px;
    border: 1px solid var(--_border);
    border-radius: var(--_r);
    background: var(--_bg);
    cursor: pointer;
  }
  svg.i {
    width: 18px;
    height: 18px;
    fill: none;
    stroke: currentColor;
    stroke-width: 2;
    stroke-linecap: round;
    stroke-linejoin: round;
  }
  details {
    border-top: 1px solid var(--_border);
    padding-top: 14px;
  }
  summary {
    cursor: pointer;
    color: var(--_muted);
  }
  details[open] summary {
    margin-bottom: 12px;
  }
  .btn {
    display: inline-flex;
    align-items: center;
    justify-content: center;
    gap: 6px;
    min-height: 36px;
    padding: 7px 14px;
    font-size: 14px;
    font-weight: 600;
    border-radius: var(--_r);
    border: 1px solid var(--_border);
    background: var(--_bg);
    cursor: pointer;
    text-decoration: none;
    white-space: nowrap;
  }
  .btn:hover,
  .icon-btn:hover {
    border-color: color-mix(in srgb, var(--_fg) 25%, var(--_border));
  }
  .btn.small {
    min-height: 30px;
    padding: 4px 10px;
    font-size: 13px;
  }
  .primary {
    width: 100%;
    min-height: 46px;
    font-size: 15px;
    color: var(--_accent-fg);
    background: var(--_accent);
    border-color: transparent;
  }
  .primary:hover {
    border-color: transparent;
    background: color-mix(in srgb, var(--_accent) 88%, var(--_fg));
  }
  .primary:disabled {
    cursor: progress;
    opacity: 0.65;
  }
  .status {
    display: flex;
    flex-direction: column;
    gap: 12px;
    padding: 16px;
    background: var(--_bg);
    border: 1px solid var(--_border);
    border-radius: var(--_r);
  }
  .steps {
    display: flex;
    gap: 4px;
    margin: 0;
    padding: 0;
    list-style: none;
    font-size: 12px;
    color: var(--_muted);
  }
  .steps li {
    flex: 1;
    min-width: 0;
    padding-top: 8px;
    border-top: 3px solid var(--_border);
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .steps .past {
    border-color: color-mix(in srgb, var(--_accent) 55%, var(--_bg));
  }
  .steps [aria-current] {
    border-color: var(--_accent);
    color: var(--_fg);
    font-weight: 600;
  }
  .steps .bad {
    border-color: var(--_danger);
    color: var(--_danger);
  }
  @container (max-width: 480px) {
    .steps li {
      font-size: 0;
      padding-top: 0;
    }
  }
  .headline {
    margin: 0;
    font-weight: 600;
    font-size: 16px;
  }
  .meta {
    display: flex;
    flex-wrap: wrap;
    gap: 4px 14px;
    font-size: 13px;
    color: var(--_muted);
    font-variant-numeric: tabular-nums;
  }
  progress {
    appearance: none;
    display: block;
    width: 100%;
    height: 6px;
    border: 0;
    border-radius: 999px;
    overflow: hidden;
    background: var(--_border);
  }
  progress::-webkit-progress-bar {
    background: var(--_border);
  }
  progress::-webkit-progress-value {
    background: var(--_accent);
    border-radius: 999px;
    transition: width 0.4s ease;
  }
  progress::-moz-progress-bar {
    background: var(--_accent);
    border-radius: 999px;
  }
  .error {
    display: flex;
    flex-direction: column;
    gap: 10px;
    padding: 14px 16px;
    border-radius: var(--_r);
    color: var(--_fg);
    background: color-mix(in srgb, var(--_danger) 8%, var(--_bg));
    border: 1px solid color-mix(in srgb, var(--_danger) 35%, var(--_bg));
  }
  .error p {
    margin: 0;
  }
  .error strong {
    color: var(--_danger);
  }
  .error pre {
    margin: 0;
    white-space: pre-wrap;
    word-break: break-word;
    font: 12.5px/1.5 ui-monospace, Menlo, monospace;
    color: var(--_muted);
  }
  .actions {
    display: flex;
    flex-wrap: wrap;
    align-items: center;
    gap: 8px;
  }
  .gallery {
    display: flex;
    flex-direction: column;
    gap: 12px;
  }
  .tiles {
    display: grid;
    gap: 10px;
    grid-template-columns: repeat(auto-fill, minmax(min(40%, 200px), 1fr));
  }
  .tiles.one {
    grid-template-columns: 1fr;
  }
  .tile {
    position: relative;
    margin: 0;
    border-radius: var(--_r);
    overflow: hidden;
    background: var(--_border);
  }
  .tile .open {
    display: block;
    width: 100%;
    padding: 0;
    border: 0;
    background: none;
    cursor: zoom-in;
  }
  .tile img,
  .tile .placeholder,
  .viewer img {
    display: block;
    width: 100%;
    height: auto;
  }
  .tile .dl {
    position: absolute;
    right: 8px;
    bottom: 8px;
    width: 36px;
    padding: 0;
    color: #17171c;
    background: rgb(255 255 255 / 92%);
    border: 0;
    box-shadow: 0 1px 4px rgb(0 0 0 / 20%);
  }
  .placeholder rect {
    fill: transparent;
  }
  .placeholder {
    background: linear-gradient(100deg, var(--_border) 40%, var(--_surface) 50%, var(--_border) 60%) 0 0 / 300% 100%;
    animation: shimmer 1.8s linear infinite;
  }
  @keyframes shimmer {
    to {
      background-position: -150% 0;
    }
  }
  @media (prefers-reduced-motion: reduce) {
    .placeholder {
      animation: none;
    }
    progress::-webkit-progress-value {
      transition: none;
    }
  }
  .toolbar {
    display: flex;
    flex-wrap: wrap;
    align-items: center;
    gap: 8px;
    font-size: 13px;
    color: var(--_muted);
  }
  .toolbar .seedv {
    margin-right: auto;
    font-variant-numeric: tabular-nums;
  }
  .empty {
    flex: 1;
    display: grid;
    place-items: center;
    align-content: center;
    gap: 10px;
    min-height: 220px;
    padding: 24px;
    text-align: center;
    color: var(--_muted);
    border: 1.5px dashed var(--_border);
    border-radius: var(--_r);
  }
  .empty svg {
    width: 36px;
    height: 36px;
    stroke-width: 1.5;
  }
  .empty p {
    margin: 0;
  }
  .history {
    padding: 16px 20px 20px;
    border-top: 1px solid var(--_border);
  }
  .history h2 {
    margin: 0;
    font-size: 14px;
  }
  .history ul {
    display: flex;
    gap: 10px;
    margin: 12px 0 0;
    padding: 0 0 4px;
    list-style: none;
    overflow-x: auto;
  }
  .history li button {
    display: flex;
    width: 84px;
    height: 84px;
    padding: 0;
    overflow: hidden;
    border: 1px solid var(--_border);
    border-radius: var(--_r);
    background: var(--_surface);
    cursor: pointer;
    font-size: 11px;
    color: var(--_muted);
  }
  .history [aria-current='true'] {
    border-color: var(--_accent);
    box-shadow: var(--_focus);
  }
  .history span {
    margin: 6px;
    text-align: left;
  }
  .try {
    padding: 0;
    border: 0;
    background: none;
    text-align: left;
    text-decoration: underline;
    cursor: pointer;
  }
  .history img {
    width: 100%;
    height: 100%;
    object-fit: cover;
  }
  .viewer {
    max-width: min(92vw, 1100px);
    max-height: 92vh;
    padding: 0;
    border: 0;
    border-radius: var(--_radius);
    background: var(--_bg);
    color: var(--_fg);
    overflow: auto;
  }
  .viewer::backdrop {
    background: rgb(10 10 20 / 72%);
  }
  .viewer img {
    max-height: calc(92vh - 64px);
    object-fit: contain;
    background: var(--_surface);
  }
  .viewer .actions {
    padding: 12px;
    justify-content: flex-end;
  }
  .viewer .hint {
    margin-right: auto;
  }
  .sr-only {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip-path: inset(50%);
    white-space: nowrap;
  }
  .loading {
    padding: 40px 20px;
    text-align: center;
    color: var(--_muted);
  }
`;
