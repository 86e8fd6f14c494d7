/**
 * What a task owes the guards when it ends: its client's running slot goes back to the client's
 * limiter, and its real cost replaces the reservation the budget made when the Run was admitted.
 * Each is done once (the record remembers), and each may happen at its own time: a task the
 * Worker stopped waiting for frees its slot at once, but its cost is known only when Wiro says.
 */
import type { Bindings } from '../env';
import type { TaskRecord } from './record';

export async function releaseSlot(env: Bindings, record: TaskRecord): Promise<void> {
  await env.LIMITER.get(env.LIMITER.idFromName(record.client.key)).release(record.ticket);
  record.slotReleased = true;
}

/** `cost` in US dollars as Wiro reports it; undefined keeps the reservation as the cost. */
export async function settleCost(env: Bindings, record: TaskRecord, cost: number | undefined): Promise<void> {
  await env.BUDGET.get(env.BUDGET.idFromName('global')).settle(record.ticket, cost);
  record.costSettled = true;
}
