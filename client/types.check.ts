/**
 * Holds `client.d.ts` (self-contained, so it can ship beside `client.js`) to the code: tsc fails
 * here when the implementation or the Worker's protocol drifts from it. Types only: nothing here
 * is bundled. The LoRA values and input names, which the Worker keeps as data, are held to it by
 * test/e2e/client.test.ts against `GET /v1/Tool`.
 */
import type {
  WiroErrorItem as ProtocolErrorItem,
  TaskStatus as ProtocolStatus,
  WiroTask as ProtocolTask,
} from '../shared/protocol';
import type * as Declared from './client';
import type * as Implemented from './index';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;

export type Checks = [
  Holds<Same<Declared.TaskStatus, ProtocolStatus>>,
  Holds<Same<Declared.WiroErrorItem, ProtocolErrorItem>>,
  // The Worker's task, once its status is known to be one of the statuses, is the client's.
  Holds<Same<Omit<ProtocolTask, 'status'> extends Omit<Declared.WiroTask, 'status'> ? true : false, true>>,
  Holds<Same<typeof Implemented.createClient, typeof Declared.createClient>>,
  Holds<Same<InstanceType<typeof Implemented.WiroError>, Declared.WiroError>>,
];
