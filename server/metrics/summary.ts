/**
 * @module The per-site summary behind GET /api/sites/:site/summary, the `vitals` live event and the
 * snapshot: visitors now (memory), page views and vitals over a window (rollups, one grouped read
 * over the window's periods), top pages and the last hour per minute (memory).
 *
 * A window is whole periods ending with the current one (windows.ts `periodsOf`): 24h is the
 * current hour and the 23 before it. `from` in the answer says where the window starts.
 */
import { and, eq, gte, inArray, or, type SQLWrapper, sql } from 'drizzle-orm'
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
type Rolled = Pick<Summary, 'pageviews' | 'vitals' | 'topPages' | 'trend'>

/**
 * Rolled parts of summaries, per site and (window, device), for the window start they were read
 * at: the 28d window scans every day row's histogram (40-54 ms CPU at 10 M samples), and screens and
 * the live push ask for the same one many times between two rollups. Exact: a temporary trigger on
 * this connection drops a site's entries whenever one of its site_rollups rows is written (the
 * rollup job, retention; a write rolled back only drops more), `data_version` drops all after
 * another connection's write, and a window that has moved on to a new period misses. Nothing is
 * read from or kept in it inside a transaction: uncommitted rows may yet roll back. The trigger
 * costs the rollup job's upsert about 0.6 µs a row (15,000 upserts: 35.6 → 44.0 ms CPU, median of 9).
 */
class RolledCache {
  private bySite = new Map<string, Map<string, { from: number; rolled: Rolled }>>()
  private freshness: Freshness

  constructor(sqlite: Sqlite) {
    watchRows(sqlite, 'rollup', 'site_rollups', 'site', (site) => this.bySite.delete(site))
    this.freshness = new Freshness(sqlite, () => this.bySite.clear())
  }

  get(site: string, key: string, from: number, read: () => Rolled): Rolled {
    if (!this.freshness.usable()) return read()
    let entries = this.bySite.get(site)
    const hit = entries?.get(key)
    if (hit && hit.from === from) return hit.rolled
    const rolled = read()
    if (!entries) this.bySite.set(site, (entries = new Map()))
    entries.set(key, { from, rolled })
    return rolled
  }

  static of = perConnection((sqlite) => new RolledCache(sqlite))
}

/** The connection under a drizzle handle: drizzle() sets `$client` on every handle it makes, Db's type omits it. */
const connectionOf = (db: Db): Sqlite => (db as Db & { $client: Sqlite }).$client

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

  /** p75 per period of the window, every period present, oldest first. */
  private trend(site: string, gran: Gran, from: number, count: number, device: Device | null): Summary['trend'] {
    const points = Array.from({ length: count }, (_, i) => {
      const p = { t: new Date(from + i * GRAN_MS[gran]).toISOString() } as Summary['trend'][number]
      for (const name of VITAL_NAMES) p[name] = null
      return p
    })
    for (const r of this.stmts.trend.all({ site, gran, start: from, device })) {
      const point = points[Math.round((r.period - from) / GRAN_MS[gran])]
      if (point && r.n > 0 && isVital(r.metric)) point[r.metric] = percentile(r.metric, decode(r.hist), 0.75)
    }
    return points
  }

  /**
   * The summary of `site` over `window`. Its rolled part may be the cached one, shared with other
   * readers: never mutate an answer.
   */
  summary(site: string, window: SummaryWindow, device: Device | null): Summary {
    const { gran, count, from } = periodsOf(window, this.now())
    const rolled = this.cache.get(site, `${window}\0${device ?? ''}`, from, () =>
      this.rolled(site, gran, count, from, device)
    )
    return {
      site,
      window,
      device: device ?? 'all',
      from: new Date(from).toISOString(),
      visitors: this.presence.counts(site, device ?? undefined),
      pageviews: rolled.pageviews,
      vitals: rolled.vitals,
      topPages: rolled.topPages,
      series: this.presence.series(site, device ?? undefined),
      trend: rolled.trend,
    }
  }

  private rolled(site: string, gran: Gran, count: number, from: number, device: Device | null): Rolled {
    const rows = this.stmts.window.all({ site, gran, start: from, device })

    let pageviews = 0
    const vitals = {} as Record<VitalName, VitalSummary>
    for (const name of VITAL_NAMES) vitals[name] = vitalSummary(name, undefined)
    const views: { path: string; views: number }[] = []
    const byLcp: { path: string; p75: number; samples: number }[] = []
    const byInp: typeof byLcp = []
    for (const r of rows) {
      if (r.path === ALL_PATHS) {
        if (r.metric === 'PV') pageviews = r.n
        else if (isVital(r.metric)) vitals[r.metric] = vitalSummary(r.metric, r)
        continue
      }
      if (r.metric === 'PV') views.push({ path: r.path, views: r.n })
      else if ((r.metric === 'LCP' || r.metric === 'INP') && r.n > 0) {
        const p75 = percentile(r.metric, decode(r.hist), 0.75) ?? 0
        ;(r.metric === 'LCP' ? byLcp : byInp).push({ path: r.path, p75, samples: r.n })
      }
    }
    const worstFirst = (a: { p75: number; samples: number }, b: { p75: number; samples: number }) =>
      b.p75 - a.p75 || b.samples - a.samples
    return {
      pageviews,
      vitals,
      topPages: {
        byViews: views.sort((a, b) => b.views - a.views || a.path.localeCompare(b.path)).slice(0, TOP_PAGES),
        byLcp: byLcp.sort(worstFirst).slice(0, TOP_PAGES),
        byInp: byInp.sort(worstFirst).slice(0, TOP_PAGES),
      },
      trend: this.trend(site, gran, from, count, device),
    }
  }
}

const isVital = (m: string): m is VitalName => (VITAL_NAMES as readonly string[]).includes(m)

function decode(hist: Buffer | null): Int32Array {
  const counts = new Int32Array(MAX_BUCKETS)
  addInto(counts, hist)
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

function vitalSummary(name: VitalName, r: WindowRow | undefined): VitalSummary {
  const n = r?.n ?? 0
  if (!r || n <= 0)
    return { p50: null, p75: null, p95: null, rating: null, shares: { good: 0, ni: 0, poor: 0 }, samples: 0 }
  const counts = decode(r.hist)
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
    or(sql`${ph('device')} IS NULL`, eq(r.device, ph('device')))
  )
  return {
    /** Every path of the window at once. */
    window: db
      .select({
        path: r.path,
        metric: r.metric,
        n: total(r.n),
        good: total(r.good),
        ni: total(r.ni),
        poor: total(r.poor),
        hist: histSum(r.hist),
      })
      .from(r)
      .where(inWindow)
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

type WindowRow = ReturnType<ReturnType<typeof statements>['window']['all']>[number]
