/**
 * @module A token bucket per key (e.g. client address), in memory and bounded: at most `maxKeys`
 * buckets are kept; when full, the least recently refilled are dropped first.
 */
export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>()

  constructor(
    private perMinute: number,
    private maxKeys = 10_000,
    private now: () => number = Date.now
  ) {}

  /** Seconds until an empty bucket has a token again (for Retry-After). */
  get refillSeconds(): number {
    return Math.ceil(60 / this.perMinute)
  }

  /** Takes one token for `key`; false when its bucket is empty. */
  take(key: string): boolean {
    const t = this.now()
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, at: t }
    b.tokens = Math.min(this.perMinute, b.tokens + ((t - b.at) / 60_000) * this.perMinute)
    b.at = t
    // Re-insert so Map order is least-recently-used first.
    this.buckets.delete(key)
    this.buckets.set(key, b)
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }
}
