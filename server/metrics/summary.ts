/**
 * @module The per-site summary behind GET /api/sites/:site/summary, the `vitals` live event and the
 * snapshot: visitors now (memory), page views and vitals over a window (rollups, one grouped read
 * over the window's periods), top pages and the last hour per minute (memory).
 *
 * A window is whole periods ending with the current one (windows.ts `periodsOf`): 24h is the
 * current hour and the 23 before it. `from` in the answer says where the window starts.
 */
import { and, eq, gte, inArray, lt, or, type SQLWrapper, sql } from 'drizzle-orm'
import { Freshness, perConnection, watchRows } from '../db/connection-cache.ts'
import type { Db, Sqlite } from '../db/client.ts'
import { siteRollups } from '../db/schema.ts'
import { histSum } from '../db/sqlite-functions.ts'
import { addInto, MAX_BUCKETS, quantile } from './histogram.ts'
import type { Presence } from './presence.ts'
import { ALL_PATHS, type Gran, GRAN_MS } from './rollups.ts'
import { periodsOf } from './windows.ts'
import {
  VITAL_NAMES,
  type Device,
  type Rating,
  type Summary,
  type SummaryWindow,
  type VitalName,
  type VitalSummary,
} from '../../contract/metrics.ts'

const TOP_PAGES = 10

/** What a summary reads from the rollups: everything but the live presence figures. */
export type Rolled = Pick<Summary, 'pageviews' | 'vitals' | 'topPages' | 'trend'>

/** The rollup rows of a span of periods, grouped: per (path, metric) and, for the trend, per (period, vital). */
export interface Part {
  rows: WindowRow[]
  trend: TrendRow[]
}

/** A (path, metric) group summed over a span of periods; `rows` counts the rollup rows behind it. */
interface Sum {
  path: string
  metric: string
  rows: number
  n: number
  good: number
  ni: number
  poor: number
  counts: Int32Array | null
}

/** A span of periods summed per (path, metric), with the trend's p75 per vital of each of its periods. */
interface Span {
  sums: Map<string, Sum>
  points: Map<number, Partial<Record<VitalName, number | null>>>
}

/** A cached window: its older periods summed once, the newest period read again after each write to it. */
interface Entry {
  gran: Gran
  from: number
  /** The newest period's start: rows from here on are re-read after a write. */
  last: number
  /** Periods from `from` up to `last`. */
  closed: Span
  /** (path, metric) groups of `closed` written since they were summed: read again before use. */
  stale: Map<string, { path: string; metric: string }>
  /** Periods of `closed` whose trend point was written since. */
  stalePoints: Set<number>
  /** The answer, until a row of the newest period is written. */
  rolled: Rolled | null
}

/**
 * Rolled parts of summaries, per site and (window, device), split at the newest period: the
 * periods before it are summed once (the 28d window's 27 days are 33-54 ms CPU at 2 M samples)
 * and kept, and the newest period, which the rollup job writes every second under live traffic,
 * is read again after each such write and added to them. When the window moves on, the periods it
 * left are subtracted and the ones that closed added (the 1h window moves every minute). Exact:
 * counts and histograms are integers; a temporary trigger on this connection reports the (site,
 * gran, period, path, metric) of every site_rollups row written (the rollup job, retention; a
 * write rolled back only re-reads more): a write to the newest period drops the answer, to an
 * older period of the window (a re-reported INP or CLS) the answer and that group, which is read
 * again over the older periods before use, before the window nothing. `data_version` drops all
 * after another connection's write; nothing is read from or kept in it inside a transaction
 * (uncommitted rows may yet roll back).
 */
class RolledCache {
  private bySite = new Map<string, Map<string, Entry>>()
  private freshness: Freshness

  constructor(sqlite: Sqlite) {
    watchRows(sqlite, 'rollup', 'site_rollups', ['site', 'gran', 'period', 'path', 'metric'], (...k) =>
      this.written(k[0] as string, k[1] as Gran, k[2] as number, k[3] as string, k[4] as string)
    )
    this.freshness = new Freshness(sqlite, () => this.bySite.clear())
  }

  private written(site: string, gran: Gran, period: number, path: string, metric: string): void {
    const entries = this.bySite.get(site)
    if (!entries) return
    for (const [key, e] of entries) {
      if (e.gran !== gran || period < e.from) continue
      e.rolled = null
      if (period >= e.last) continue
      // An older period: a re-reported INP or CLS moves within the period it was first reported in.
      e.stale.set(keyOf({ path, metric }), { path, metric })
      if (path === ALL_PATHS) e.stalePoints.add(period)
      if (e.stale.size > MAX_STALE) entries.delete(key)
    }
  }

