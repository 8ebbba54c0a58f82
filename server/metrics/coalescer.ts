/**
 * @module Per-key rate limiting for live pushes: `touch(key)` asks for an update; `emit(key)` runs at
 * once when the key's last push is at least `intervalMs` old, else once at the end of the interval,
 * however many touches came in between. `emit` returns whether it pushed (only on a change), and
 * only a push starts a new interval.
 */
export class Coalescer {
  private last = new Map<string, number>()
  private timers = new Map<string, NodeJS.Timeout>()

  constructor(
    private intervalMs: number,
    private now: () => number,
    private emit: (key: string) => boolean,
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
    try {
      if (this.emit(key)) this.last.set(key, this.now())
    } catch (e) {
      this.onError(e)
    }
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
  }
}
