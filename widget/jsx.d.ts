/**
 * `<wiro-flux>` for TypeScript in React 19, Vue 3 and Svelte: its attributes and its events
 * typed, in each framework's own declaration point. Add this file to a project's `include` (or
 * reference it) and `<wiro-flux lora="1328" onwiro-done={…}>` type-checks.
 *
 * It must type-check in projects that have none (or only one) of the three frameworks, so each
 * module augmentation carries a `@ts-ignore`: augmenting a module that is not installed is an
 * error, and the ignore turns it into a no-op there; where the module is installed the
 * declarations merge as usual. Svelte's `svelteHTML` is a global namespace and needs no guard.
 */
import type { LoraValue, WiroTask } from '../client/client';

/** The element's attributes, as markup writes them. */
export interface WiroFluxAttributes {
  /** The Worker's origin; defaults to the origin that served widget.js. */
  endpoint?: string;
  /** The initial prompt. */
  prompt?: string;
  /** The initial LoRA style. */
  lora?: LoraValue;
  /** `light` or `dark`; left out (or `auto`), it follows `prefers-color-scheme`. */
  theme?: 'light' | 'dark' | 'auto';
  /** Where the widget keeps its history in localStorage (one key per widget on a page). */
  'history-key'?: string;
  /** Cloudflare Turnstile's site key, when the Worker asks for a token on Runs. */
  'turnstile-sitekey'?: string;
}

/** Event name to detail; every event bubbles and is composed. */
export interface WiroFluxEvents {
  /** A Run was accepted: the task exists. */
  'wiro-task': CustomEvent<{ taskid: string; socketaccesstoken: string }>;
  /** The task's status (or its progress) changed. */
  'wiro-status': CustomEvent<{ status: string; task: WiroTask }>;
  /** The task ended: finished, failed (`pexit` not "0") or cancelled. */
  'wiro-done': CustomEvent<{ task: WiroTask }>;
  /** A refused request, a failed task, the service unreachable. */
  'wiro-error': CustomEvent<{ message: string }>;
}

/** React 19 and Svelte 5 listen to a custom element's event `name` through the prop `on` + `name`. */
export type WiroFluxEventProps = {
  [Name in keyof WiroFluxEvents as `on${Name}`]?: (event: WiroFluxEvents[Name]) => void;
};

/** Svelte 4's `on:name` directives. */
export type WiroFluxSvelte4Events = {
  [Name in keyof WiroFluxEvents as `on:${Name}`]?: (event: WiroFluxEvents[Name]) => void;
};

/** Vue's `@wiro-done` is the prop `onWiroDone`. */
export interface WiroFluxVueEvents {
  onWiroTask?: (event: WiroFluxEvents['wiro-task']) => void;
  onWiroStatus?: (event: WiroFluxEvents['wiro-status']) => void;
  onWiroDone?: (event: WiroFluxEvents['wiro-done']) => void;
  onWiroError?: (event: WiroFluxEvents['wiro-error']) => void;
}

// @ts-ignore: a no-op where React's types are not installed (see the top of the file)
declare module 'react' {
  namespace JSX {
    interface IntrinsicElements {
      'wiro-flux': WiroFluxAttributes &
        WiroFluxEventProps &
        // @ts-ignore: React's own names, missing without React (see the top of the file)
        DetailedHTMLProps<HTMLAttributes<HTMLElement>, HTMLElement>;
    }
  }
}

// @ts-ignore: a no-op where Vue is not installed (see the top of the file)
declare module 'vue' {
  interface GlobalComponents {
    'wiro-flux': new () => { $props: WiroFluxAttributes & WiroFluxVueEvents };
  }
}

declare global {
  namespace svelteHTML {
    interface IntrinsicElements {
      // Any other attribute (`class`, `id`, `style`…) as on every element.
      'wiro-flux': WiroFluxAttributes & WiroFluxEventProps & WiroFluxSvelte4Events & { [attribute: string]: unknown };
    }
  }
}
