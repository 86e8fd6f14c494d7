/** Defines `<wiro-flux>` (once, even if the script is loaded twice) and types it for TypeScript. */
import WiroFlux from './wiro-flux.component';

export * from './events';
export { type Strings, setStrings } from './strings';
export { WiroFlux };
export default WiroFlux;

if (!customElements.get('wiro-flux')) customElements.define('wiro-flux', WiroFlux);

declare global {
  interface HTMLElementTagNameMap {
    'wiro-flux': WiroFlux;
  }
}
