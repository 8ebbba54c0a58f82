/**
 * @module Minute, hour and day rollups, made off the request path: a background job reads raw rows
 * past a watermark (in `meta`, moved in the same transaction as the rollups it wrote, so a crash
 * neither loses nor double-counts), counted per minute inside SQLite, folds those counts into
 * minute, hour and day rows in memory and upserts one row per key. A replaced
 * sample (same web-vitals id reported again) carries the value the rollups counted, taken out here.
 */
import { and, gt, isNotNull, lte, max, sql } from 'drizzle-orm'
import { dbOf, type Sqlite } from '../db/client.ts'
import { type Meta, type MetaKey, metaOf } from '../db/meta.ts'
import { rollupStatements } from '../db/metrics-statements.ts'
import { ROLLUP_GRANS, type siteRollups, siteHits, siteSamples } from '../db/schema.ts'
import type { Writer } from '../db/writer.ts'
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../time.ts'
import { bucketOf, encodeMap } from './histogram.ts'
import { type Device, rate, type VitalName } from '../../contract/metrics.ts'
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

export type Agg = Omit<typeof siteRollups.$inferInsert, 'hist'> & { hist: Map<number, number> | null }

/** site_samples holds only the vitals the beacon's schema let through. */
export const asVital = (metric: string) => metric as VitalName

export interface RollResult {
  /** Rows lie past this batch's id range: more is waiting. */
  more: boolean
  sites: Set<string>
}

export class Roller {
  private stmts: ReturnType<typeof statements>
  private meta: Meta
  private running: Promise<RollResult> | null = null

  constructor(
    sqlite: Sqlite,
    private writer: Writer,
    /** Larger batches fold more rows into each rollup row: catching up on a backlog (benchmark). */
    private batch = BATCH
  ) {
    this.meta = metaOf(sqlite)
    this.stmts = statements(sqlite)
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
    const fold = new Fold()
    const add = fold.add
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
      for (const r of this.stmts.replaced.all({ afterId: v.from, lastId: v.to })) {
        const metric = asVital(r.metric)
        add(r.site, r.path, metric, r.device, r.at, -1, bucketOf(metric, r.prev!), rate(metric, r.prev!))
      }
      for (const g of this.stmts.samples.all(v.from, v.to))
        add(g.site, g.path, g.metric, g.device, g.minute, g.n, g.bucket, g.rating)
    }

    for (const a of fold.aggs.values()) {
      const hist = a.hist ? encodeMap(a.hist) : null
      this.stmts.upsert.run(a.site, a.gran, a.period, a.path, a.metric, a.device, a.n, a.good, a.ni, a.poor, hist)
    }
    if (h.to > h.from) this.meta.set(WM_HITS, h.to)
    if (v.to > v.from) this.meta.set(WM_SAMPLES, v.to)
    return { more: h.more || v.more, sites: fold.sites }
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

/** One batch's counts folded into its minute, hour and day rollup rows (both engines). */
export class Fold {
  readonly aggs = new Map<string, Agg>()
  readonly sites = new Set<string>()

  /** Adds `n` (negative: takes out) rows at time `at` to every rollup row they belong to. */
  readonly add = (
    site: string,
    path: string,
    metric: string,
    device: Device,
    at: number,
    n: number,
    bucket: number,
    rating: string | null
  ): void => {
    this.sites.add(site)
    const perPage = PER_PAGE.has(metric)
    for (const gran of ROLLUP_GRANS) {
      const period = periodOf(gran, at)
      for (let k = perPage ? 2 : 1; k > 0; k--) {
        const p = k === 2 ? path : ALL_PATHS
        const key = `${site}\0${gran}\0${period}\0${p}\0${metric}\0${device}`
        let a = this.aggs.get(key)
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
          this.aggs.set(key, a)
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
}

const ph = sql.placeholder

/** The job's statements, prepared once: the grouped reads and the upsert hand-written (measured). */
function statements(sqlite: Sqlite) {
  const db = dbOf(sqlite)
  const inBatch = (id: typeof siteSamples.id) => and(gt(id, ph('afterId')), lte(id, ph('lastId')))
  return {
    ...rollupStatements(sqlite),
    maxHit: db
      .select({ id: max(siteHits.id) })
      .from(siteHits)
      .prepare(),
    maxSample: db
      .select({ id: max(siteSamples.id) })
      .from(siteSamples)
      .prepare(),
    replaced: db
      .select({
        site: siteSamples.site,
        path: siteSamples.path,
        metric: siteSamples.metric,
        device: siteSamples.device,
        prev: siteSamples.prev,
        at: siteSamples.at,
      })
      .from(siteSamples)
      .where(and(inBatch(siteSamples.id), isNotNull(siteSamples.prev)))
      .prepare(),
  }
}
