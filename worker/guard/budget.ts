/**
 * The daily budget: one Durable Object counts today's Runs and spend, for all clients and per
 * origin, and refuses a Run once a cap is reached. Reads never pass through here, so they keep
 * working when the budget is spent. Days are UTC.
 *
 * Spend is reserved up front: a Run is admitted only while spend plus open reservations is under
 * the cap, and reserves an estimate of its cost; when the task ends the reservation is settled
 * with Wiro's real `totalcost`. So however many Runs arrive at once, spend passes the cap by at
 * most one Run's cost. The estimate must never be below what Wiro charges, so it is the owner's
 * figure (`RUN_COST_ESTIMATE`), or the default until tasks have ended, and after that the most
 * any recent task cost per unit of work, with a margin.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Bindings, BudgetLimits } from '../env';

/** What a Run's cost grows with. */
export interface RunShape {
  steps: number;
  samples: number;
  width: number;
  height: number;
}

interface Usage {
  runs: number;
  spend: number;
}

export interface DayUsage extends Usage {
  day: string;
  origins: Record<string, Usage>;
}

interface Reservation {
  origin: string;
  amount: number;
  units: number;
  at: number;
}

interface BudgetState {
  usage: DayUsage;
  /** Runs sent to Wiro whose cost is not known yet, by id. */
  reservations: Record<string, Reservation>;
  /** US dollars per unit of work of the last tasks that cost anything, newest last. */
  perUnit: number[];
}

export type BudgetAnswer = { ok: true; estimate: number } | { ok: false; message: string };

/** A default Run's cost before any task has ended: well above what Wiro charges for one. */
export const DEFAULT_RUN_COST_ESTIMATE = 0.05;
/** Learned costs are raised by this much: the next task may run a little longer. */
const MARGIN = 1.25;
const LEARN_FROM = 20;
/** Origins with a budget line of their own each day; later ones share one line. */
const MAX_ORIGINS = 50;
/** A reservation never settled (its task object lost) counts as spent after this. */
const RESERVATION_TTL_MS = 26 * 60 * 60 * 1000;

/** Requests without an Origin header (servers, curl) share one per-origin budget. */
export const NO_ORIGIN = '(no origin)';
export const OTHER_ORIGINS = '(other origins)';

const today = () => new Date().toISOString().slice(0, 10);

/** How many default Runs of work a Run is; never less than one (every task has fixed costs). */
export function workUnits(shape: RunShape): number {
  return Math.max(1, (shape.steps / 20) * shape.samples * ((shape.width * shape.height) / (1024 * 1024)));
}

