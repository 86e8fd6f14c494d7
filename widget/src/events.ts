/**
 * The widget's events, one type per name. Every one bubbles and is composed (it crosses the
 * shadow root), so a page can listen on the element or anywhere above it:
 *
 * @example
 *   document.addEventListener('wiro-done', (event) => console.log(event.detail.task.outputs));
 */
import type { WiroTask } from '../../shared/protocol';

export interface WiroTaskDetail {
  taskid: string;
  socketaccesstoken: string;
}

export interface WiroStatusDetail {
  status: string;
  task: WiroTask;
}

export interface WiroDoneDetail {
  task: WiroTask;
}

export interface WiroErrorDetail {
  message: string;
}

/** Event name to detail: the single source of the names `emit()` accepts. */
export interface WiroFluxEventDetails {
  /** A Run was accepted: the task exists. */
  'wiro-task': WiroTaskDetail;
  /** The task's status (or its progress) changed. */
  'wiro-status': WiroStatusDetail;
  /** The task ended: finished, failed (`pexit` not "0") or cancelled. */
  'wiro-done': WiroDoneDetail;
  /** Something went wrong: a refused request, a failed task, the service unreachable. */
  'wiro-error': WiroErrorDetail;
}

export type WiroFluxEventName = keyof WiroFluxEventDetails;

export type WiroTaskEvent = CustomEvent<WiroTaskDetail>;
export type WiroStatusEvent = CustomEvent<WiroStatusDetail>;
export type WiroDoneEvent = CustomEvent<WiroDoneDetail>;
export type WiroErrorEvent = CustomEvent<WiroErrorDetail>;

/** Dispatches one of the widget's events from `target`; every event goes out through here. */
export function emit<Name extends WiroFluxEventName>(
  target: EventTarget,
  name: Name,
  detail: WiroFluxEventDetails[Name],
): CustomEvent<WiroFluxEventDetails[Name]> {
  const event = new CustomEvent(name, { detail, bubbles: true, composed: true });
  target.dispatchEvent(event);
  return event;
}

declare global {
  interface GlobalEventHandlersEventMap {
    'wiro-task': WiroTaskEvent;
    'wiro-status': WiroStatusEvent;
    'wiro-done': WiroDoneEvent;
    'wiro-error': WiroErrorEvent;
  }
}
