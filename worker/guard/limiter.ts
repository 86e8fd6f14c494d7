/**
 * One Durable Object per client (one visitor: an IP, or an IPv6 /64): an exact sliding-window
 * count of the Runs it sent to Wiro in the last minute, and the set of its tasks still running.
 * Every Run sent counts against the rate, refused by Wiro or not; a refusal only gives back the
 * running slot. A Durable Object rather than the Workers Rate Limiting binding because that
 * binding is per location and eventually consistent, and a wallet needs an exact count. An idle
 * object deletes its storage, so clients that came once cost nothing later.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Bindings, Limits } from '../env';

const WINDOW_MS = 60_000;

interface LimiterState {
  /** When each Run in the window was let through. */
  recent: number[];
  /** Tasks still running: when each was let through, and when it stops counting even if never released. */
  running: Record<string, { at: number; until: number }>;
}

export type Admission = { ok: true } | { ok: false; reason: 'rate' | 'running'; retryAfter: number; message: string };

export class LimiterObject extends DurableObject<Bindings> {
  #state: LimiterState = { recent: [], running: {} };

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.#state = (await ctx.storage.get<LimiterState>('state')) ?? this.#state;
    });
  }

  /** Lets one Run through, or says why not and when to come back. */
  async admit(ticket: string, limits: Limits): Promise<Admission> {
    const now = Date.now();
    const state = this.#prune(now);
    if (state.recent.length >= limits.perMinute) {
      const retryAfter = Math.max(1, Math.ceil(((state.recent[0] ?? now) + WINDOW_MS - now) / 1000));
      return {
        ok: false,
        reason: 'rate',
        retryAfter,
        message: `Too many Runs: ${limits.perMinute} a minute per client. Try again in ${retryAfter} s`,
      };
    }
    if (Object.keys(state.running).length >= limits.running) {
      return {
        ok: false,
        reason: 'running',
        retryAfter: 5,
        message: `${limits.running} of your tasks are still running: wait for one to end (or cancel it)`,
      };
    }
    state.recent.push(now);
    state.running[ticket] = { at: now, until: now + limits.taskDeadlineMs };
    await this.#save();
    return { ok: true };
  }

  /** A task ended, or Wiro refused its Run: it no longer counts as running. The Run still counts. */
  async release(ticket: string): Promise<void> {
    if (!(ticket in this.#state.running)) return;
    delete this.#state.running[ticket];
    await this.#save();
  }

  /** The Run was never sent (another check refused it): it counts for nothing. */
  async undo(ticket: string): Promise<void> {
    const admitted = this.#state.running[ticket];
    if (!admitted) return;
    delete this.#state.running[ticket];
    const index = this.#state.recent.indexOf(admitted.at);
    if (index >= 0) this.#state.recent.splice(index, 1);
    await this.#save();
  }

  /** Wakes when the window has moved on: forgets what expired, and everything once idle. */
  override async alarm(): Promise<void> {
    this.#prune(Date.now());
    await this.#save();
  }

  #prune(now: number): LimiterState {
    const state = this.#state;
    state.recent = state.recent.filter((at) => at > now - WINDOW_MS);
    for (const [ticket, { until }] of Object.entries(state.running)) if (until <= now) delete state.running[ticket];
    return state;
  }

  /** Persists the state and wakes up when it next expires; an empty state leaves no storage. */
  async #save(): Promise<void> {
    const { recent, running } = this.#state;
    const expiries = [...recent.map((at) => at + WINDOW_MS), ...Object.values(running).map(({ until }) => until)];
    if (expiries.length === 0) {
      await this.ctx.storage.deleteAll();
      return;
    }
    await this.ctx.storage.put('state', this.#state);
    await this.ctx.storage.setAlarm(Math.max(...expiries));
  }
}
