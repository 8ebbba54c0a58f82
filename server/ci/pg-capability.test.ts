/**
 * The CI capability on PostgreSQL (issue 17), against the real server:
 * - Two writers on two connections (two instances) ingest interleaved updates of the same builds and
 *   tiles at once: every write is acknowledged, and the builds and tiles end as one writer applying
 *   the same updates one by one leaves them (on SQLite). The live events, applied in COMMIT order to
 *   a TileView, give the tiles the store holds (the newest event of a tile carries it as it stands).
 * - The same signed fixture deliveries, each sent twice, through the webhook route on each engine:
 *   the same status codes and answers (the second a duplicate), then the same build API, delivery
 *   log, board, cctray and badges, and the same live events.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { PipelineTile } from '../../contract/builds.ts'
import { createAccess } from '../access/index.ts'
import { installAccess } from '../access/guard.ts'
import { eventsAfter, initEventLog, PendingEvents } from '../cluster/event-log.ts'
import { configFrom } from '../config.ts'
import { openStore, type Store } from '../db/client.ts'
import { openPgStore, type PgStore } from '../db/pg/client.ts'
import { PgWriter } from '../db/pg/writer.ts'
import { Writer } from '../db/writer.ts'
import { makeErrorHandler } from '../errors.ts'
import { Hub } from '../live/hub.ts'
import { createLogger } from '../log.ts'
import { Telemetry } from '../observability/telemetry.ts'
import { fixtureNames, fixtureProviders, loadFixture } from '../test/fixtures.ts'
import { freshDatabase, servicesUp } from '../test/services.ts'
import { hookSecrets, SIGNERS } from '../test/sign/index.ts'
import { apiRoutes } from './api.ts'
import { feedRoutes } from './feeds.ts'
import { hookRoutes } from './hooks.ts'
import { type DeliveryRecorder, Ingest, sqliteRecorder } from './ingest.ts'
import { type BuildUpdate, emptyUpdate } from './model.ts'
import { PgIngest } from './pg-ingest.ts'
import { type CiReads, pgReads, sqliteReads } from './reads.ts'
import { BuildStore } from './store.ts'
import { TileView } from './tile-view.ts'

const up = servicesUp('postgres')
const SECRET = 'pg-capability-secret'
const config = configFrom({
  ...hookSecrets(SECRET),
  PUBLIC_DASHBOARD: 'true',
  PUBLIC_FEEDS: 'true',
  ADMIN_TOKEN: 'admin-token',
  LOG_LEVEL: 'silent',
})
const admin = { authorization: 'Bearer admin-token' }
const log = createLogger('silent')

/** A small deterministic PRNG (mulberry32): the interleaving differs per seed, not per run. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Builds on three tiles, each sent as five updates: a job starting (it may come before its build and
 * wait for it), queued, running, the job finishing, and most of them finishing (success, some
 * canceled; the newest of each tile stays running). Each build has a clock of its own, so which
 * update of it arrives first does not change its times; the outcome of any order is the same.
 */
function workload(): { update: BuildUpdate; now: number }[] {
  const out: { update: BuildUpdate; now: number }[] = []
  const T0 = Date.now() - 3600_000
  let n = 0
  for (const branch of ['main', 'dev', 'feat']) {
    for (let k = 0; k < 10; k++) {
      const now = T0 + n++ * 1000
      const iso = (dt: number) => new Date(now + dt).toISOString()
      const base = {
        ...emptyUpdate('github', `${branch}-${k}`, 'acme/conc'),
        pipeline: 'ci',
        branch,
        number: k,
        actor: `dev${k % 3}`,
        commit: { sha: `sha-${branch}-${k}`, subject: `change ${k}`, author: `dev${k % 3}` },
        queuedAt: iso(0),
      }
      const job = (status: 'running' | 'success', dt: number): BuildUpdate => ({
        ...base,
        status: 'running',
        fromJob: true,
        jobs: [
          {
            id: 'j1',
            name: 'test',
            status,
            startedAt: iso(1000),
            finishedAt: status === 'success' ? iso(5000) : null,
            url: null,
          },
        ],
        eventTime: iso(dt),
      })
      const final: BuildUpdate['status'] | null = k === 9 ? null : k % 4 === 3 ? 'canceled' : 'success'
      const updates: BuildUpdate[] = [
        job('running', 1000),
        { ...base, status: 'queued', eventTime: iso(0) },
        { ...base, status: 'running', startedAt: iso(1000), eventTime: iso(1000) },
        job('success', 5000),
      ]
      if (final)
        updates.push({
          ...base,
          status: final,
          startedAt: iso(1000),
          finishedAt: iso(6000),
          durationMs: 5000,
          eventTime: iso(6000),
        })
      for (const update of updates) out.push({ update, now })
    }
  }
  return out
}

