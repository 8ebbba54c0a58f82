/**
 * The site metrics on PostgreSQL (issue 17) against the real services: the same beacons written and
 * rolled up on both engines make the same rollup rows and the same summaries; the rollup horizon
 * never skips a row committed late with a lower id; visitor ids and presence agree across instances.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NatsBus } from '../cluster/bus.ts'
import { openStore, type Store } from '../db/client.ts'
import { openPgStore, type PgStore } from '../db/pg/client.ts'
import { PgWriter } from '../db/pg/writer.ts'
import { registerHistogramFunctions } from '../db/sqlite-functions.ts'
import { Writer } from '../db/writer.ts'
import { until } from '../test/harness.ts'
import { freshDatabase, NATS_URL, servicesUp, uniqueName } from '../test/services.ts'
import { DEVICES, type CollectEvent, type Device, WINDOWS } from '../../contract/metrics.ts'
import { RetentionSweep } from '../jobs/retention.ts'
import { PgRawWrites } from './pg-raw.ts'
import { registerPgMetricsRetention } from './retention.ts'
import { PgRoller } from './pg-rollups.ts'
import { PgSummaries } from './pg-summary.ts'
import { PgVisitorIds } from './pg-visitor-ids.ts'
import { Presence } from './presence.ts'
import { RawWrites, type RawBeacon } from './raw.ts'
import { Roller } from './rollups.ts'
import { loadPresenceFrom, PresenceCatchUp, PresenceShare } from './shared-presence.ts'
import { Summaries } from './summary.ts'

const up = servicesUp('postgres')
const T0 = Date.UTC(2026, 9, 3, 23, 40, 0) // the beacons cross midnight: minute, hour and day rows roll over

/** A deterministic mix: page views, heartbeats, every vital, CLS/INP reported again (some after a rollup). */
function beacons(): { beacon: RawBeacon; rollAfter: boolean }[] {
  const out: { beacon: RawBeacon; rollAfter: boolean }[] = []
  for (let i = 0; i < 400; i++) {
    const at = T0 + i * 9_000
    const device = DEVICES[i % 3] as Device
    const path = `/p${i % 7}`
    const events: CollectEvent[] = [
      { type: 'pageview', path },
      { type: 'heartbeat', path },
      { type: 'vital', path, name: 'LCP', value: 300 + ((i * 97) % 5000), id: `lcp${i}` },
      { type: 'vital', path, name: 'INP', value: 20 + ((i * 61) % 700), id: `inp${i}` },
      { type: 'vital', path, name: 'CLS', value: ((i * 13) % 50) / 100, id: `cls${i}` },
    ]
    if (i % 4 === 0) events.push({ type: 'vital', path, name: 'TTFB', value: 50 + i, id: `ttfb${i}` })
    out.push({
      beacon: { site: i % 5 ? 'a.example' : 'b.example', visitor: `v${i % 11}`, device, events, at },
      rollAfter: i % 9 === 0,
    })
    if (i % 3 === 0) {
      const again: CollectEvent[] = [
        { type: 'vital', path: '/later', name: 'INP', value: 800 + i, id: `inp${i}` },
        { type: 'vital', path: '/later', name: 'CLS', value: 0.3 + i / 1000, id: `cls${i}` },
      ]
      out.push({
        beacon: {
          site: i % 5 ? 'a.example' : 'b.example',
          visitor: `v${i % 11}`,
          device,
          events: again,
          at: at + 120_000,
        },
        rollAfter: i % 6 === 0,
      })
    }
  }
  return out
}

