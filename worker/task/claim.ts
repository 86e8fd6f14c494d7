/**
 * A gate for one `Idempotency-Key` task: the first request for the key takes the claim while it
 * is admitted and sent; repeats that arrive meanwhile wait for it to be released, then see the
 * task it started (or, if it was refused, try themselves). A claim whose holder never comes back
 * (the Worker failed mid-request) lapses, so a key can never be stuck.
 */

const CLAIM_MS = 30_000;

export class Claim {
  #held: { until: number; done: Promise<void>; release: () => void } | undefined;

  /** Resolves once nobody holds the claim (or the holder's claim has lapsed). */
  async wait(): Promise<void> {
    while (this.#held && this.#held.until > Date.now()) await this.#held.done;
  }

  take(): void {
    let release = () => {};
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#held = { until: Date.now() + CLAIM_MS, done, release };
  }

  release(): void {
    this.#held?.release();
    this.#held = undefined;
  }
}
