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