  /** Whether the cache may be used now (false inside a transaction). */
  usable(): boolean {
    return this.freshness.usable()
  }

  entry(site: string, key: string): Entry | undefined {
    return this.bySite.get(site)?.get(key)
  }

  keep(site: string, key: string, e: Entry): void {
    let entries = this.bySite.get(site)
    if (!entries) this.bySite.set(site, (entries = new Map()))
    entries.set(key, e)
  }

  static of = perConnection((sqlite) => new RolledCache(sqlite))
}

/** The connection under a drizzle handle: drizzle() sets `$client` on every handle it makes, Db's type omits it. */
const connectionOf = (db: Db): Sqlite => (db as Db & { $client: Sqlite }).$client

/** The end of an open span: the newest part includes any later period (a clock set back). */
export const OPEN = Number.MAX_SAFE_INTEGER

export class Summaries {
  private stmts: ReturnType<typeof statements>
  private cache: RolledCache

  constructor(
    db: Db,
    private presence: Presence,
    private now: () => number
  ) {
    this.stmts = statements(db)
    this.cache = RolledCache.of(connectionOf(db))
  }

  /**
   * The summary of `site` over `window`. Its rolled part may be the cached one, shared with other
   * readers: never mutate an answer.
   */
  summary(site: string, window: SummaryWindow, device: Device | null): Summary {
    const { gran, count, from } = periodsOf(window, this.now())
    const rolled = this.rolled(site, `${window}\0${device ?? ''}`, gran, count, from, device)
    return summaryOf(this.presence, site, window, device, from, rolled)
  }

  private rolled(site: string, key: string, gran: Gran, count: number, from: number, device: Device | null): Rolled {
    const empty: Part = { rows: [], trend: [] }
    // Uncached: the whole window in one read (what the cached split must always equal).
    if (!this.cache.usable()) return answer(spanOf(this.read(site, gran, from, OPEN, device)), empty, gran, from, count)
    let e = this.cache.entry(site, key)
    if (e?.from === from && e.rolled) return e.rolled
    const last = from + (count - 1) * GRAN_MS[gran]
    if (e && (e.stale.size || e.stalePoints.size)) this.refresh(site, e, device)
    if (e && e.from < from && from <= e.last) {
      // Moved on: what it left, out; what closed since, in (rows written meanwhile were read again above).
      subtract(e.closed, this.read(site, gran, e.from, from, device), from)
      add(e.closed, this.read(site, gran, e.last, last, device))
      e.from = from
      e.last = last
    } else if (e?.from !== from) {
      const closed = spanOf(this.read(site, gran, from, last, device))
      e = { gran, from, last, closed, stale: new Map(), stalePoints: new Set(), rolled: null }
      this.cache.keep(site, key, e)
    }
    e.rolled = answer(e.closed, this.read(site, gran, last, OPEN, device), gran, from, count)
    return e.rolled
  }

  /** Reads again the groups and trend points of `e.closed` written since they were summed. */
  private refresh(site: string, e: Entry, device: Device | null): void {
    for (const [k, { path, metric }] of e.stale) {
      e.closed.sums.delete(k)
      const rows = this.stmts.group.all({ site, gran: e.gran, start: e.from, end: e.last, device, path, metric })
      add(e.closed, { rows, trend: [] })
    }
    for (const period of e.stalePoints) {
      e.closed.points.delete(period)
      const p = { site, gran: e.gran, start: period, end: period + GRAN_MS[e.gran], device }
      add(e.closed, { rows: [], trend: this.stmts.trend.all(p) })
    }
    e.stale.clear()
    e.stalePoints.clear()
  }

  /** The rows of periods `start` ≤ period < `end`. */
  private read(site: string, gran: Gran, start: number, end: number, device: Device | null): Part {
    const p = { site, gran, start, end, device }
    return { rows: this.stmts.window.all(p), trend: this.stmts.trend.all(p) }
  }
}

/** A summary from its rolled part and the presence figures now (both engines). */
export function summaryOf(
  presence: Presence,
  site: string,
  window: SummaryWindow,
  device: Device | null,
  from: number,
  rolled: Rolled
): Summary {
  return {
    site,
    window,
    device: device ?? 'all',
    from: new Date(from).toISOString(),
    visitors: presence.counts(site, device ?? undefined),
    pageviews: rolled.pageviews,
    vitals: rolled.vitals,
    topPages: rolled.topPages,
    series: presence.series(site, device ?? undefined),
    trend: rolled.trend,
  }
}

const keyOf = (r: { path: string; metric: string }) => `${r.path}\0${r.metric}`

/**
 * Groups of a cached window read again one by one; past this many (a backlog rolled up into the
 * window's older periods), the whole window is read again.
 */
const MAX_STALE = 64

