/**
 * @module A token bucket per key (e.g. client address), in memory and bounded: at most `maxKeys`
 * buckets are kept; when full, the least recently refilled are dropped first. `SharedRateLimiter`
 * makes one count across the instances of a cluster.
 */
import { z } from 'zod'
import type { Bus } from '../cluster/bus.ts'

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
    const b = this.bucket(key)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  /** Whether `key` has a token left (nothing is taken). */
  available(key: string): boolean {
    return this.bucket(key).tokens >= 1
  }

  /** Takes a token spent elsewhere (another instance): the bucket empties, nothing is refused. */
  charge(key: string): void {
    const b = this.bucket(key)
    b.tokens = Math.max(0, b.tokens - 1)
  }

  private bucket(key: string): { tokens: number; at: number } {
    const t = this.now()
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, at: t }
    b.tokens = Math.min(this.perMinute, b.tokens + ((t - b.at) / 60_000) * this.perMinute)
    b.at = t
    // Re-insert so Map order is least-recently-used first.
    this.buckets.delete(key)
    this.buckets.set(key, b)
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!)
    return b
  }
}

const spent = z.object({ limit: z.string().max(64), key: z.string().max(200) })

/**
 * One limit for the whole cluster: every token taken on one instance is announced on the bus (topic
 * `rate-limit`) and taken from the same key's bucket on every other, so an address spreading its
 * attempts over N instances gets the allowance once, not N times. Chosen over a counter row in
 * PostgreSQL because it costs no write and works the same on SQLite (LocalBus); the limit is as
 * exact as the bus: attempts racing on two instances within the bus's latency (a millisecond) may
 * both pass, and a lost announcement under-counts one attempt. Only what is limited is announced
 * (failures, new pairing codes), so the traffic is bounded by the limit itself.
 */
export class SharedRateLimiter {
  private local: RateLimiter
  private unlisten: () => void

  constructor(
    private bus: Bus,
    /** Names the limit among the cluster's shared ones. */
    private name: string,
    perMinute: number,
    now: () => number = Date.now
  ) {
    this.local = new RateLimiter(perMinute, 10_000, now)
    this.unlisten = bus.listen('rate-limit', (data, from) => {
      if (from === bus.instance) return
      const m = spent.safeParse(data)
      if (m.success && m.data.limit === name) this.local.charge(m.data.key)
    })
  }

  get refillSeconds(): number {
    return this.local.refillSeconds
  }

  available(key: string): boolean {
    return this.local.available(key)
  }

  /** Takes one token for `key` in the cluster's bucket; false when it is empty. */
  take(key: string): boolean {
    if (!this.local.take(key)) return false
    this.bus.announce('rate-limit', { limit: this.name, key })
    return true
  }

  close(): void {
    this.unlisten()
  }
}
