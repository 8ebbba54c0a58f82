/**
 * @module SQL functions Radiator registers on its SQLite connection, and the drizzle fragments that
 * call them. SQLite runs them in-process as JavaScript; on PostgreSQL (issue 17) the same work is done
 * in JS after the read, with the same histogram code (metrics/pg-rollups.ts, metrics/pg-summary.ts),
 * so no server-side function needs a migration. All work on metrics/histogram.ts's sparse
 * histograms: the rollup job groups samples by bucket and merges histograms inside SQLite, and a
 * summary merges a window's histograms in its one grouped read.
 */
import { type SQL, type SQLWrapper, sql } from 'drizzle-orm'
import { addInto, bucketOf, encode, MAX_BUCKETS, merge } from '../metrics/histogram.ts'
import type { VitalName } from '../../contract/metrics.ts'
import type { Sqlite } from './client.ts'

/**
 * `hist_add(a, b)` merges two encoded histograms; `hist_sum(h)` merges a column's; `hist_bucket(metric,
 * value)` is a value's bucket.
 */
export function registerHistogramFunctions(sqlite: Sqlite): void {
  sqlite.function('hist_add', { deterministic: true }, (a: Buffer | null, b: Buffer | null) =>
    !a && !b ? null : merge(a, b)
  )
  sqlite.function('hist_bucket', { deterministic: true }, (metric: VitalName, value: number) => bucketOf(metric, value))
  sqlite.aggregate<Int32Array | null>('hist_sum', {
    start: () => null,
    step(acc, h: unknown) {
      if (!Buffer.isBuffer(h)) return acc
      const counts = acc ?? new Int32Array(MAX_BUCKETS)
      addInto(counts, h)
      return counts
    },
    result: (acc) => (acc ? encode(acc) : null),
  })
}

/** A column's histograms merged (an aggregate: one per group). */
export const histSum = (h: SQLWrapper): SQL<Buffer | null> => sql`hist_sum(${h})`
