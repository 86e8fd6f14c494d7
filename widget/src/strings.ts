/**
 * Every word the widget shows, in English. A page can translate or reword them for all widgets
 * with `setStrings()`, or for one widget with its `strings` property; anything left out keeps
 * its English default.
 *
 * @example
 *   import { setStrings } from 'https://YOUR-WORKER/widget.js';
 *   setStrings({ generate: 'Générer', cancel: 'Annuler' });
 */

export const defaultStrings = {
  generate: 'Generate',
  generating: 'Generating…',
  sending: 'Sending…',
  loading: 'Loading the model’s settings…',
  loadFailed: 'Could not load the model’s settings.',
  originRefused: 'This page ({origin}) may not use this Worker: add it to ALLOWED_ORIGINS.',
  reload: 'Try again',
  demoMode: 'Demo mode: images come from the bundled Wiro emulator',
  promptHint: 'Enter to generate, Shift+Enter for a new line',
  // The example under the prompt, after the chosen style's trigger words: "Try: wp4p, a lion at dusk".
  tryExample: 'Try:',
  example: 'a lion at dusk',
  triggerWords: 'Trigger words',
  removeChip: 'Remove',
  strength: 'Style strength',
  size: 'Size',
  custom: 'Custom',
  settings: 'Settings',
  advanced: 'Advanced',
  lockSeed: 'Keep this seed',
  randomSeed: 'New random seed',
  // The stepper, in plain words.
  queued: 'Queued',
  starting: 'Starting',
  running: 'Generating',
  finishing: 'Finishing',
  done: 'Done',
  failed: 'Failed',
  // The headline under the stepper, a little more talkative.
  queuedHead: 'Waiting in line…',
  startingHead: 'Getting the model ready…',
  runningHead: 'Drawing your image…',
  finishingHead: 'Almost there…',
  doneHead: 'Ready',
  cancelled: 'Cancelled',
  waiting: 'Waiting for the first image…',
  stepOf: 'Step {current} of {total}',
  left: '{time} left',
  elapsed: '{time} elapsed',
  cancel: 'Cancel',
  stop: 'Stop',
  retry: 'Retry',
  failedTitle: 'The image could not be made',
  noOutputs: 'The task ended without an image.',
  results: 'Results',
  empty: 'Your images will appear here.',
  open: 'Open full size',
  download: 'Download',
  close: 'Close',
  previous: 'Previous image',
  next: 'Next image',
  copySeed: 'Copy seed',
  copied: 'Seed copied',
  reuse: 'Use these settings again',
  seed: 'Seed',
  history: 'History',
  historyHint: 'Kept in this browser only.',
  clearHistory: 'Clear',
  image: 'Image {n} of {count}',
  fixFields: 'Please fix the highlighted fields.',
  networkError: 'Could not reach the image service. Check your connection and try again.',
  // The bot check (Cloudflare Turnstile), when the Worker asks for one.
  botCheck: 'Complete the check above to generate',
  botCheckFailed: 'The bot check could not load. Reload the page to try again.',
  retryAfter: 'Try again in {seconds} seconds.',
  required: '{label} is required.',
  tooLong: '{label} must be at most {max} characters.',
  notNumber: '{label} must be a number.',
  wholeNumber: '{label} must be a whole number.',
  range: '{label} must be between {min} and {max}.',
  multipleOf: '{label} must be a multiple of {step}.',
  httpsUrl: '{label} must be an https:// link.',
};

export type Strings = typeof defaultStrings;

let shared: Strings = { ...defaultStrings };

/** Overrides strings for every widget on the page (ones already shown update on their next render). */
export function setStrings(overrides: Partial<Strings>): void {
  shared = { ...shared, ...overrides };
}

/** The strings in effect: the page's overrides, then one widget's own. */
export function resolveStrings(own: Partial<Strings> | undefined): Strings {
  return own ? { ...shared, ...own } : shared;
}

/** Fills `{name}` placeholders: `format('Step {current}', { current: 3 })`. */
export function format(text: string, values: Record<string, string | number>): string {
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}
