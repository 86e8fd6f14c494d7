/**
 * Holds `jsx.d.ts` to its promise in this repo, which has none of React, Vue or Svelte: tsc
 * checks this file (the declarations themselves are skipped by skipLibCheck). Svelte's global
 * namespace is the one reachable without a framework; the React, Vue and Svelte projects it was
 * written for were checked by hand with each framework's types (see the file's top comment).
 */
import type { WiroFluxEventProps } from './jsx';

type SvelteProps = svelteHTML.IntrinsicElements['wiro-flux'];

export const props = {
  endpoint: 'https://worker.example',
  lora: '1328',
  theme: 'dark',
  'history-key': 'wiro-flux:demo',
  'onwiro-done': (event) => event.detail.task.outputs,
  'on:wiro-status': (event) => event.detail.status,
} satisfies SvelteProps;

export const events: WiroFluxEventProps = {
  'onwiro-error': (event) => event.detail.message,
  // @ts-expect-error: wiro-task's detail has the ids, not the task
  'onwiro-task': (event) => event.detail.task,
};

// @ts-expect-error: not one of the LoRA values
export const badLora: SvelteProps = { lora: '999' };
