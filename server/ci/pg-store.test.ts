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
import { runAsync } from '../db/steps.ts'
import { fixtureNames, fixtureProviders, loadFixture } from '../test/fixtures.ts'
import { freshDatabase, servicesUp } from '../test/services.ts'
import type { BuildUpdate } from './model.ts'
import { pgSteps } from './pg-steps.ts'
import { providerOf } from './registry.ts'
import { BuildLogic, BuildStore, NO_TILE_CACHE } from './store.ts'

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
  })
  afterAll(async () => {
    await writer?.close()
    await pg?.close()
    await db?.drop()
    lite?.close()
    rmSync(dir, { recursive: true, force: true })
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
