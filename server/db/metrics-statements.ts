/**
 * @module The metrics store's hand-written statements: only where a benchmark showed drizzle costing
 * measurable CPU (`npx tsx bench/metrics-sql.ts`, CPU time per call, both on the same database).
 * Everything else in the metrics store goes through drizzle on schema.ts; the rows here are typed
 * from it. SQLite dialect with better-sqlite3's `?` placeholders; the rollup statements call the SQL
 * functions of sqlite-functions.ts.
 */
import type { Sqlite } from './client.ts'
import { SAMPLE_ID_INDEXED, type siteHits, type siteRollups, type siteSamples } from './schema.ts'

type Hit = typeof siteHits.$inferSelect
type Sample = typeof siteSamples.$inferSelect
type Rollup = typeof siteRollups.$inferInsert

/**
 * The row a repeated report replaces. The IN term is what lets SQLite use the partial index (a
 * bound `metric = ?` alone can't prove the index's condition when the statement is prepared).
 */
export const FIND_REPLACED = `SELECT id, path, device, value, prev, at FROM site_samples
  WHERE vid = ? AND site = ? AND metric = ? AND ${SAMPLE_ID_INDEXED}`

/**
 * The beacon's write, the store's one hot path (a beacon costs 65-115 µs of server CPU in all): per
 * row, drizzle's prepared insert measured 1.6-1.8× these (page view 1.94 → 3.10 µs, vitals sample
 * 2.38 → 4.32 µs) and its builder 15-16×; the replaced-row lookup 1.2× prepared, 39× built.
 */
export function beaconStatements(sqlite: Sqlite) {
  return {
    hit: sqlite.prepare<[Hit['site'], Hit['visitor'], Hit['kind'], Hit['path'], Hit['device'], Hit['at']]>(
      'INSERT INTO site_hits (site, visitor, kind, path, device, at) VALUES (?, ?, ?, ?, ?, ?)'
    ),
    sample: sqlite.prepare<
      [
        Sample['site'],
        Sample['path'],
        Sample['metric'],
        Sample['value'],
        Sample['rating'],
        Sample['nav'],
        Sample['device'],
        Sample['vid'],
        Sample['prev'],
        Sample['at'],
      ]
    >(
      'INSERT INTO site_samples (site, path, metric, value, rating, nav, device, vid, prev, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
    ),
    findReplaced: sqlite.prepare<
      [Sample['vid'], Sample['site'], Sample['metric']],
      Pick<Sample, 'id' | 'path' | 'device' | 'value' | 'prev' | 'at'>
    >(FIND_REPLACED),
    deleteSample: sqlite.prepare<[Sample['id']]>('DELETE FROM site_samples WHERE id = ?'),
  }
}

/** Rows of one rollup batch counted per minute (and per bucket, for samples) inside SQLite. */
type HitGroup = Pick<Hit, 'site' | 'path' | 'device'> & { minute: number; n: number }
type SampleGroup = Pick<Sample, 'site' | 'path' | 'metric' | 'device' | 'rating'> & {
  minute: number
  bucket: number
  n: number
}

/**
 * The rollup job's grouped reads and its upsert. Batches are id ranges (ids only grow:
 * AUTOINCREMENT), grouped to the minute in SQLite: a busy second of beacons becomes a few hundred
 * groups, where folding row by row in JS was the largest cost of the job. Per batch of 5,000 ids,
 * drizzle measured 1.3× on each grouped read (10.5 → 13.7 ms, 16.0 → 20.8 ms: mapping every group
 * row) and 1.07-1.4× on the upserts over three runs (85 → 120 ms, 130 → 140 ms for 15,000 rows).
 */
export function rollupStatements(sqlite: Sqlite) {
  return {
    hits: sqlite.prepare<[from: number, to: number], HitGroup>(
      `SELECT site, path, device, at - at % 60000 AS minute, count(*) AS n FROM site_hits
       WHERE id > ? AND id <= ? AND kind = 'pageview' GROUP BY site, path, device, minute`
    ),
    samples: sqlite.prepare<[from: number, to: number], SampleGroup>(
      `SELECT site, path, metric, device, at - at % 60000 AS minute, rating, hist_bucket(metric, value) AS bucket,
         count(*) AS n
       FROM site_samples WHERE id > ? AND id <= ? GROUP BY site, path, metric, device, minute, rating, bucket`
    ),
    upsert: sqlite.prepare<
      [
        Rollup['site'],
        Rollup['gran'],
        Rollup['period'],
        Rollup['path'],
        Rollup['metric'],
        Rollup['device'],
        Rollup['n'],
        Rollup['good'],
        Rollup['ni'],
        Rollup['poor'],
        Rollup['hist'],
      ]
    >(
      `INSERT INTO site_rollups (site, gran, period, path, metric, device, n, good, ni, poor, hist)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (site, gran, period, path, metric, device) DO UPDATE SET
         n = n + excluded.n, good = good + excluded.good, ni = ni + excluded.ni,
         poor = poor + excluded.poor, hist = hist_add(hist, excluded.hist)`
    ),
  }
}
