/**
 * @module The rollup job on PostgreSQL (issue 17): the same batches, watermarks and rows as
 * rollups.ts on SQLite, run by the leader only (`cluster: 'leader'`), with two differences.
 *
 * The safe horizon. On SQLite one writer commits in id order, so every id up to the largest visible
 * one is settled. Here an identity id is taken at INSERT, not at COMMIT: instance A takes id 10 and
 * is still in its transaction while B takes 11 and commits; a watermark moved to 11 would skip 10
 * forever once A commits. So a batch only reads ids up to a horizon every transaction is done with:
 * 1. read each sequence's last handed-out value M (sequences are not transactional: this includes
 *    ids of transactions still open; CACHE 1, so values are handed out in increasing order);
 * 2. then list the transaction ids of every backend of this database that has one;
 * 3. wait until none of those transactions is still running (polling; on timeout the horizon stays
 *    where it was, and the next run tries again).
 * Why that is enough: a transaction holding an id ≤ M took it before step 1 read M. Every raw
 * insert first makes sure its transaction has a transaction id (pg-raw.ts), so that transaction had
 * one before step 1, hence at step 2 it was either finished or listed — and step 3 waits for it.
 * After step 3, every row with id ≤ M is committed (visible) or rolled back (never will be).
 * Filtering to this database keeps a long transaction elsewhere on the server from holding the
 * horizon back; the writers of these tables are all connected to this database. The wait happens on
 * a pool connection, outside the writer: this instance's beacons keep committing meanwhile.
 *
 * No `hist_add` on the server: the rows a batch adds to are read `FOR UPDATE`, their histograms
 * merged in JS (the same `merge` SQLite's function calls) and written back whole. The batch also
 * locks both watermark rows `FOR UPDATE` first, so a replaced sample's collect (which reads the
 * samples watermark `FOR SHARE`) decides "rolled up or not" against a watermark that cannot move
 * under it, and two rollers (a leader deposed without knowing it yet) take turns.
 */
import type pg from 'pg'
import type { PgWriter } from '../db/pg/writer.ts'
import type { Job } from '../jobs/scheduler.ts'
import { rate } from '../../contract/metrics.ts'
import { bucketOf, encodeMap, merge } from './histogram.ts'
import { WM_HITS, WM_SAMPLES } from './pg-raw.ts'
import { asVital, Fold, type RollResult } from './rollups.ts'

const BATCH = 5000
/** How long one run waits for the transactions below a new horizon to end before trying next run. */
const HORIZON_WAIT_MS = 2000

export interface Horizon {
  hits: number
  samples: number
}

const LAST_IDS = `SELECT
    (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM site_hits_id_seq)::text AS hits,
    (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM site_samples_id_seq)::text AS samples`
const OPEN_XIDS = `SELECT coalesce(array_agg(backend_xid::text), '{}') AS xids FROM pg_stat_activity
    WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()`
const STILL_OPEN = `SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE datname = current_database() AND backend_xid = ANY($1::xid[])`

const LOCK_WATERMARKS = {
  ensure: `INSERT INTO meta (key, value) VALUES ('${WM_HITS}', '0'), ('${WM_SAMPLES}', '0') ON CONFLICT (key) DO NOTHING`,
  select: `SELECT key, value FROM meta WHERE key IN ('${WM_HITS}', '${WM_SAMPLES}') ORDER BY key FOR UPDATE`,
}
const HITS = `SELECT site, path, device, (at - at % 60000)::float8 AS minute, count(*)::int AS n FROM site_hits
    WHERE id > $1 AND id <= $2 AND kind = 'pageview' GROUP BY 1, 2, 3, 4`
const SAMPLES = `SELECT site, path, metric, device, (at - at % 60000)::float8 AS minute, rating, array_agg(value) AS vals
    FROM site_samples WHERE id > $1 AND id <= $2 GROUP BY 1, 2, 3, 4, 5, 6`
const REPLACED = `SELECT site, path, metric, device, prev, at::float8 AS at FROM site_samples
    WHERE id > $1 AND id <= $2 AND prev IS NOT NULL`
const KEYS = `unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[])`
const HISTS = `SELECT r.site, r.gran, r.period::float8 AS period, r.path, r.metric, r.device, r.hist FROM site_rollups r
    JOIN ${KEYS} AS k(site, gran, period, path, metric, device) USING (site, gran, period, path, metric, device)
    FOR UPDATE OF r`
const UPSERT = `INSERT INTO site_rollups (site, gran, period, path, metric, device, n, good, ni, poor, hist)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[],
      $8::bigint[], $9::bigint[], $10::bigint[], $11::bytea[])
    ON CONFLICT (site, gran, period, path, metric, device) DO UPDATE SET
      n = site_rollups.n + excluded.n, good = site_rollups.good + excluded.good, ni = site_rollups.ni + excluded.ni,
      poor = site_rollups.poor + excluded.poor, hist = excluded.hist`
const SET_WATERMARK = 'UPDATE meta SET value = $2 WHERE key = $1'

const keyOf = (r: { site: string; gran: string; period: number; path: string; metric: string; device: string }) =>
  `${r.site}\0${r.gran}\0${r.period}\0${r.path}\0${r.metric}\0${r.device}`

export class PgRoller {
  private running: Promise<RollResult> | null = null
  /** The newest horizon known safe; ids up to it may be rolled up. */
  private safe: Horizon = { hits: 0, samples: 0 }
  /** The watermarks as this roller last wrote or read them: nothing new below the horizon, no transaction. */
  private rolled: Horizon = { hits: -1, samples: -1 }

