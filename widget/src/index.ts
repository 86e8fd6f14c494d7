/**
 * The widget's entry, built into `widget.js`: importing it defines `<wiro-flux>`.
 *
 * @example
 *   <script type="module" src="https://YOUR-WORKER/widget.js"></script>
 *   <wiro-flux endpoint="https://YOUR-WORKER"></wiro-flux>
 */
export * from './wiro-flux';
export { default } from './wiro-flux';
