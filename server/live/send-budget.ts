/**
 * @module When a live client counts as too slow. A client is cut off when what it has not yet taken
 * of the *live* stream passes LIVE_CLIENT_BUFFER_BYTES. Its snapshot and replay do not count: they
 * are sent paced (catch-up.ts) and may alone be larger than the limit (a snapshot of 1,000 pipelines
 * is over 2 MB), and a client that reads at a normal pace must always be able to receive them.
 */
export class SendBudget {
  private written = 0
  /** `written` when the last catch-up byte was queued. Catch-up bytes all precede live ones. */
  private catchUpEnd = 0

  constructor(private readonly limit: number) {}

  /** Records bytes handed to the transport; `catchUp` for the snapshot and replay. */
  wrote(bytes: number, catchUp: boolean): void {
    this.written += bytes
    if (catchUp) this.catchUpEnd = this.written
  }

  /**
   * Whether the live bytes among `queued` (what the transport still holds) are over the limit.
   * Queues drain in order, so the catch-up bytes still queued are the first ones not yet taken.
   */
  over(queued: number): boolean {
    const taken = this.written - queued
    const catchUpLeft = Math.max(0, this.catchUpEnd - taken)
    return queued - catchUpLeft > this.limit
  }
}
