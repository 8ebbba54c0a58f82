import { describe, expect, it } from 'vitest'
import { addInto, bucketOf, bucketValue, encode, MAX_BUCKETS, merge, quantile } from './histogram.ts'
import { THRESHOLDS, VITAL_NAMES } from '../../contract/metrics.ts'

describe('vitals histogram', () => {
  it('reports any timing from 1 ms to 60 s within 2.5 % of its value, and below 1 ms within 0.5 ms', () => {
    for (let v = 0; v <= 1; v += 0.01)
      expect(Math.abs(bucketValue('LCP', bucketOf('LCP', v)) - v)).toBeLessThanOrEqual(0.5)
    for (let v = 1.0001; v <= 60_000; v *= 1.003) {
      const got = bucketValue('LCP', bucketOf('LCP', v))
      expect(Math.abs(got - v) / v, `${v}`).toBeLessThanOrEqual(0.025)
    }
  })

  it('reports any CLS from 0.001 to 100 within 2.5 %, and 0 as 0', () => {
    expect(bucketValue('CLS', bucketOf('CLS', 0))).toBe(0)
    for (let v = 0.0010001; v <= 100; v *= 1.003) {
      const got = bucketValue('CLS', bucketOf('CLS', v))
      expect(Math.abs(got - v) / v, `${v}`).toBeLessThanOrEqual(0.025)
    }
  })

  it('keeps every value on the same side of the rating thresholds', () => {
    for (const name of VITAL_NAMES)
      for (const t of THRESHOLDS[name]) {
        expect(bucketValue(name, bucketOf(name, t)), `${name} ${t}`).toBeLessThanOrEqual(t)
        expect(bucketValue(name, bucketOf(name, t * 1.0001)), `${name} above ${t}`).toBeGreaterThan(t)
      }
  })

  it('fits every metric in one-byte bucket indexes', () => {
    for (const name of VITAL_NAMES) expect(bucketOf(name, 1e9)).toBeLessThan(MAX_BUCKETS)
  })

  it('reads nearest-rank percentiles', () => {
    const counts = new Int32Array(MAX_BUCKETS)
    const values = Array.from({ length: 100 }, (_, i) => (i + 1) * 100) // 100 … 10000 ms
    for (const v of values) counts[bucketOf('LCP', v)]!++
    for (const [q, exact] of [
      [0.5, 5000],
      [0.75, 7500],
      [0.95, 9500],
    ] as const)
      expect(Math.abs(quantile('LCP', counts, q)! - exact) / exact).toBeLessThanOrEqual(0.025)
    expect(quantile('LCP', new Int32Array(MAX_BUCKETS), 0.75)).toBeNull()
  })

  it('merges encoded histograms, including the negative deltas of replaced samples', () => {
    const a = new Int32Array(MAX_BUCKETS)
    a[3] = 2
    a[200] = 1
    const b = new Int32Array(MAX_BUCKETS)
    b[3] = -1
    b[7] = 4
    const merged = new Int32Array(MAX_BUCKETS)
    addInto(merged, merge(encode(a), encode(b)))
    expect([merged[3], merged[7], merged[200]]).toEqual([1, 4, 1])
    expect(encode(new Int32Array(MAX_BUCKETS)).length).toBe(0)
  })
})
