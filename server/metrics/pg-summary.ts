/**
 * @module Site summaries on PostgreSQL (issue 17): the same answer as summary.ts on SQLite, built by
 * the same code (`answer`) from the same grouped rows. Two differences: the window's histograms are
 * merged in JS (PostgreSQL has no `hist_sum`: the group's histograms come back as one array and are
 * added up here, exactly, as integers), and nothing is cached: SQLite's cache learns of every write
 * to site_rollups through a trigger on its own connection, which a database written by other
 * instances cannot give. A summary is two indexed reads of one period range; the live `vitals`
 * push reads it at most every 10 s per site.
 */
import type pg from 'pg'
import { type Device, type Summary, type SummaryWindow, VITAL_NAMES } from '../../contract/metrics.ts'
import { addInto, encode, MAX_BUCKETS } from './histogram.ts'
import type { Presence } from './presence.ts'
import { ALL_PATHS } from './rollups.ts'
import { answer, OPEN, type Part, spanOf, summaryOf, type TrendRow, type WindowRow } from './summary.ts'
import { periodsOf } from './windows.ts'

const IN_WINDOW = `site = $1 AND gran = $2 AND period >= $3 AND period < $4 AND ($5::text IS NULL OR device = $5)`
const WINDOW = {
  name: 'radiator_summary_window',
  text: `SELECT path, metric, count(*)::int AS rows, sum(n)::float8 AS n, sum(good)::float8 AS good,
      sum(ni)::float8 AS ni, sum(poor)::float8 AS poor, array_agg(hist) FILTER (WHERE hist IS NOT NULL) AS hists
    FROM site_rollups WHERE ${IN_WINDOW} GROUP BY path, metric`,
}
const TREND = {
  name: 'radiator_summary_trend',
  text: `SELECT period::float8 AS period, metric, sum(n)::float8 AS n,
      array_agg(hist) FILTER (WHERE hist IS NOT NULL) AS hists
    FROM site_rollups WHERE ${IN_WINDOW} AND path = '${ALL_PATHS}'
      AND metric IN (${VITAL_NAMES.map((m) => `'${m}'`).join(', ')})
    GROUP BY period, metric`,
}

/** What SQLite's `hist_sum` answers: the histograms added up, encoded; null when there were none. */
function histSum(hists: Buffer[] | null): Buffer | null {
  if (!hists?.length) return null
  const counts = new Int32Array(MAX_BUCKETS)
  for (const h of hists) addInto(counts, h)
  return encode(counts)
}

export class PgSummaries {
  constructor(
    private pool: pg.Pool,
    private presence: Presence,
    private now: () => number
  ) {}

  async summary(site: string, window: SummaryWindow, device: Device | null): Promise<Summary> {
    const { gran, count, from } = periodsOf(window, this.now())
    const params = [site, gran, from, OPEN, device]
    const [rows, trend] = await Promise.all([this.pool.query(WINDOW, params), this.pool.query(TREND, params)])
    const part: Part = {
      rows: rows.rows.map(({ hists, ...r }): WindowRow => ({ ...r, hist: histSum(hists) })),
      trend: trend.rows.map(({ hists, ...r }): TrendRow => ({ ...r, hist: histSum(hists) })),
    }
    const rolled = answer(spanOf(part), { rows: [], trend: [] }, gran, from, count)
    return summaryOf(this.presence, site, window, device, from, rolled)
  }
}
