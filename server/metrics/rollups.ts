/**
 * @module Minute, hour and day rollups, made off the request path: a background job reads raw rows
 * past a watermark (in `meta`, moved in the same transaction as the rollups it wrote, so a crash
 * neither loses nor double-counts), folds them in memory and upserts one row per key. A replaced
 * sample (same web-vitals id reported again) carries the value the rollups counted, taken out here.
 */
import type { Sqlite } from '../db/client.ts'
import type { Writer } from '../db/writer.ts'
import { addInto, bucketOf, encode, encodeMap, MAX_BUCKETS, merge } from './histogram.ts'
import { rate, type Device, type VitalName } from './wire.ts'

export type Gran = 'm' | 'h' | 'd'
export const GRAN_MS: Record<Gran, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 }
const GRANS = Object.keys(GRAN_MS) as Gran[]
export const periodOf = (gran: Gran, t: number) => t - (t % GRAN_MS[gran])

/** Whole-site rows use this path; per-page rows exist for page views, LCP and INP (top pages). */
export const ALL_PATHS = '*'
const PER_PAGE = new Set(['PV', 'LCP', 'INP'])

/** Rows read per rollup transaction: short enough that a beacon never waits long behind one. */
const BATCH = 5000
const WM_HITS = 'metrics_rolled_hits'
const WM_SAMPLES = 'metrics_rolled_samples'

/** `hist_add(a, b)` merges two encoded histograms; `hist_sum(h)` merges a column's. */
export function registerHistogramFunctions(sqlite: Sqlite): void {
  sqlite.function('hist_add', { deterministic: true }, (a: Buffer | null, b: Buffer | null) =>
    !a && !b ? null : merge(a, b)
  )
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

interface SampleRow {
  id: number
  site: string
  path: string
  metric: VitalName
  value: number
  prev: number | null
  device: Device
  at: number
}

interface HitRow {
  id: number
  site: string
  path: string
  device: Device
  at: number
}

export interface RollResult {
  rows: number
  /** A batch was full: more is waiting. */
  more: boolean
  sites: Set<string>
}

export class Roller {
  private stmts
  private running: Promise<RollResult> | null = null

  constructor(
    sqlite: Sqlite,
    private writer: Writer,
    /** Larger batches fold more rows into each rollup row: catching up on a backlog (benchmark). */
    private batch = BATCH
  ) {
    this.stmts = {
      getMeta: sqlite.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: sqlite.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      hits: sqlite.prepare<[number, number], HitRow>(
        "SELECT id, site, path, device, at FROM site_hits WHERE id > ? AND kind = 'pageview' ORDER BY id LIMIT ?"
      ),
      maxHit: sqlite.prepare<[], { id: number | null }>('SELECT max(id) AS id FROM site_hits'),
      samples: sqlite.prepare<[number, number], SampleRow>(
        'SELECT id, site, path, metric, value, prev, device, at FROM site_samples WHERE id > ? ORDER BY id LIMIT ?'
      ),
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

  private watermark(key: string): number {
    return Number(this.stmts.getMeta.get(key)?.value ?? 0)
  }

  /** One batch, inside a writer op. */
  private roll(): RollResult {
    const aggs = new Map<string, Agg>()
    const sites = new Set<string>()
    const add = (site: string, path: string, metric: string, device: string, at: number, sign: number, bucket: number, rating: string | null) => {
      const perPage = PER_PAGE.has(metric)
      for (const gran of GRANS) {
        const period = periodOf(gran, at)
        for (let k = perPage ? 2 : 1; k > 0; k--) {
          const p = k === 2 ? path : ALL_PATHS
          const key = `${site}\0${gran}\0${period}\0${p}\0${metric}\0${device}`
          let a = aggs.get(key)
          if (!a) {
            a = { site, gran, period, path: p, metric, device, n: 0, good: 0, ni: 0, poor: 0, hist: rating ? new Map() : null }
            aggs.set(key, a)
          }
          a.n += sign
          if (!rating) continue
          if (rating === 'good') a.good += sign
          else if (rating === 'poor') a.poor += sign
          else a.ni += sign
          a.hist!.set(bucket, (a.hist!.get(bucket) ?? 0) + sign)
        }
      }
    }

    const fromHit = this.watermark(WM_HITS)
    const hits = this.stmts.hits.all(fromHit, this.batch)
    for (const h of hits) {
      sites.add(h.site)
      add(h.site, h.path, 'PV', h.device, h.at, 1, 0, null)
    }
    // A short batch scanned to the end, heartbeats included: the watermark moves past all of it.
    const toHit = hits.length === this.batch ? hits[hits.length - 1]!.id : Math.max(fromHit, this.stmts.maxHit.get()?.id ?? 0)

    const fromSample = this.watermark(WM_SAMPLES)
    const samples = this.stmts.samples.all(fromSample, this.batch)
    for (const s of samples) {
      sites.add(s.site)
      if (s.prev !== null) add(s.site, s.path, s.metric, s.device, s.at, -1, bucketOf(s.metric, s.prev), rate(s.metric, s.prev))
      add(s.site, s.path, s.metric, s.device, s.at, 1, bucketOf(s.metric, s.value), rate(s.metric, s.value))
    }
    const toSample = samples.length ? samples[samples.length - 1]!.id : fromSample

    for (const a of aggs.values()) {
      const hist = a.hist ? encodeMap(a.hist) : null
      this.stmts.upsert.run(a.site, a.gran, a.period, a.path, a.metric, a.device, a.n, a.good, a.ni, a.poor, hist)
    }
    if (toHit !== fromHit) this.stmts.setMeta.run(WM_HITS, String(toHit))
    if (toSample !== fromSample) this.stmts.setMeta.run(WM_SAMPLES, String(toSample))
    return { rows: hits.length + samples.length, more: hits.length === this.batch || samples.length === this.batch, sites }
  }

  /** The samples watermark, read inside a writer op (the collect write needs it for replacements). */
  rolledSamplesThrough(): number {
    return this.watermark(WM_SAMPLES)
  }

  /** Rolls every `everyMs` (and at once again while behind); returns the stopper. */
  start(everyMs: number, onRolled: (sites: Set<string>) => void, onError: (e: unknown) => void): () => void {
    let timer: NodeJS.Timeout | undefined
    let stopped = false
    const tick = async () => {
      try {
        for (;;) {
          const r = await this.runOnce()
          if (r.sites.size) onRolled(r.sites)
          if (!r.more || stopped) break
          // Let requests in between batches.
          await new Promise((res) => setImmediate(res))
        }
      } catch (e) {
        onError(e)
      }
      if (!stopped) (timer = setTimeout(tick, everyMs)).unref()
    }
    ;(timer = setTimeout(tick, everyMs)).unref()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }
}
