/**
 * `npx tsx bench/metrics-sql.ts [summary|rollup|collect]`: drizzle's query builder against
 * hand-written SQL for the metrics store's statements, in one process on one database, so the choice
 * between them rests on a figure. Each pair runs the same statement with the same parameters; the
 * variants take turns in short rounds (the order rotating each round) so the shared machine's
 * drift falls on both alike, and the median per-call CPU time of the rounds (this process's user +
 * system time: other processes on a shared machine move it less than wall time) is reported with
 * the ratio.
 *
 * - summary: the two reads behind GET /api/sites/:site/summary (Summaries: every path of the window;
 *   the whole site's vitals per period) for each window, all devices, over BENCH_SAMPLES samples
 *   (default 1,000,000) spread over 28 days and rolled up by the product's rollup job.
 * - rollup: one batch of the rollup job (Roller): the grouped reads of 5,000 hit and sample ids and
 *   the upserts of the rows they make, inside a transaction rolled back after each call.
 * Radiator keeps whichever of the two its module uses (each line names which is the product's): the
 * summary reads are drizzle, the rollup batch and the beacon write hand-written (db/metrics-statements.ts).
 * - collect: the beacon's write (RawWrites): a page view insert, a vitals sample insert and the
 *   lookup of the row a repeated CLS/INP report replaces, rolled back likewise; drizzle both
 *   prepared once with placeholders and built per call (what a handler would write inline).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { and, count, eq, gt, lte, sql } from 'drizzle-orm'
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core'
import { dbOf, openStore, type Sqlite } from '../server/db/client.ts'
import { placeholders } from '../server/db/sqlite.ts'
import { beaconStatements, rollupStatements } from '../server/db/metrics-statements.ts'
import { ROLLUP_GRANS, SAMPLE_ID_INDEXED, siteHits, siteRollups, siteSamples } from '../server/db/schema.ts'
import { registerHistogramFunctions } from '../server/db/sqlite-functions.ts'
import { Writer } from '../server/db/writer.ts'
import { Presence } from '../server/metrics/presence.ts'
import { ALL_PATHS, periodOf, Roller } from '../server/metrics/rollups.ts'
import { Summaries } from '../server/metrics/summary.ts'
import { periodsOf } from '../server/metrics/windows.ts'
import { DAY_MS } from '../server/time.ts'
import { VITAL_NAMES, WINDOWS } from '../contract/metrics.ts'
import { compare, ROUNDS } from './cpu-compare.ts'

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 1_000_000)
const SITE = 'shop.example.com'
const PATHS = 50

function line(what: string, r: Record<string, number>): string {
  const [base, ...others] = Object.entries(r)
  const us = (v: number) => (v < 100 ? `${v.toFixed(2)} µs` : `${(v / 1000).toFixed(2)} ms`).padStart(10)
  return `  ${what.padEnd(34)} ${base![0]} ${us(base![1])}${others.map(([n, v]) => `   ${n} ${us(v)} ${(v / base![1]).toFixed(2)}×`).join('')}`
}

/** Samples and page views over 28 days in arrival order, as in bench/collect.ts. */
function seed(sqlite: Sqlite, n: number, end: number): void {
  const span = 28 * DAY_MS
  sqlite
    .prepare(`
    WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < @n - 1),
    s AS (SELECT i, CASE i % 5 WHEN 0 THEN 'LCP' WHEN 1 THEN 'INP' WHEN 2 THEN 'CLS' WHEN 3 THEN 'FCP' ELSE 'TTFB' END AS metric,
      (abs(random()) % 10000) / 10000.0 AS u,
      CASE abs(random()) % 3 WHEN 0 THEN 'mobile' WHEN 1 THEN 'tablet' ELSE 'desktop' END AS device FROM seq)
    INSERT INTO site_samples (site, path, metric, value, rating, nav, device, vid, prev, at)
    SELECT @site, '/products/' || (i % ${PATHS}), metric,
      CASE metric WHEN 'CLS' THEN u * u * 0.5 ELSE 40 + u * u * 5000 END,
      CASE WHEN u < 0.6 THEN 'good' WHEN u < 0.8 THEN 'needs-improvement' ELSE 'poor' END,
      'navigate', device, 'g' || i, CASE WHEN i % 50 = 0 THEN 100 END, @start + i * @step FROM s`)
    .run({ n, site: SITE, start: end - span, step: span / n })
  sqlite
    .prepare(`
    WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < @n - 1)
    INSERT INTO site_hits (site, visitor, kind, path, device, at)
    SELECT @site, 'v' || (i % 5000), 'pageview', '/products/' || (abs(random()) % ${PATHS}),
      CASE abs(random()) % 3 WHEN 0 THEN 'mobile' WHEN 1 THEN 'tablet' ELSE 'desktop' END, @start + i * @step FROM seq`)
    .run({ n: n / 5, site: SITE, start: end - span, step: (span * 5) / n })
}