export class BudgetObject extends DurableObject<Bindings> {
  #state: BudgetState = { usage: { day: today(), runs: 0, spend: 0, origins: {} }, reservations: {}, perUnit: [] };

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const saved = await ctx.storage.get<BudgetState | DayUsage>('usage');
      // Before reservations, the object kept only the day's usage.
      if (saved && 'usage' in saved) this.#state = saved;
      else if (saved) this.#state.usage = saved;
    });
  }

  /** Counts one Run and reserves its estimated cost, or refuses it with the cap that was reached. */
  async reserve(id: string, origin: string, shape: RunShape, limits: BudgetLimits): Promise<BudgetAnswer> {
    const usage = this.#today();
    const line = this.#originLine(origin);
    const mine = usage.origins[line] ?? { runs: 0, spend: 0 };
    const reserved = this.#reserved();
    const originReserved = this.#reserved(line);
    const refusal =
      usage.runs >= limits.runs
        ? `today's Run budget (${limits.runs}) is used up`
        : usage.spend + reserved >= limits.spend
          ? `today's spending budget ($${limits.spend}) is used up`
          : mine.runs >= limits.originRuns
            ? `today's Run budget for ${line} (${limits.originRuns}) is used up`
            : mine.spend + originReserved >= limits.originSpend
              ? `today's spending budget for ${line} ($${limits.originSpend}) is used up`
              : undefined;
    if (refusal) return { ok: false, message: `No more images today: ${refusal}. It resets at 00:00 UTC` };
    const units = workUnits(shape);
    const estimate = this.estimate(limits.costEstimate) * units;
    usage.runs++;
    usage.origins[line] = { runs: mine.runs + 1, spend: mine.spend };
    this.#state.reservations[id] = { origin: line, amount: estimate, units, at: Date.now() };
    await this.#save();
    return { ok: true, estimate };
  }

  /** The Run was never sent (another check refused it): it counts for nothing. */
  async undo(id: string): Promise<void> {
    const reservation = this.#state.reservations[id];
    if (!reservation) return;
    delete this.#state.reservations[id];
    const usage = this.#today();
    const mine = usage.origins[reservation.origin];
    usage.runs = Math.max(0, usage.runs - 1);
    if (mine) mine.runs = Math.max(0, mine.runs - 1);
    await this.#save();
  }

  /**
   * The Run's task is over on Wiro (a refused Run costs 0): its real cost replaces the
   * reservation. An unknown cost books the reservation itself, never less. The estimate `learn`s
   * only from tasks that ran to their normal end: a killed, cancelled or timed-out task cost
   * less than a whole Run, and learning from it would let more Runs under the cap.
   */
  async settle(id: string, cost: number | undefined, learn = false): Promise<void> {
    const reservation = this.#state.reservations[id];
    if (!reservation) return;
    delete this.#state.reservations[id];
    this.#today();
    const known = cost !== undefined && Number.isFinite(cost) && cost >= 0;
    this.#book(reservation.origin, known ? cost : reservation.amount);
    if (learn && known && cost > 0) {
      this.#state.perUnit = [...this.#state.perUnit, cost / reservation.units].slice(-LEARN_FROM);
    }
    await this.#save();
  }

  /** US dollars reserved for one default Run now. */
  estimate(ownerFigure: number | undefined): number {
    const learned = this.#state.perUnit.length > 0 ? Math.max(...this.#state.perUnit) * MARGIN : undefined;
    if (learned === undefined) return ownerFigure ?? DEFAULT_RUN_COST_ESTIMATE;
    return Math.max(learned, ownerFigure ?? 0);
  }

  usage(): DayUsage & { reserved: number; openRuns: number; estimatePerRun: number } {
    return {
      ...this.#today(),
      reserved: this.#reserved(),
      openRuns: Object.keys(this.#state.reservations).length,
      estimatePerRun: this.estimate(undefined),
    };
  }

  #book(origin: string, cost: number): void {
    if (cost <= 0) return;
    const usage = this.#state.usage;
    usage.spend += cost;
    const line = usage.origins[origin] ?? { runs: 0, spend: 0 };
    usage.origins[origin] = { runs: line.runs, spend: line.spend + cost };
  }

  #reserved(origin?: string): number {
    let sum = 0;
    for (const reservation of Object.values(this.#state.reservations)) {
      if (origin === undefined || reservation.origin === origin) sum += reservation.amount;
    }
    return sum;
  }

  /** The origin's line in today's budget: its own while there is room, else the shared one. */
  #originLine(origin: string): string {
    const origins = this.#today().origins;
    if (origin in origins || Object.keys(origins).length < MAX_ORIGINS) return origin;
    return OTHER_ORIGINS;
  }

  /** Today's usage; a new day starts empty, and forgotten reservations are booked as spent. */
  #today(): DayUsage {
    const day = today();
    if (this.#state.usage.day !== day) this.#state.usage = { day, runs: 0, spend: 0, origins: {} };
    const now = Date.now();
    for (const [id, reservation] of Object.entries(this.#state.reservations)) {
      if (now - reservation.at < RESERVATION_TTL_MS) continue;
      delete this.#state.reservations[id];
      this.#book(reservation.origin, reservation.amount);
    }
    return this.#state.usage;
  }

  async #save(): Promise<void> {
    await this.ctx.storage.put('usage', this.#state);
  }
}