export function spanOf(part: Part): Span {
  const span: Span = { sums: new Map(), points: new Map() }
  add(span, part)
  return span
}

/** Adds a part's rows to the span (its periods are not in the span yet). */
function add(span: Span, part: Part): void {
  for (const r of part.rows) {
    const k = keyOf(r)
    let s = span.sums.get(k)
    if (!s) {
      s = { path: r.path, metric: r.metric, rows: 0, n: 0, good: 0, ni: 0, poor: 0, counts: null }
      span.sums.set(k, s)
    }
    s.rows += r.rows
    s.n += r.n
    s.good += r.good
    s.ni += r.ni
    s.poor += r.poor
    if (r.hist) addInto((s.counts ??= new Int32Array(MAX_BUCKETS)), r.hist)
  }
  for (const r of part.trend) {
    if (!isVital(r.metric)) continue
    let point = span.points.get(r.period)
    if (!point) span.points.set(r.period, (point = {}))
    point[r.metric] = r.n > 0 ? percentile(r.metric, decode([r.hist]), 0.75) : null
  }
}

/** Takes a part's rows out of the span: its periods, all before `from`, leave it. */
function subtract(span: Span, part: Part, from: number): void {
  const scratch = new Int32Array(MAX_BUCKETS)
  for (const r of part.rows) {
    const k = keyOf(r)
    const s = span.sums.get(k)!
    s.rows -= r.rows
    if (s.rows === 0) {
      span.sums.delete(k)
      continue
    }
    s.n -= r.n
    s.good -= r.good
    s.ni -= r.ni
    s.poor -= r.poor
    if (!r.hist || !s.counts) continue
    scratch.fill(0)
    addInto(scratch, r.hist)
    for (let i = 0; i < MAX_BUCKETS; i++) s.counts[i]! -= scratch[i]!
  }
  for (const period of span.points.keys()) if (period < from) span.points.delete(period)
}

/** The answer from the window's older periods summed and its newest period's rows. */
export function answer(closed: Span, newest: Part, gran: Gran, from: number, count: number): Rolled {
  const sums = new Map(closed.sums)
  for (const r of newest.rows) {
    const k = keyOf(r)
    const c = sums.get(k)
    let counts = c?.counts ?? null
    if (r.hist) {
      counts = counts ? counts.slice() : new Int32Array(MAX_BUCKETS)
      addInto(counts, r.hist)
    }
    sums.set(k, {
      path: r.path,
      metric: r.metric,
      rows: (c?.rows ?? 0) + r.rows,
      n: (c?.n ?? 0) + r.n,
      good: (c?.good ?? 0) + r.good,
      ni: (c?.ni ?? 0) + r.ni,
      poor: (c?.poor ?? 0) + r.poor,
      counts,
    })
  }

  let pageviews = 0
  const vitals = {} as Record<VitalName, VitalSummary>
  for (const name of VITAL_NAMES) vitals[name] = vitalSummary(name, undefined)
  const views: { path: string; views: number }[] = []
  const byLcp: { path: string; p75: number; samples: number }[] = []
  const byInp: typeof byLcp = []
  for (const g of sums.values()) {
    if (g.path === ALL_PATHS) {
      if (g.metric === 'PV') pageviews = g.n
      else if (isVital(g.metric)) vitals[g.metric] = vitalSummary(g.metric, g)
      continue
    }
    if (g.metric === 'PV') views.push({ path: g.path, views: g.n })
    else if ((g.metric === 'LCP' || g.metric === 'INP') && g.n > 0) {
      const p75 = percentile(g.metric, g.counts ?? EMPTY_COUNTS, 0.75) ?? 0
      ;(g.metric === 'LCP' ? byLcp : byInp).push({ path: g.path, p75, samples: g.n })
    }
  }
  // Ties broken by path: the order groups were summed in must not show.
  const worstFirst = (a: { path: string; p75: number; samples: number }, b: typeof a) =>
    b.p75 - a.p75 || b.samples - a.samples || byPath(a, b)
  return {
    pageviews,
    vitals,
    topPages: {
      byViews: views.sort((a, b) => b.views - a.views || a.path.localeCompare(b.path)).slice(0, TOP_PAGES),
      byLcp: byLcp.sort(worstFirst).slice(0, TOP_PAGES),
      byInp: byInp.sort(worstFirst).slice(0, TOP_PAGES),
    },
    trend: trendOf(closed, newest, gran, from, count),
  }
}

const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
const EMPTY_COUNTS = new Int32Array(MAX_BUCKETS)

