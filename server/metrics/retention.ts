/**
 * @module The metrics tables' retention, registered with the one sweep (jobs/retention.ts): raw
 * hits and samples after RAW_RETENTION_DAYS, rollups and custom metric points after
 * ROLLUP_RETENTION_DAYS, visitor salts after 48 h (visitor-hash.ts).
 */
import { and, eq, gt, lt, sql } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { customMetrics, ROLLUP_GRANS, siteHits, siteRollups, siteSamples } from '../db/schema.ts'
import type { RetentionSweep } from '../jobs/retention.ts'
import { DAY_MS } from '../time.ts'
import { GRAN_MS } from './rollups.ts'
import type { VisitorIds } from './visitor-hash.ts'
import type pg from 'pg'
import type { PgVisitorIds } from './pg-visitor-ids.ts'

export interface MetricsRetention {
  rawDays: number
  rollupDays: number
  /** The metrics clock (tests move it). */
  now: () => number
}

export function registerMetricsRetention(
  sweep: RetentionSweep,
  db: Db,
  visitors: VisitorIds,
  { rawDays, rollupDays, now }: MetricsRetention
): void {
  sweep.byAge(siteHits, siteHits.at, rawDays * DAY_MS, now)
  sweep.byAge(siteSamples, siteSamples.at, rawDays * DAY_MS, now)
  sweep.byAge(customMetrics, customMetrics.at, rollupDays * DAY_MS, now)
  // Walks the primary key site by site instead of scanning it (SELECT DISTINCT would).
  const nextSite = db
    .select({ site: siteRollups.site })
    .from(siteRollups)
    .where(gt(siteRollups.site, sql.placeholder('after')))
    .orderBy(siteRollups.site)
    .limit(1)
    .prepare()
  sweep.step('site_rollups', async (stopping) => {
    const cutoff = now() - rollupDays * DAY_MS
    let n = 0
    for (let site = nextSite.get({ after: '' })?.site; site !== undefined; site = nextSite.get({ after: site })?.site)
      // A period goes once it ended before the cutoff; per (site, gran) a range of the primary key.
      for (const gran of ROLLUP_GRANS) {
        if (stopping?.aborted) return n
        const old = and(
          eq(siteRollups.site, site),
          eq(siteRollups.gran, gran),
          lt(siteRollups.period, cutoff - GRAN_MS[gran])
        )!
        n += await sweep.drain(siteRollups, old, stopping)
      }
    return n
  })
  // Deletes salts 48 h old (and makes today's if no beacon has yet).
  sweep.step('site_salts', () => visitors.rotate())
}

/**
 * The same retention on PostgreSQL: the sweep's own batched deletes (jobs/retention.ts, ctid batches
 * through the PgWriter), site_rollups walked site by site along its primary key as above.
 */
export function registerPgMetricsRetention(
  sweep: RetentionSweep,
  pool: pg.Pool,
  visitors: PgVisitorIds,
  { rawDays, rollupDays, now }: MetricsRetention
): void {
  sweep.byAge(siteHits, siteHits.at, rawDays * DAY_MS, now)
  sweep.byAge(siteSamples, siteSamples.at, rawDays * DAY_MS, now)
  sweep.byAge(customMetrics, customMetrics.at, rollupDays * DAY_MS, now)
  const nextSite = async (after: string) =>
    (
      (await pool.query('SELECT site FROM site_rollups WHERE site > $1 ORDER BY site LIMIT 1', [after])).rows[0] as
        | { site: string }
        | undefined
    )?.site
  sweep.step('site_rollups', async (stopping) => {
    const cutoff = now() - rollupDays * DAY_MS
    let n = 0
    for (let site = await nextSite(''); site !== undefined; site = await nextSite(site))
      for (const gran of ROLLUP_GRANS) {
        if (stopping?.aborted) return n
        const params = () => [site, gran, cutoff - GRAN_MS[gran]]
        n += await sweep.drainPg('site_rollups', 'site = $1 AND gran = $2 AND period < $3', params, stopping)
      }
    return n
  })
  sweep.step('site_salts', () => visitors.rotate())
}
