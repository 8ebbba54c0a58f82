/**
 * @module Per-key rate limiting for live pushes: `touch(key)` asks for an update; `emit(key)` runs at
 * once when the key was last checked at least `intervalMs` ago, else once at the end of the
 * interval, however many touches came in between. `emit` decides whether anything changed and
 * pushes only then; either way the check starts a new interval. (Starting it only on a push made
 * every beacon re-run an unchanged check: a 24h summary per beacon, measured as the largest cost of
 * POST /api/collect.) An `emit` that answers with a promise (a summary read on PostgreSQL) holds its
 * key until it settles, and the interval starts again then: pushes stay `intervalMs` apart however
 * long each read takes.
 */
export class Coalescer {
  private last = new Map<string, number>()
  private timers = new Map<string, NodeJS.Timeout>()
  /** Keys whose emit is still running, and whether they were touched meanwhile. */
  private running = new Map<string, boolean>()

  constructor(
    private intervalMs: number,
    private now: () => number,
    private emit: (key: string) => void | Promise<void>,
    private onError: (e: unknown) => void
  ) {}

  touch(key: string): void {
    if (this.timers.has(key)) return
    if (this.running.has(key)) return void this.running.set(key, true)
    const wait = (this.last.get(key) ?? -Infinity) + this.intervalMs - this.now()
    if (wait <= 0) return this.fire(key)
    const t = setTimeout(() => {
      this.timers.delete(key)
      this.fire(key)
    }, wait)
    t.unref()
    this.timers.set(key, t)
  }

  private fire(key: string): void {
    this.last.set(key, this.now())
    let done: void | Promise<void>
    try {
      done = this.emit(key)
    } catch (e) {
      return this.onError(e)
    }
    if (!(done instanceof Promise)) return
    this.running.set(key, false)
    done.catch(this.onError).finally(() => {
      const again = this.running.get(key)
      this.running.delete(key)
      this.last.set(key, this.now())
      if (again) this.touch(key)
    })
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
    // An emit still running finishes, and nothing is armed after it.
    for (const k of this.running.keys()) this.running.set(k, false)
  }
}