/** p75 per period of the window, every period present, oldest first. */
function trendOf(closed: Span, newest: Part, gran: Gran, from: number, count: number): Summary['trend'] {
  const points = Array.from({ length: count }, (_, i) => {
    const p = { t: new Date(from + i * GRAN_MS[gran]).toISOString() } as Summary['trend'][number]
    const known = closed.points.get(from + i * GRAN_MS[gran])
    for (const name of VITAL_NAMES) p[name] = known?.[name] ?? null
    return p
  })
  for (const r of newest.trend) {
    const point = points[Math.round((r.period - from) / GRAN_MS[gran])]
    if (point && r.n > 0 && isVital(r.metric)) point[r.metric] = percentile(r.metric, decode([r.hist]), 0.75)
  }
  return points
}

const isVital = (m: string): m is VitalName => (VITAL_NAMES as readonly string[]).includes(m)

function decode(hists: (Buffer | null)[]): Int32Array {
  const counts = new Int32Array(MAX_BUCKETS)
  for (const h of hists) addInto(counts, h)
  return counts
}

function round(name: VitalName, v: number): number {
  return name === 'CLS' ? Math.round(v * 10_000) / 10_000 : Math.round(v)
}

/** The histogram's quantile `p`, rounded for display (null without samples). */
function percentile(name: VitalName, counts: Int32Array, p: number): number | null {
  const v = quantile(name, counts, p)
  return v === null ? null : round(name, v)
}

function vitalSummary(name: VitalName, r: Sum | undefined): VitalSummary {
  const n = r?.n ?? 0
  if (!r || n <= 0)
    return { p50: null, p75: null, p95: null, rating: null, shares: { good: 0, ni: 0, poor: 0 }, samples: 0 }
  const counts = r.counts ?? EMPTY_COUNTS
  const q = (p: number) => percentile(name, counts, p)
  return {
    p50: q(0.5),
    p75: q(0.75),
    p95: q(0.95),
    rating: ratingAtP75(n, r.good, r.ni),
    shares: { good: share(r.good, n), ni: share(r.ni, n), poor: share(r.poor, n) },
    samples: n,
  }
}

/**
 * The rating of the exact p75, from the counts rather than the histogram: the nearest-rank p75 is
 * good exactly when at least 75 % of samples are good, and poor when fewer than 75 % are at most
 * needs-improvement.
 */
function ratingAtP75(n: number, good: number, ni: number): Rating {
  const rank = Math.ceil(0.75 * n)
  return good >= rank ? 'good' : good + ni >= rank ? 'needs-improvement' : 'poor'
}

const share = (k: number, n: number) => Math.round((k / n) * 10_000) / 10_000

const r = siteRollups
const ph = sql.placeholder
const total = (c: SQLWrapper) => sql<number>`sum(${c})`

/**
 * Both reads are served by the primary key (site, gran, period, …): one range of periods. Drizzle
 * costs no time that shows in the answer: against the same SQL hand-written (`npx tsx
 * bench/metrics-sql.ts summary`, 1,000,000 samples) it maps rows at about 1-2 µs each, 1.02-1.06×
 * the CPU of most reads (2-25 ms), at most 1.3× on the 1h trend's 300 rows (+0.6 ms); GET
 * /api/sites/:site/summary over 2,000,000 samples (`bench/collect.ts summary`) was within noise.
 */
function statements(db: Db) {
  const inWindow = and(
    eq(r.site, ph('site')),
    eq(r.gran, ph('gran')),
    gte(r.period, ph('start')),
    lt(r.period, ph('end')),
    or(sql`${ph('device')} IS NULL`, eq(r.device, ph('device')))
  )
  /** What a (path, metric) group of the window sums to. */
  const groupFields = {
    path: r.path,
    metric: r.metric,
    rows: sql<number>`count(*)`,
    n: total(r.n),
    good: total(r.good),
    ni: total(r.ni),
    poor: total(r.poor),
    hist: histSum(r.hist),
  }
  return {
    /** Every path of the window at once. */
    window: db.select(groupFields).from(r).where(inWindow).groupBy(r.path, r.metric).prepare(),
    /** One (path, metric) group of the window. */
    group: db
      .select(groupFields)
      .from(r)
      .where(and(inWindow, eq(r.path, ph('path')), eq(r.metric, ph('metric'))))
      .groupBy(r.path, r.metric)
      .prepare(),
    /** The whole site's vitals per period. */
    trend: db
      .select({ period: r.period, metric: r.metric, n: total(r.n), hist: histSum(r.hist) })
      .from(r)
      .where(and(inWindow, eq(r.path, ALL_PATHS), inArray(r.metric, [...VITAL_NAMES])))
      .groupBy(r.period, r.metric)
      .prepare(),
  }
}

export type WindowRow = ReturnType<ReturnType<typeof statements>['window']['all']>[number]
export type TrendRow = ReturnType<ReturnType<typeof statements>['trend']['all']>[number]
