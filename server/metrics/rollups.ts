/**
 * @module Minute, hour and day rollups, made off the request path: a background job reads raw rows
 * past a watermark (in `meta`, moved in the same transaction as the rollups it wrote, so a crash
 * neither loses nor double-counts), counted per minute inside SQLite, folds those counts into
 * minute, hour and day rows in memory and upserts one row per key. A replaced
 * sample (same web-vitals id reported again) carries the value the rollups counted, taken out here.
 */
import type { Sqlite } from '../db/client.ts'
import { type Meta, type MetaKey, metaOf } from '../db/meta.ts'
import { ROLLUP_GRANS } from '../db/schema.ts'
import type { Writer } from '../db/writer.ts'
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../time.ts'
import { addInto, bucketOf, encode, encodeMap, MAX_BUCKETS, merge } from './histogram.ts'
import { rate, type Device, type VitalName } from '../../contract/metrics.ts'
import type { Job } from '../jobs/scheduler.ts'

export type Gran = (typeof ROLLUP_GRANS)[number]
export const GRAN_MS: Record<Gran, number> = { m: MINUTE_MS, h: HOUR_MS, d: DAY_MS }
export const periodOf = (gran: Gran, t: number) => t - (t % GRAN_MS[gran])

/** Whole-site rows use this path; per-page rows exist for page views, LCP and INP (top pages). */
export const ALL_PATHS = '*'
const PER_PAGE = new Set(['PV', 'LCP', 'INP'])

/** Row ids per rollup transaction: short enough that a beacon never waits long behind one. */
const BATCH = 5000
const WM_HITS: MetaKey = 'metrics_rolled_hits'
const WM_SAMPLES: MetaKey = 'metrics_rolled_samples'

/**
 * `hist_add(a, b)` merges two encoded histograms; `hist_sum(h)` merges a column's; `hist_bucket(metric,
 * value)` is a value's bucket, so the rollup job can group samples by bucket inside SQLite.
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

interface Agg {
  site: string
  gran: Gran
  period: number
  path: string
  metric: string
  device: string
  n: number
  good: number
  ni: number
  poor: number
  hist: Map<number, number> | null
}

/** Raw rows counted per minute inside SQLite; only these groups are folded in JS. */
interface HitGroup {
  site: string
  path: string
  device: Device
  minute: number
  n: number
}

interface SampleGroup extends HitGroup {
  metric: VitalName
  rating: string
  bucket: number
}

/** A replaced sample: the value the rollups counted for its id comes out again. */
interface Replaced {
  site: string
  path: string
  metric: VitalName
  device: Device
  prev: number
  at: number
}

export interface RollResult {
  /** Rows lie past this batch's id range: more is waiting. */
  more: boolean
  sites: Set<string>
}

export class Roller {
  private stmts
  private meta: Meta
  private running: Promise<RollResult> | null = null

  constructor(
    sqlite: Sqlite,
    private writer: Writer,
    /** Larger batches fold more rows into each rollup row: catching up on a backlog (benchmark). */
    private batch = BATCH
  ) {
    this.meta = metaOf(sqlite)
    this.stmts = {
      // Batches are id ranges (ids only grow: AUTOINCREMENT), grouped to the minute in SQLite: a
      // busy second of beacons becomes a few hundred groups, where folding row by row in JS was
      // the largest cost of the job.
      hits: sqlite.prepare<[number, number], HitGroup>(
        `SELECT site, path, device, at - at % 60000 AS minute, count(*) AS n FROM site_hits
         WHERE id > ? AND id <= ? AND kind = 'pageview' GROUP BY site, path, device, minute`
      ),
      maxHit: sqlite.prepare<[], { id: number | null }>('SELECT max(id) AS id FROM site_hits'),
      samples: sqlite.prepare<[number, number], SampleGroup>(
        `SELECT site, path, metric, device, at - at % 60000 AS minute, rating, hist_bucket(metric, value) AS bucket,
           count(*) AS n
         FROM site_samples WHERE id > ? AND id <= ? GROUP BY site, path, metric, device, minute, rating, bucket`
      ),
      replaced: sqlite.prepare<[number, number], Replaced>(
        'SELECT site, path, metric, device, prev, at FROM site_samples WHERE id > ? AND id <= ? AND prev IS NOT NULL'
      ),
      maxSample: sqlite.prepare<[], { id: number | null }>('SELECT max(id) AS id FROM site_samples'),
      upsert: sqlite.prepare(
        `INSERT INTO site_rollups (site, gran, period, path, metric, device, n, good, ni, poor, hist)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (site, gran, period, path, metric, device) DO UPDATE SET
           n = n + excluded.n, good = good + excluded.good, ni = ni + excluded.ni,
           poor = poor + excluded.poor, hist = hist_add(hist, excluded.hist)`
      ),
    }
  }