describe.skipIf(!up)('site metrics on PostgreSQL', () => {
  let dir: string
  let lite: Store
  let liteWriter: Writer
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let store: PgStore
  let writer: PgWriter

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'radiator-pgmetrics-'))
    lite = openStore(join(dir, 'radiator.db'))
    registerHistogramFunctions(lite.sqlite)
    liteWriter = new Writer(lite.sqlite, lite.syncWal)
    db = await freshDatabase()
    store = await openPgStore(db.url)
    writer = new PgWriter(db.url)
  })

  afterAll(async () => {
    await writer?.close()
    await store?.close()
    await db?.drop()
    await liteWriter?.close()
    lite?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('collects, rolls up and summarizes the same beacons into the same rows and answers as SQLite', async () => {
    const liteRoller = new Roller(lite.sqlite, liteWriter, 50)
    const liteRaw = new RawWrites(lite.sqlite, () => liteRoller.rolledSamplesThrough())
    const roller = new PgRoller(store.pool, writer, 50)
    const raw = new PgRawWrites()
    writer.addHooks(raw)

    const all = beacons()
    for (let i = 0; i < all.length; i++) {
      // Every seventh beacon is written in one transaction with the next (a re-report often is):
      // the row a re-report replaces may still be in PostgreSQL's per-transaction buffer.
      const group = i % 7 === 3 && i + 1 < all.length ? [all[i]!, all[++i]!] : [all[i]!]
      await Promise.all(
        group.flatMap(({ beacon }) => [
          liteWriter.write(() => liteRaw.write(beacon)),
          writer.write((tx) => raw.write(tx, beacon)),
        ])
      )
      if (group.some((g) => g.rollAfter)) await Promise.all([liteRoller.runOnce(), roller.runOnce()])
    }
    await liteRoller.catchUp()
    await roller.catchUp()
    expect(raw.stats.hitInserts).toBeGreaterThan(0)
    const samples = 'SELECT site, path, metric, value, rating, nav, device, vid, prev FROM site_samples ORDER BY vid'
    expect((await store.pool.query(samples)).rows).toEqual(lite.sqlite.prepare(samples).all())

    const order = 'ORDER BY site, gran, period, path, metric, device'
    const liteRows = lite.sqlite
      .prepare(`SELECT site, gran, period, path, metric, device, n, good, ni, poor, hist FROM site_rollups ${order}`)
      .all() as Record<string, unknown>[]
    const pgRows = (
      await store.pool.query(
        `SELECT site, gran, period::float8 AS period, path, metric, device, n::float8 AS n, good::float8 AS good,
          ni::float8 AS ni, poor::float8 AS poor, hist FROM site_rollups ${order}`
      )
    ).rows
    expect(liteRows.length).toBeGreaterThan(100)
    expect(pgRows).toEqual(liteRows)

    const end = T0 + 400 * 9_000 + 60_000
    const now = () => end
    const liteSummaries = new Summaries(lite.db, new Presence(now), now)
    const pgSummaries = new PgSummaries(store.pool, new Presence(now), now)
    for (const site of ['a.example', 'b.example'])
      for (const window of WINDOWS)
        for (const device of [null, ...DEVICES]) {
          const want = liteSummaries.summary(site, window, device)
          expect(await pgSummaries.summary(site, window, device)).toEqual(want)
        }
    expect(liteSummaries.summary('a.example', '24h', null).pageviews).toBeGreaterThan(0)
  })

  it('never skips a row that commits after a higher id: the horizon waits for it, and each row is counted once', async () => {
    const fresh = await freshDatabase()
    const s = await openPgStore(fresh.url)
    const w = new PgWriter(fresh.url)
    const a = new pg.Client({ connectionString: fresh.url })
    const b = new pg.Client({ connectionString: fresh.url })
    await a.connect()
    await b.connect()
    try {
      const view = (visitor: string): RawBeacon => ({
        site: 'h.example',
        visitor,
        device: 'desktop',
        events: [{ type: 'pageview', path: '/' }],
        at: T0,
      })
      const views = async () =>
        Number(
          (
            await s.pool.query(
              "SELECT coalesce(sum(n), 0)::int AS n FROM site_rollups WHERE gran = 'm' AND path = '*' AND metric = 'PV'"
            )
          ).rows[0].n
        )
      // A takes the lower id and stays open; B takes the next one and commits.
      const rawA = new PgRawWrites()
      const rawB = new PgRawWrites()
      await a.query('BEGIN')
      await rawA.write(a, view('a'))
      await rawA.flush(a)
      await b.query('BEGIN')
      await rawB.write(b, view('b'))
      await rawB.flush(b)
      await b.query('COMMIT')
      const ids = (await s.pool.query('SELECT id::int AS id FROM site_hits')).rows
      expect(ids).toEqual([{ id: 2 }]) // B's row visible, A's (id 1) not yet

      const roller = new PgRoller(s.pool, w, 5000, 300)
      expect(await roller.advance()).toBe(false) // A is open: the horizon stays
      await roller.runOnce()
      expect(await views()).toBe(0) // B's row waits too: a watermark at 2 would skip 1 forever

      await a.query('COMMIT')
      await roller.runOnce()
      expect(await views()).toBe(2)
      await roller.runOnce()
      expect(await views()).toBe(2)
      const wm = (await s.pool.query("SELECT value FROM meta WHERE key = 'metrics_rolled_hits'")).rows[0].value
      expect(wm).toBe('2')
    } finally {
      await a.end()
      await b.end()
      await w.close()
      await s.close()
      await fresh.drop()
    }
  })

  it('deletes raw rows, rollups, custom points and salts past their retention, in batches', async () => {
    const now = () => T0
    const day = 24 * 3600_000
    const old = T0 - 31 * day
    await store.pool.query('TRUNCATE site_hits, site_rollups, custom_metrics, site_salts')
    await store.pool.query(
      `INSERT INTO site_hits (site, visitor, kind, path, device, at)
        SELECT 'a.example', 'v', 'heartbeat', '/', 'desktop', $1 FROM generate_series(1, 25)`,
      [old]
    )
    await store.pool.query(
      "INSERT INTO site_hits (site, visitor, kind, path, device, at) VALUES ('a.example', 'v', 'pageview', '/', 'desktop', $1)",
      [T0]
    )
    for (const [site, period] of [
      ['a.example', T0 - 402 * day], // ended more than 400 days ago
      ['a.example', T0 - day],
      ['b.example', T0 - 403 * day],
    ] as const)
      await store.pool.query(
        `INSERT INTO site_rollups (site, gran, period, path, metric, device, n, good, ni, poor)
          VALUES ($1, 'd', $2, '*', 'PV', 'desktop', 1, 0, 0, 0)`,
        [site, period]
      )
    await store.pool.query("INSERT INTO custom_metrics (name, value, at) VALUES ('q', 1, $1), ('q', 2, $2)", [
      T0 - 401 * day,
      T0,
    ])
    await store.pool.query("INSERT INTO site_salts (day, salt) VALUES ($1, '\\x00')", [T0 - 3 * day])
    const sweep = RetentionSweep.on({ kind: 'pg', store, writer }, 10)
    registerPgMetricsRetention(sweep, store.pool, new PgVisitorIds(store.pool, now), {
      rawDays: 30,
      rollupDays: 400,
      now,
    })
    const r = await sweep.run()
    expect(r).toMatchObject({ site_hits: 25, site_rollups: 2, custom_metrics: 1, site_salts: 1 })
    const left = async (table: string) => (await store.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n
    expect(await left('site_hits')).toBe(1)
    expect(await left('site_rollups')).toBe(1)
    expect(await left('custom_metrics')).toBe(1)
    expect(await left('site_salts')).toBe(1) // today's, made by the rotation
  })

  it('catches presence up from the table: a visitor whose announcement was lost is counted, rows read twice change nothing', async () => {
    const t = Date.now()
    const now = () => t
    const hit = (visitor: string, kind: string, at: number) =>
      store.pool.query(
        "INSERT INTO site_hits (site, visitor, kind, path, device, at) VALUES ('c.example', $1, $2, '/', 'mobile', $3)",
        [visitor, kind, at]
      )
    await hit('v1', 'pageview', t - 60_000)
    const presence = new Presence(now)
    const catchUp = new PresenceCatchUp(store.pool, presence, await loadPresenceFrom(store.pool, presence))
    expect(presence.counts('c.example')).toEqual({ live: 0, last5m: 1 })
    const series = presence.series('c.example')
    // Written by an instance that died before announcing them.
    await hit('v2', 'pageview', t - 10_000)
    await hit('v1', 'heartbeat', t - 5_000)
    await hit('v2', 'leave', t - 1_000)
    expect(await catchUp.run()).toBeGreaterThanOrEqual(3)
    expect(presence.counts('c.example')).toEqual({ live: 1, last5m: 2 })
    await catchUp.run()
    expect(presence.counts('c.example')).toEqual({ live: 1, last5m: 2 })
    // Page views are counted where they were announced (or at start), never by the catch-up.
    const views = (p: Presence) => p.series('c.example').reduce((n, m) => n + m.pageviews, 0)
    expect(views(presence)).toBe(series.reduce((n, m) => n + m.pageviews, 0))
  })

  it('gives a visitor the same id on every instance, the cluster making one salt per day', async () => {
    let t = T0
    const now = () => t
    const one = new PgVisitorIds(store.pool, now)
    const two = new PgVisitorIds(store.pool, now)
    await Promise.all([one.ready(), two.ready()])
    const never = () => false
    expect(one.idFor('a.example', '10.0.0.1', 'UA', never)).toBe(two.idFor('a.example', '10.0.0.1', 'UA', never))
    t += 24 * 3600_000 // the next day: each instance notices on its own and reads the same new salt
    expect(one.ready()).toBeInstanceOf(Promise)
    await Promise.all([one.ready(), two.ready()])
    const a = one.idFor('a.example', '10.0.0.1', 'UA', never)
    expect(a).toBe(two.idFor('a.example', '10.0.0.1', 'UA', never))
    expect(one.days()).toEqual(two.days())
  })
})

describe.skipIf(!servicesUp('nats'))('presence shared over the bus', () => {
  const ncs: NatsConnection[] = []
  afterAll(async () => {
    for (const nc of ncs) await nc.close()
  })

  it('counts a visitor whose beacons land on two instances once, on both, as one instance would', async () => {
    const prefix = uniqueName('presence')
    const t = Date.now()
    const now = () => t
    const nodes = await Promise.all(
      [0, 1].map(async () => {
        const nc = await connect({ servers: NATS_URL })
        ncs.push(nc)
        const presence = new Presence(now)
        const touched = new Set<string>()
        const share = new PresenceShare(presence, new NatsBus(nc, prefix), (s) => s.forEach((x) => touched.add(x)), 50)
        share.start()
        return { presence, share, touched }
      })
    )
    await Promise.all(ncs.map((nc) => nc.flush()))
    const alone = new Presence(now)
    const hits: [number, string, Device, 'pageview' | 'heartbeat' | 'leave', number][] = [
      [0, 'v1', 'desktop', 'pageview', t - 30_000],
      [1, 'v1', 'desktop', 'heartbeat', t - 5_000], // the same visitor, on the other instance
      [1, 'v2', 'mobile', 'pageview', t - 200_000],
      [0, 'v3', 'mobile', 'pageview', t - 10_000],
      [1, 'v3', 'mobile', 'leave', t - 1_000],
    ]
    for (const [node, visitor, device, kind, at] of hits) {
      nodes[node]!.share.record('s.example', visitor, device, kind, at)
      alone.record('s.example', visitor, device, kind, at)
    }
    const want = alone.counts('s.example')
    expect(want).toEqual({ live: 1, last5m: 3 })
    await until(
      () => nodes.every((n) => JSON.stringify(n.presence.counts('s.example')) === JSON.stringify(want)),
      'both instances counting the same visitors'
    )
    for (const n of nodes) {
      expect(n.presence.series('s.example')).toEqual(alone.series('s.example'))
      expect(n.touched.has('s.example')).toBe(true)
    }
    for (const n of nodes) n.share.stop()
  })
})