/** Tiles by id, without the time each was last touched (the arrival order's, not the rules'). */
const comparable = (tiles: PipelineTile[]) =>
  [...tiles].sort((a, b) => a.id.localeCompare(b.id)).map(({ updatedAt: _, ...t }) => t)

describe.skipIf(!up)('the CI capability on PostgreSQL', () => {
  let dir: string
  let lite: Store
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let pg: PgStore
  const writers: PgWriter[] = []

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'radiator-pgcap-'))
    lite = openStore(join(dir, 'radiator.db'))
    db = await freshDatabase()
    pg = await openPgStore(db.url)
    await initEventLog(pg.pool)
  })
  afterAll(async () => {
    for (const w of writers) await w.close()
    await pg?.close()
    await db?.drop()
    lite?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** A writer of its own connection, with the event log's hook: one instance's. */
  const instance = () => {
    const writer = new PgWriter(db.url)
    const events = new PendingEvents()
    writer.addHooks(events)
    writers.push(writer)
    return new PgIngest(writer, (_tx, type, data) => events.add({ type, at: Date.now(), data: JSON.stringify(data) }))
  }

  it('two instances ingesting the same builds at once end as one ingesting them in turn, and their events carry the final tiles', async () => {
    const all = workload()
    const before = Number((await pg.pool.query(`SELECT value FROM meta WHERE key = 'event_id'`)).rows[0].value)
    const view = new TileView()
    const [a, b] = [instance(), instance()]
    const random = rng(17)
    const shuffled = all
      .map((x) => ({ x, r: random() }))
      .sort((p, q) => p.r - q.r)
      .map((p) => p.x)
    const lanes: [PgIngest, typeof all][] = [
      [a, [] as typeof all],
      [b, [] as typeof all],
    ]
    for (const x of shuffled) lanes[random() < 0.5 ? 0 : 1]![1].push(x)
    // Each instance sends its share in bursts of 1 to 8 (one transaction each, as its writer batches
    // them), both at once: batches of the two hold rows of the same builds and tiles.
    let delivery = 0
    let resent = 0
    // The writer retries a deadlocked op a few times; one that deadlocks every time is refused, and
    // the provider sends it again (same delivery id: applied once, as the refused one rolled back).
    const send = async (ingest: PgIngest, update: BuildUpdate, now: number, id: string): Promise<unknown> => {
      try {
        return await ingest.applyBuild(
          { provider: 'github', event: 'e', deliveryId: id, receivedAt: now, size: 1 },
          update,
          { headers: new Headers(), raw: Buffer.from('{}'), url: new URL('http://x/'), receivedAt: now }
        )
      } catch (e) {
        const code = (e as { code?: string; cause?: { code?: string } }).cause?.code ?? (e as { code?: string }).code
        if (code !== '40P01' || resent >= all.length / 10) throw e
        resent++
        return send(ingest, update, now, id)
      }
    }
    await Promise.all(
      lanes.map(async ([ingest, mine]) => {
        for (let i = 0; i < mine.length; ) {
          const burst = mine.slice(i, (i += 1 + Math.floor(random() * 8)))
          await Promise.all(burst.map(({ update, now }) => send(ingest, update, now, `c${delivery++}`)))
        }
      })
    )

    // The same updates, one at a time, on SQLite.
    const sequential = new BuildStore(lite.sqlite)
    for (const { update, now } of all) lite.sqlite.transaction(() => sequential.apply(update, now))()
    const reads = pgReads(pg)
    const pgTiles = await reads.tiles()
    expect(pgTiles).toHaveLength(3)
    expect(comparable(pgTiles)).toEqual(comparable(sequential.tiles()))
    for (const { update } of all) {
      const id = `github:${update.externalId}`
      expect(await reads.build(id), id).toEqual(sequential.getBuild(id))
    }
    const waiting = await pg.pool.query('SELECT count(*)::int AS n FROM waiting_jobs')
    expect(waiting.rows[0].n, 'a job left waiting for a build that arrived').toBe(0)

    // Every change announced once, in COMMIT order: the newest event of each tile is the tile stored.
    const events = await eventsAfter(pg.pool, before, 100_000)
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => before + 1 + i))
    for (const e of events) view.apply({ type: e.type, data: JSON.parse(e.data) })
    expect([...view.tiles()].sort((x, y) => x.id.localeCompare(y.id))).toEqual(
      [...pgTiles].sort((x, y) => x.id.localeCompare(y.id))
    )
    // A view loaded from the store as an instance starting now would load it: the same tiles.
    const loaded = new TileView()
    const c = await pg.pool.connect()
    try {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      await loaded.load(c)
      await c.query('COMMIT')
    } finally {
      c.release()
    }
    expect(loaded.tiles()).toEqual(pgTiles)
    const retried = writers.reduce((n, w) => n + w.stats.retried, 0)
    console.info(
      `pg-capability: ${all.length} updates on two writers, ${retried} batches retried op by op, ${resent} deliveries refused after deadlocking on every retry and sent again`
    )
  })

  it('answers every webhook, the build API, the delivery log and the feeds as on SQLite', async () => {
    await pg.pool.query(
      'TRUNCATE jobs, builds, pipelines, waiting_jobs, raw_bodies, deliveries, delivery_keys RESTART IDENTITY'
    )
    // Both engines see each delivery arrive at the same moment (arrival times are stored and shown).
    let clock = Date.parse('2026-11-20T10:00:00Z')
    vi.useFakeTimers({ toFake: ['Date'], now: clock })
    // The SQLite side starts empty too: the first test's builds went into another file's store.
    const liteDir = mkdtempSync(join(tmpdir(), 'radiator-pgcap-lite-'))
    const store = openStore(join(liteDir, 'radiator.db'))
    const writer = new Writer(store.sqlite, store.syncWal)
    const liteHub = new Hub(store, writer, {
      version: 'test',
      replayBuffer: 10_000,
      retentionMs: 86_400_000,
      heartbeatMs: 15_000,
      pollTimeoutMs: 25_000,
    })
    try {
      const access = createAccess(config, store, writer, liteHub).control
      const telemetry = new Telemetry({ version: 'test', writer, hub: liteHub })
      const app = (deliveries: DeliveryRecorder, reads: CiReads) => {
        const a = new Hono()
        a.onError(makeErrorHandler(log))
        a.use('*', installAccess(access))
        a.route('/hooks', hookRoutes({ config, deliveries, log, telemetry }))
        a.route('/api', apiRoutes(reads))
        a.route('/', feedRoutes(reads, 'https://radiator.example'))
        return a
      }
      const ingest = new Ingest(store.sqlite, liteHub)
      const onLite = app(sqliteRecorder(writer, ingest), sqliteReads(store.sqlite, ingest.builds))
      const pgEvents = new PendingEvents()
      const pgWriter = new PgWriter(db.url)
      pgWriter.addHooks(pgEvents)
      writers.push(pgWriter)
      const before = Number((await pg.pool.query(`SELECT value FROM meta WHERE key = 'event_id'`)).rows[0].value)
      const onPg = app(
        new PgIngest(pgWriter, (_tx, type, data) => pgEvents.add({ type, at: Date.now(), data: JSON.stringify(data) })),
        pgReads(pg)
      )

      // Each fixture, signed as its provider signs, sent twice: same status and answer on each engine.
      let sent = 0
      for (const provider of fixtureProviders()) {
        const sign = SIGNERS[provider]
        if (!sign) continue
        for (const name of fixtureNames(provider)) {
          const f = loadFixture(provider, name)
          for (const time of [1, 2]) {
            vi.setSystemTime((clock += 1000))
            const init = () => ({
              method: 'POST',
              headers: { 'content-type': 'application/json', ...f.headers, ...sign(f.raw, SECRET) },
              body: new Uint8Array(f.raw),
            })
            const [l, p] = [
              await onLite.request(`/hooks/${provider}`, init()),
              await onPg.request(`/hooks/${provider}`, init()),
            ]
            const what = `${provider}/${name} #${time}`
            expect(p.status, what).toBe(l.status)
            expect(await p.json(), what).toEqual(await l.json())
            sent++
          }
        }
      }
      expect(sent).toBeGreaterThan(60)

      const same = async (path: string, headers: Record<string, string> = {}) => {
        const [l, p] = [await onLite.request(path, { headers }), await onPg.request(path, { headers })]
        expect(p.status, path).toBe(l.status)
        const [lt, pt] = [await l.text(), await p.text()]
        const body = (t: string) => (l.headers.get('content-type')?.includes('json') ? JSON.parse(t) : t)
        expect(body(pt), path).toEqual(body(lt))
        return body(lt)
      }
      const board = (await same('/api/pipelines')) as { pipelines: PipelineTile[] }
      expect(board.pipelines.length).toBeGreaterThan(10)
      for (const t of board.pipelines) {
        await same(`/api/pipelines/${t.id}`)
        if (t.latest) await same(`/api/builds/${encodeURIComponent(t.latest.id)}`)
      }
      await same('/api/pipelines/nope')
      await same('/api/builds/nope')
      for (const q of ['', '?limit=3', '?status=failure', '?provider=gitlab', '?branch=main&limit=2'])
        await same(`/api/builds${q}`)
      // Page through the builds by cursor on both.
      let cursor: string | null = ''
      for (let page = 0; cursor !== null && page < 50; page++) {
        const r = (await same(`/api/builds?limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)) as {
          nextCursor: string | null
        }
        cursor = r.nextCursor
      }
      const logged = (await same('/api/deliveries?limit=500', admin)) as { deliveries: unknown[] }
      expect(logged.deliveries.length).toBe(sent)
      await same('/api/deliveries?limit=7&cursor=20', admin)
      await same('/api/deliveries?outcome=duplicate', admin)
      await same('/cctray.xml')
      await same('/cctray.xml?branch=main')
      for (const t of board.pipelines.slice(0, 10)) {
        const q = `project=${encodeURIComponent(t.project)}&pipeline=${encodeURIComponent(t.pipeline)}`
        await same(`/badge.svg?${q}`)
        await same(`/badge.json?${q}&branch=${encodeURIComponent(t.branch)}`)
      }
      await same('/badge.json?brnach=main')

      // The live events: the same, in the same order.
      const liteEvents = store.sqlite
        .prepare('SELECT type, data FROM events ORDER BY id')
        .all()
        .map((e) => {
          const { type, data } = e as { type: string; data: string }
          return { type, data: JSON.parse(data) }
        })
      const pgLogged = (await eventsAfter(pg.pool, before, 100_000)).map((e) => ({
        type: e.type,
        data: JSON.parse(e.data),
      }))
      expect(pgLogged.length).toBeGreaterThan(10)
      expect(pgLogged).toEqual(liteEvents)
    } finally {
      vi.useRealTimers()
      await writer.close()
      store.close()
      rmSync(liteDir, { recursive: true, force: true })
    }
  })
})