  /** Rolls up one batch; concurrent calls share the run in flight. */
  runOnce(): Promise<RollResult> {
    return (this.running ??= this.writer.write(() => this.roll()).finally(() => (this.running = null)))
  }

  /** Rolls until caught up (tests, shutdown, the benchmark). */
  async catchUp(): Promise<void> {
    while ((await this.runOnce()).more);
  }

  private watermark(key: MetaKey): number {
    return this.meta.getNumber(key)
  }

  /** One batch, inside a writer op. */
  private roll(): RollResult {
    const aggs = new Map<string, Agg>()
    const sites = new Set<string>()
    /** Adds `n` (negative: takes out) rows at time `at` to every rollup row they belong to. */
    const add = (
      site: string,
      path: string,
      metric: string,
      device: string,
      at: number,
      n: number,
      bucket: number,
      rating: string | null
    ) => {
      sites.add(site)
      const perPage = PER_PAGE.has(metric)
      for (const gran of ROLLUP_GRANS) {
        const period = periodOf(gran, at)
        for (let k = perPage ? 2 : 1; k > 0; k--) {
          const p = k === 2 ? path : ALL_PATHS
          const key = `${site}\0${gran}\0${period}\0${p}\0${metric}\0${device}`
          let a = aggs.get(key)
          if (!a) {
            a = {
              site,
              gran,
              period,
              path: p,
              metric,
              device,
              n: 0,
              good: 0,
              ni: 0,
              poor: 0,
              hist: rating ? new Map() : null,
            }
            aggs.set(key, a)
          }
          a.n += n
          if (!rating) continue
          if (rating === 'good') a.good += n
          else if (rating === 'poor') a.poor += n
          else a.ni += n
          a.hist!.set(bucket, (a.hist!.get(bucket) ?? 0) + n)
        }
      }
    }
    /** The next id range: at most one batch past the watermark, at most the last row. */
    const range = (key: MetaKey, max: { id: number | null } | undefined) => {
      const from = this.watermark(key)
      const last = max?.id ?? 0
      return { from, to: Math.min(last, from + this.batch), more: last > from + this.batch }
    }

    const h = range(WM_HITS, this.stmts.maxHit.get())
    if (h.to > h.from)
      for (const g of this.stmts.hits.all(h.from, h.to)) add(g.site, g.path, 'PV', g.device, g.minute, g.n, 0, null)

    const v = range(WM_SAMPLES, this.stmts.maxSample.get())
    if (v.to > v.from) {
      for (const r of this.stmts.replaced.all(v.from, v.to))
        add(r.site, r.path, r.metric, r.device, r.at, -1, bucketOf(r.metric, r.prev), rate(r.metric, r.prev))
      for (const g of this.stmts.samples.all(v.from, v.to))
        add(g.site, g.path, g.metric, g.device, g.minute, g.n, g.bucket, g.rating)
    }

    for (const a of aggs.values()) {
      const hist = a.hist ? encodeMap(a.hist) : null
      this.stmts.upsert.run(a.site, a.gran, a.period, a.path, a.metric, a.device, a.n, a.good, a.ni, a.poor, hist)
    }
    if (h.to > h.from) this.meta.set(WM_HITS, h.to)
    if (v.to > v.from) this.meta.set(WM_SAMPLES, v.to)
    return { more: h.more || v.more, sites }
  }

  /** The samples watermark, read inside a writer op (the collect write needs it for replacements). */
  rolledSamplesThrough(): number {
    return this.watermark(WM_SAMPLES)
  }

  /** The rollup job: every `everyMs`, rolling batch after batch while behind. */
  job(everyMs: number, onRolled: (sites: Set<string>) => void): Job {
    return {
      name: 'rollups',
      every: everyMs,
      run: async (stopping) => {
        for (;;) {
          const r = await this.runOnce()
          if (r.sites.size) onRolled(r.sites)
          if (!r.more || stopping.aborted) break
          // Let requests in between batches.
          await new Promise((res) => setImmediate(res))
        }
      },
    }
  }
}
