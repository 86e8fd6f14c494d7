/**
 * The daily budget: one Durable Object counts today's Runs and spend (Wiro's `totalcost`),
 * for all clients and per origin, and refuses a Run once a cap is reached. Reads never pass
 * through here, so they keep working when the budget is spent. Days are UTC.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Bindings } from '../env';

export interface BudgetLimits {
  runs: number;
  spend: number;
  originRuns: number;
  originSpend: number;
}

interface Usage {
  runs: number;
  spend: number;
}

export interface DayUsage extends Usage {
  day: string;
  origins: Record<string, Usage>;
}

export type BudgetAnswer = { ok: true } | { ok: false; message: string };

const today = () => new Date().toISOString().slice(0, 10);

/** Requests without an Origin header (servers, curl) share one per-origin budget. */
export const NO_ORIGIN = '(no origin)';

export class BudgetObject extends DurableObject<Bindings> {
  #usage: DayUsage = { day: today(), runs: 0, spend: 0, origins: {} };

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.#usage = (await ctx.storage.get<DayUsage>('usage')) ?? this.#usage;
    });
  }

  /** Counts one Run against today's caps, or refuses it with the cap that was reached. */
  async reserve(origin: string, limits: BudgetLimits): Promise<BudgetAnswer> {
    const usage = this.#today();
    const mine = this.#originUsage(origin);
    const refusal =
      usage.runs >= limits.runs
        ? `today's Run budget (${limits.runs}) is used up`
        : usage.spend >= limits.spend
          ? `today's spending budget ($${limits.spend}) is used up`
          : mine.runs >= limits.originRuns
            ? `today's Run budget for ${origin} (${limits.originRuns}) is used up`
            : mine.spend >= limits.originSpend
              ? `today's spending budget for ${origin} ($${limits.originSpend}) is used up`
              : undefined;
    if (refusal) return { ok: false, message: `No more images today: ${refusal}. It resets at 00:00 UTC` };
    usage.runs++;
    mine.runs++;
    await this.#save();
    return { ok: true };
  }

  /** Wiro refused the Run (it cost nothing): give it back. */
  async refund(origin: string): Promise<void> {
    const usage = this.#today();
    const mine = usage.origins[origin];
    usage.runs = Math.max(0, usage.runs - 1);
    if (mine) mine.runs = Math.max(0, mine.runs - 1);
    await this.#save();
  }

  /** A task ended with this `totalcost` (US dollars, as Wiro reports it). */
  async spend(origin: string, cost: number): Promise<void> {
    if (!Number.isFinite(cost) || cost <= 0) return;
    const usage = this.#today();
    usage.spend += cost;
    this.#originUsage(origin).spend += cost;
    await this.#save();
  }

  usage(): DayUsage {
    return this.#today();
  }

  #originUsage(origin: string): Usage {
    const origins = this.#today().origins;
    origins[origin] ??= { runs: 0, spend: 0 };
    return origins[origin];
  }

  #today(): DayUsage {
    const day = today();
    if (this.#usage.day !== day) this.#usage = { day, runs: 0, spend: 0, origins: {} };
    return this.#usage;
  }

  async #save(): Promise<void> {
    await this.ctx.storage.put('usage', this.#usage);
  }
}
