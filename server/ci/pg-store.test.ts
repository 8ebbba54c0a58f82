/**
 * One build logic, two engines: every real provider payload in the fixtures, normalized by the
 * registry's providers, applied in order to the SQLite store and to the same logic over PostgreSQL's
 * statements (inside PgWriter transactions). Every apply must answer the same (build, tile, change,
 * transition), and the stores must end holding the same builds and tiles.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../db/client.ts'
import { openPgStore, type PgStore } from '../db/pg/client.ts'
import { PgWriter } from '../db/pg/writer.ts'
import { runAsync, runSync } from '../db/steps.ts'
import { fixtureNames, fixtureProviders, loadFixture } from '../test/fixtures.ts'
import { freshDatabase, servicesUp } from '../test/services.ts'
import type { BuildUpdate } from './model.ts'
import { pgDeliverySteps, pgSteps } from './pg-steps.ts'
import { providerOf } from './registry.ts'
import { BuildLogic, BuildStore, NO_TILE_CACHE } from './store.ts'
import { DeliveryLogic, deliveryStatements, sqliteDeliverySteps } from './ingest.ts'
import { eventsAfter, initEventLog, PendingEvents } from '../cluster/event-log.ts'
import { dbOf } from '../db/client.ts'

const up = servicesUp('postgres')

/** Every fixture that normalizes to a build update, in a fixed order, with an arrival time each. */
function updates(): { name: string; update: BuildUpdate; now: number }[] {
  const out: { name: string; update: BuildUpdate; now: number }[] = []
  let now = Date.parse('2026-11-01T10:00:00Z')
  for (const provider of fixtureProviders()) {
    const p = providerOf(provider)
    if (!p) continue
    for (const name of fixtureNames(provider)) {
      const f = loadFixture(provider, name)
      const headers = new Headers(f.headers)
      const r = p.normalize(
        { headers, raw: f.raw, url: new URL(`http://x/hooks/${provider}`), receivedAt: now },
        f.body
      )
      if (r.kind !== 'build') continue
      now += 1000
      out.push({ name: `${provider}/${name}`, update: r.update, now })
    }
  }
  return out
}

describe.skipIf(!up)('the build logic on PostgreSQL answers as on SQLite', () => {
  let dir: string
  let lite: Store
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let pg: PgStore
  let writer: PgWriter

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'radiator-pgstore-'))
    lite = openStore(join(dir, 'radiator.db'))
    db = await freshDatabase()
    pg = await openPgStore(db.url)
    writer = new PgWriter(db.url)
    await initEventLog(pg.pool)
  })
  afterAll(async () => {
    await writer?.close()
    await pg?.close()
    await db?.drop()
    lite?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('takes every delivery the same way: outcomes, duplicates, the delivery log and the live events', async () => {
    const all = updates()
    const liteEvents: unknown[] = []
    const liteLogic = new DeliveryLogic(
      sqliteDeliverySteps(deliveryStatements(dbOf(lite.sqlite))),
      new BuildStore(lite.sqlite).logic
    )
    const pending = new PendingEvents()
    writer.addHooks(pending)
    const before = (await pg.pool.query('SELECT max(id) AS n FROM events')).rows[0].n ?? 0
    for (const [i, { name, update, now }] of all.entries())
      for (const attempt of [1, 2]) {
        const info = { provider: update.provider, event: 'e', deliveryId: `d${i}`, receivedAt: now, size: 10 }
        const delivery = {
          headers: new Headers({ 'x-event': 'e' }),
          raw: Buffer.from(`body ${i}`),
          url: new URL('http://x/'),
          receivedAt: now,
        }
        const a = lite.sqlite.transaction(() =>
          runSync(liteLogic.applyBuild(info, update, delivery, (type, data) => liteEvents.push({ type, data })))
        )()
        const b = await writer.write((tx) =>
          runAsync(
            new DeliveryLogic(pgDeliverySteps(tx), new BuildLogic(pgSteps(tx), NO_TILE_CACHE)).applyBuild(
              info,
              update,
              delivery,
              (type, data) => pending.add({ type, at: now, data: JSON.stringify(data) })
            )
          )
        )
        expect(b, `${name} #${attempt}`).toEqual(a)
        if (attempt === 2) expect(b.outcome).toBe('duplicate')
      }
    const pgEvents = (await eventsAfter(pg.pool, Number(before), 100_000)).map((e) => ({
      type: e.type,
      data: JSON.parse(e.data),
    }))
    expect(pgEvents).toEqual(JSON.parse(JSON.stringify(liteEvents)))
    const cols = 'provider, event, delivery_id, outcome, reason, size, build_id'
    const liteLog = lite.sqlite.prepare(`SELECT ${cols} FROM deliveries ORDER BY id`).all()
    const pgLog = (await pg.pool.query(`SELECT ${cols} FROM deliveries ORDER BY id`)).rows.map((r) => ({
      ...r,
      size: Number(r.size),
    }))
    expect(pgLog).toEqual(liteLog)
    expect(liteLog.length).toBe(all.length * 2)
  })

  it('applies every fixture the same way, and ends with the same builds and tiles', async () => {
    const all = updates()
    expect(all.length).toBeGreaterThan(30)
    const sqliteStore = new BuildStore(lite.sqlite)
    for (const { name, update, now } of all) {
      const a = lite.sqlite.transaction(() => sqliteStore.apply(update, now))()
      const b = await writer.write((tx) => runAsync(new BuildLogic(pgSteps(tx), NO_TILE_CACHE).apply(update, now)))
      expect(b, name).toEqual(a)
    }
    const client = await pg.pool.connect()
    try {
      const logic = new BuildLogic(pgSteps(client), NO_TILE_CACHE)
      const now = Date.parse('2026-11-02T10:00:00Z')
      const liteTiles = sqliteStore.tiles(now)
      const pgTiles = await runAsync(logic.tiles(now))
      expect(pgTiles).toEqual(liteTiles)
      for (const t of liteTiles)
        if (t.latest)
          expect(await runAsync(logic.getBuild(t.latest.id)), t.latest.id).toEqual(sqliteStore.getBuild(t.latest.id))
    } finally {
      client.release()
    }
  })
})