async function main(parts: string[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'radiator-bench-sql-'))
  const store = openStore(join(dir, 'radiator.db'))
  const sqlite = store.sqlite
  registerHistogramFunctions(sqlite)
  const end = Date.now()
  const lines = [
    `\nmetrics SQL: drizzle vs hand-written (${ROUNDS} rounds, median CPU time per call; ${SAMPLES.toLocaleString('en')} samples over 28 days)`,
  ]
  try {
    sqlite.pragma('synchronous = OFF') // setup only
    seed(sqlite, SAMPLES, end)
    const writer = new Writer(sqlite, store.syncWal)
    const t = performance.now()
    await new Roller(sqlite, writer, 50_000).catchUp()
    lines.push(`  seeded and rolled up in ${((performance.now() - t) / 1000).toFixed(1)} s`)
    await writer.close()

    if (!parts.length || parts.includes('summary')) {
      const hand = {
        window: sqlite.prepare(
          `SELECT path, metric, count(*) AS rows, sum(n) AS n, sum(good) AS good, sum(ni) AS ni, sum(poor) AS poor, hist_sum(hist) AS hist
           FROM site_rollups
           WHERE site = @site AND gran = @gran AND period >= @start AND period < @end AND (@device IS NULL OR device = @device)
           GROUP BY path, metric`
        ),
        trend: sqlite.prepare(
          `SELECT period, metric, sum(n) AS n, hist_sum(hist) AS hist
           FROM site_rollups
           WHERE site = @site AND gran = @gran AND period >= @start AND period < @end AND path = '${ALL_PATHS}'
             AND metric IN (${VITAL_NAMES.map((n) => `'${n}'`).join(', ')}) AND (@device IS NULL OR device = @device)
           GROUP BY period, metric`
        ),
      }
      const summaries = new Summaries(store.db, new Presence(() => end), () => end)
      const ours = (summaries as unknown as { stmts: typeof hand }).stmts
      lines.push("summary reads (Summaries), all devices; Radiator's drizzle statements second:")
      for (const w of WINDOWS) {
        const { gran, from } = periodsOf(w, end)
        const p = { site: SITE, gran, start: from, end: Number.MAX_SAFE_INTEGER, device: null }
        const rows = hand.window.all(p).length
        const same = JSON.stringify(hand.window.all(p)) === JSON.stringify(ours.window.all(p))
        if (!same) throw new Error(`${w}: the two window reads disagree`)
        lines.push(
          line(
            `${w} window (${rows} rows)`,
            compare({ hand: () => hand.window.all(p), drizzle: () => ours.window.all(p) }, 5)
          )
        )
        lines.push(line(`${w} trend`, compare({ hand: () => hand.trend.all(p), drizzle: () => ours.trend.all(p) }, 5)))
      }
    }

    if (!parts.length || parts.includes('rollup')) {
      // Radiator's (hand-written, db/metrics-statements.ts) against the same in drizzle's builder.
      const ours = rollupStatements(sqlite)
      const db = dbOf(sqlite)
      const ph = sql.placeholder
      const [h, smp, r] = [siteHits, siteSamples, siteRollups]
      const minuteOf = (at: SQLiteColumn) => sql<number>`${at} - ${at} % 60000`
      const inBatch = (id: SQLiteColumn) => and(gt(id, ph('afterId')), lte(id, ph('lastId')))
      const drizzled = {
        hits: db
          .select({ site: h.site, path: h.path, device: h.device, minute: minuteOf(h.at).as('minute'), n: count() })
          .from(h)
          .where(and(inBatch(h.id), eq(h.kind, 'pageview')))
          .groupBy(h.site, h.path, h.device, sql`minute`)
          .prepare(),
        samples: db
          .select({
            site: smp.site,
            path: smp.path,
            metric: smp.metric,
            device: smp.device,
            minute: minuteOf(smp.at).as('minute'),
            rating: smp.rating,
            bucket: sql<number>`hist_bucket(${smp.metric}, ${smp.value})`.as('bucket'),
            n: count(),
          })
          .from(smp)
          .where(inBatch(smp.id))
          .groupBy(smp.site, smp.path, smp.metric, smp.device, sql`minute`, smp.rating, sql`bucket`)
          .prepare(),
        upsert: db
          .insert(r)
          .values(
            placeholders(r, ['site', 'gran', 'period', 'path', 'metric', 'device', 'n', 'good', 'ni', 'poor', 'hist'])
          )
          .onConflictDoUpdate({
            target: [r.site, r.gran, r.period, r.path, r.metric, r.device],
            set: {
              n: sql`${r.n} + excluded.n`,
              good: sql`${r.good} + excluded.good`,
              ni: sql`${r.ni} + excluded.ni`,
              poor: sql`${r.poor} + excluded.poor`,
              hist: sql`hist_add(${r.hist}, excluded.hist)`,
            },
          })
          .prepare(),
      }
      const range = { afterId: Math.floor(SAMPLES / 2), lastId: Math.floor(SAMPLES / 2) + 5000 }
      const hitRange = { afterId: Math.floor(SAMPLES / 10), lastId: Math.floor(SAMPLES / 10) + 5000 }
      if (JSON.stringify(ours.samples.all(range.afterId, range.lastId)) !== JSON.stringify(drizzled.samples.all(range)))
        throw new Error('the two sample reads disagree')
      // The rows a batch upserts: what the samples read gives, one per (gran, period, path, …).
      const rows = ours.samples.all(range.afterId, range.lastId).flatMap((g) =>
        ROLLUP_GRANS.map((gran) => ({
          ...g,
          gran,
          period: periodOf(gran, g.minute),
          good: g.n,
          ni: 0,
          poor: 0,
          hist: Buffer.from([1, 0, 0, 0, 1]),
        }))
      )
      const rolledBack = (f: () => void) => () => {
        sqlite.exec('BEGIN')
        try {
          f()
        } finally {
          sqlite.exec('ROLLBACK')
        }
      }
      lines.push(`rollup job (Roller), one batch of 5,000 ids; Radiator's hand-written statements first:`)
      lines.push(
        line(
          'page views grouped per minute',
          compare(
            {
              hand: () => ours.hits.all(hitRange.afterId, hitRange.lastId),
              drizzle: () => drizzled.hits.all(hitRange),
            },
            5
          )
        )
      )
      lines.push(
        line(
          'samples grouped per bucket',
          compare(
            { hand: () => ours.samples.all(range.afterId, range.lastId), drizzle: () => drizzled.samples.all(range) },
            5
          )
        )
      )
      lines.push(
        line(
          `upserts (${rows.length} rows, rolled back)`,
          compare(
            {
              hand: rolledBack(() => {
                for (const a of rows)
                  ours.upsert.run(
                    a.site,
                    a.gran,
                    a.period,
                    a.path,
                    a.metric,
                    a.device,
                    a.n,
                    a.good,
                    a.ni,
                    a.poor,
                    a.hist
                  )
              }),
              drizzle: rolledBack(() => {
                for (const a of rows) drizzled.upsert.run(a)
              }),
            },
            3
          )
        )
      )
    }

    if (!parts.length || parts.includes('collect')) {
      const db = dbOf(sqlite)
      const hand = beaconStatements(sqlite)
      const ph = sql.placeholder
      const prepared = {
        hit: db
          .insert(siteHits)
          .values({
            site: ph('site'),
            visitor: ph('visitor'),
            kind: ph('kind'),
            path: ph('path'),
            device: ph('device'),
            at: ph('at'),
          })
          .prepare(),
        sample: db
          .insert(siteSamples)
          .values({
            site: ph('site'),
            path: ph('path'),
            metric: ph('metric'),
            value: ph('value'),
            rating: ph('rating'),
            nav: ph('nav'),
            device: ph('device'),
            vid: ph('vid'),
            prev: ph('prev'),
            at: ph('at'),
          })
          .prepare(),
        find: db
          .select({
            id: siteSamples.id,
            path: siteSamples.path,
            device: siteSamples.device,
            value: siteSamples.value,
            prev: siteSamples.prev,
            at: siteSamples.at,
          })
          .from(siteSamples)
          .where(
            and(
              eq(siteSamples.vid, ph('vid')),
              eq(siteSamples.site, ph('site')),
              eq(siteSamples.metric, ph('metric')),
              sql.raw(SAMPLE_ID_INDEXED)
            )
          )
          .prepare(),
      }
      const hit = {
        site: SITE,
        visitor: 'abc',
        kind: 'pageview' as const,
        path: '/checkout',
        device: 'desktop' as const,
        at: end,
      }
      const sample = {
        site: SITE,
        path: '/checkout',
        metric: 'LCP',
        value: 1234,
        rating: 'good' as const,
        nav: 'navigate',
        device: 'desktop' as const,
        vid: 'v1-123',
        prev: null,
        at: end,
      }
      const find = { vid: `g${Math.floor(SAMPLES / 2) + 1}`, site: SITE, metric: 'INP' }
      const N = 2000
      const batch = (f: () => void) => () => {
        sqlite.exec('BEGIN')
        try {
          for (let i = 0; i < N; i++) f()
        } finally {
          sqlite.exec('ROLLBACK')
        }
      }
      const perRow = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v / N]))
      lines.push(
        `beacon write (RawWrites), per statement (${N} per transaction, rolled back); Radiator's hand-written first:`
      )
      lines.push(
        line(
          'page view insert',
          perRow(
            compare(
              {
                hand: batch(() => hand.hit.run(hit.site, hit.visitor, hit.kind, hit.path, hit.device, hit.at)),
                prepared: batch(() => prepared.hit.run(hit)),
                builder: batch(() => db.insert(siteHits).values(hit).run()),
              },
              3
            )
          )
        )
      )
      lines.push(
        line(
          'vitals sample insert',
          perRow(
            compare(
              {
                hand: batch(() =>
                  hand.sample.run(
                    sample.site,
                    sample.path,
                    sample.metric,
                    sample.value,
                    sample.rating,
                    sample.nav,
                    sample.device,
                    sample.vid,
                    sample.prev,
                    sample.at
                  )
                ),
                prepared: batch(() => prepared.sample.run(sample)),
                builder: batch(() => db.insert(siteSamples).values(sample).run()),
              },
              3
            )
          )
        )
      )
      lines.push(
        line(
          'replaced-row lookup (CLS/INP)',
          perRow(
            compare(
              {
                hand: batch(() => hand.findReplaced.get(find.vid, find.site, find.metric)),
                prepared: batch(() => prepared.find.get(find)),
                builder: batch(() =>
                  db
                    .select()
                    .from(siteSamples)
                    .where(
                      and(
                        eq(siteSamples.vid, find.vid),
                        eq(siteSamples.site, find.site),
                        eq(siteSamples.metric, find.metric),
                        sql.raw(SAMPLE_ID_INDEXED)
                      )
                    )
                    .get()
                ),
              },
              3
            )
          )
        )
      )
    }
    return lines.join('\n')
  } finally {
    store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

console.log(await main(process.argv.slice(2)))
