/**
 * @module Per-key rate limiting for live pushes: `touch(key)` asks for an update; `emit(key)` runs at
 * once when the key was last checked at least `intervalMs` ago, else once at the end of the
 * interval, however many touches came in between. `emit` decides whether anything changed and
 * pushes only then; either way the check starts a new interval. (Starting it only on a push made
 * every beacon re-run an unchanged check: a 24h summary per beacon, measured as the largest cost of
 * POST /api/collect.)
 */
export class Coalescer {
  private last = new Map<string, number>()
  private timers = new Map<string, NodeJS.Timeout>()

  constructor(
    private intervalMs: number,
    private now: () => number,
    private emit: (key: string) => void,
    private onError: (e: unknown) => void
  ) {}

  touch(key: string): void {
    if (this.timers.has(key)) return
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
    try {
      this.emit(key)
    } catch (e) {
      this.onError(e)
    }
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
  }
}