  constructor(
    private pool: pg.Pool,
    private writer: PgWriter,
    private batch = BATCH,
    private horizonWaitMs = HORIZON_WAIT_MS
  ) {}

  /** Moves the horizon as far as is safe now, then rolls up one batch below it; concurrent calls share the run. */
  runOnce(): Promise<RollResult> {
    return (this.running ??= this.advance()
      .then(() =>
        // Idle, a batch would still lock the watermark rows and COMMIT (a WAL flush) every second.
        this.safe.hits <= this.rolled.hits && this.safe.samples <= this.rolled.samples
          ? { more: false, sites: new Set<string>() }
          : this.writer
              .write((tx) => this.roll(tx))
              .then(({ through, ...r }) => {
                this.rolled = through
                return r
              })
      )
      .finally(() => (this.running = null)))
  }

  /** Rolls until caught up with the horizon (tests, the benchmark). */
  async catchUp(): Promise<void> {
    while ((await this.runOnce()).more);
  }

  /** Steps 1-3 of the module comment. False when the wait timed out (the horizon did not move). */
  async advance(): Promise<boolean> {
    const c = await this.pool.connect()
    try {
      const last = (await c.query(LAST_IDS)).rows[0] as { hits: string; samples: string }
      const xids = ((await c.query(OPEN_XIDS)).rows[0] as { xids: string[] }).xids
      const end = Date.now() + this.horizonWaitMs
      for (let wait = 1; xids.length; wait = Math.min(wait * 2, 50)) {
        const open = ((await c.query(STILL_OPEN, [xids])).rows[0] as { n: number }).n
        if (open === 0) break
        if (Date.now() > end) return false
        await new Promise((r) => setTimeout(r, wait))
      }
      this.safe = {
        hits: Math.max(this.safe.hits, Number(last.hits)),
        samples: Math.max(this.safe.samples, Number(last.samples)),
      }
      return true
    } finally {
      c.release()
    }
  }

  /** One batch below the safe horizon, inside a writer op. */
  private async roll(tx: pg.ClientBase): Promise<RollResult & { through: Horizon }> {
    await tx.query(LOCK_WATERMARKS.ensure)
    const wm = new Map(
      ((await tx.query(LOCK_WATERMARKS.select)).rows as { key: string; value: string }[]).map((r) => [
        r.key,
        Number(r.value),
      ])
    )
    const range = (key: string, horizon: number) => {
      const from = wm.get(key) ?? 0
      return { from, to: Math.max(from, Math.min(horizon, from + this.batch)), more: horizon > from + this.batch }
    }
    const fold = new Fold()
    const add = fold.add

    const h = range(WM_HITS, this.safe.hits)
    if (h.to > h.from)
      for (const g of (await tx.query(HITS, [h.from, h.to])).rows)
        add(g.site, g.path, 'PV', g.device, g.minute, g.n, 0, null)

    const v = range(WM_SAMPLES, this.safe.samples)
    if (v.to > v.from) {
      for (const r of (await tx.query(REPLACED, [v.from, v.to])).rows) {
        const metric = asVital(r.metric)
        add(r.site, r.path, metric, r.device, r.at, -1, bucketOf(metric, r.prev), rate(metric, r.prev))
      }
      for (const g of (await tx.query(SAMPLES, [v.from, v.to])).rows) {
        const metric = asVital(g.metric)
        const buckets = new Map<number, number>()
        for (const value of g.vals as number[]) {
          const b = bucketOf(metric, value)
          buckets.set(b, (buckets.get(b) ?? 0) + 1)
        }
        for (const [bucket, n] of buckets) add(g.site, g.path, metric, g.device, g.minute, n, bucket, g.rating)
      }
    }

    const aggs = [...fold.aggs.values()]
    if (aggs.length) {
      const withHist = aggs.filter((a) => a.hist)
      const old = new Map<string, Buffer | null>()
      if (withHist.length)
        for (const r of (
          await tx.query(HISTS, columns(withHist, ['site', 'gran', 'period', 'path', 'metric', 'device']))
        ).rows)
          old.set(keyOf(r), r.hist)
      const hists = aggs.map((a) => (a.hist ? merge(old.get(keyOf(a)) ?? null, encodeMap(a.hist)) : null))
      await tx.query(UPSERT, [
        ...columns(aggs, ['site', 'gran', 'period', 'path', 'metric', 'device', 'n', 'good', 'ni', 'poor']),
        hists,
      ])
    }
    if (h.to > h.from) await tx.query(SET_WATERMARK, [WM_HITS, String(h.to)])
    if (v.to > v.from) await tx.query(SET_WATERMARK, [WM_SAMPLES, String(v.to)])
    return { more: h.more || v.more, sites: fold.sites, through: { hits: h.to, samples: v.to } }
  }

  /** The rollup job, once per cluster: every `everyMs`, rolling batch after batch while behind. */
  job(everyMs: number, onRolled: (sites: Set<string>) => void): Job {
    return {
      name: 'rollups',
      every: everyMs,
      cluster: 'leader',
      run: async (stopping) => {
        for (;;) {
          const r = await this.runOnce()
          if (r.sites.size) onRolled(r.sites)
          if (!r.more || stopping.aborted) break
        }
      },
    }
  }
}

/** Column arrays for an unnest() insert, in the order named. */
function columns<T, K extends keyof T>(rows: readonly T[], keys: readonly K[]): T[K][][] {
  return keys.map((k) => rows.map((r) => r[k]))
}
