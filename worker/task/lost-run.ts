/**
 * Finding a Run whose answer was lost. Wiro may have started the task, but the Worker never
 * learned Wiro's id or token for it. Every Run carries the task object's own signed callback URL,
 * which nobody else knows, so a task on Wiro that carries it is this object's task: found either
 * from the token a callback names (Wiro does not document a callback's body, so the token is
 * only a lead, checked with Wiro) or in Wiro's latest tasks.
 */
import type { WiroTask } from '../../shared/protocol';
import type { WiroClient } from '../wiro/client';

/** How far back Wiro's task list is searched. */
const SEARCH_DEPTH = 50;

export async function findLostRun(
  wiro: WiroClient,
  callbackUrl: string,
  callbackBody?: unknown,
): Promise<WiroTask | undefined> {
  if (callbackBody !== undefined) {
    const token = callbackToken(callbackBody);
    if (!token) return undefined;
    const task = await wiro.detail(token);
    return task.callbackurl === callbackUrl ? task : undefined;
  }
  const latest = await wiro.list({ start: 0, limit: SEARCH_DEPTH });
  return latest.find((task) => task.callbackurl === callbackUrl);
}

/** Wiro's token in a callback's body: top level, or in the task list Detail's shape. */
function callbackToken(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as { socketaccesstoken?: unknown; tasklist?: unknown };
  const first = Array.isArray(record.tasklist) ? (record.tasklist[0] as { socketaccesstoken?: unknown }) : record;
  const token = first?.socketaccesstoken;
  return typeof token === 'string' && /^[\w-]{8,128}$/.test(token) ? token : undefined;
}
