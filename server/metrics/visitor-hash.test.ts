import { afterEach, describe, expect, it } from 'vitest'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { openStore, type Store } from '../db/client.ts'
import { Writer } from '../db/writer.ts'
import { tempDir, type TestServer } from '../test/harness.ts'
import { json, postBeacon, rowsOf, SITE, startMetricsServer, testClock } from '../test/metrics.ts'
import { DAY_MS } from '../time.ts'
import { VisitorIds } from './visitor-hash.ts'

const DAY = Date.UTC(2026, 2, 10)
const UA = 'Mozilla/5.0 Firefox/130.0'
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function setup(start: number) {
  const dir = tempDir()
  const store = openStore(join(dir, 'radiator.db'))
  const writer = new Writer(store.sqlite, store.syncWal)
  const clock = testClock(start)
  cleanups.push(async () => {
    await writer.close()
    store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { store, writer, clock, ids: new VisitorIds(store.db, writer, clock.now) }
}

const saltDays = (store: Store) =>
  (store.sqlite.prepare('SELECT day FROM site_salts ORDER BY day').all() as { day: number }[]).map((r) => r.day)
const never = () => false

describe('visitor ids', () => {
  it('gives the same person the same id all day, and different ids per site, IP and browser', () => {
    const { ids, clock } = setup(DAY + 3600_000)
    const a = ids.idFor(SITE, '192.0.2.1', UA, never)
    clock.advance(20 * 3600_000)
    expect(ids.idFor(SITE, '192.0.2.1', UA, never)).toBe(a)
    expect(ids.idFor('blog.example.org', '192.0.2.1', UA, never)).not.toBe(a)
    expect(ids.idFor(SITE, '192.0.2.2', UA, never)).not.toBe(a)
    expect(ids.idFor(SITE, '192.0.2.1', `${UA} `, never)).not.toBe(a)
    expect(a).not.toContain('192.0.2.1')
  })

  it('rotates the salt at 00:00 UTC, so the same person gets a new id on a new day', async () => {
    const { ids, clock, writer, store } = setup(DAY + DAY_MS - 1000)
    const before = ids.idFor(SITE, '192.0.2.1', UA, never)
    clock.advance(1000) // 00:00:00.000 UTC
    const after = ids.idFor(SITE, '192.0.2.1', UA, never)
    expect(after).not.toBe(before)
    await writer.drain()
    expect(saltDays(store)).toEqual([DAY, DAY + DAY_MS])
  })

  it('keeps the id of a visit that runs across midnight, using the previous salt', () => {
    const { ids, clock } = setup(DAY + DAY_MS - 30_000)
    const seen = new Set<string>()
    const known = (id: string) => seen.has(id)
    const before = ids.idFor(SITE, '192.0.2.1', UA, known)
    seen.add(before)
    clock.advance(60_000)
    expect(ids.idFor(SITE, '192.0.2.1', UA, known)).toBe(before)
    // Someone new after midnight is hashed with the new salt.
    const newcomer = ids.idFor(SITE, '192.0.2.9', UA, known)
    clock.set(DAY + DAY_MS - 30_000)
    expect(ids.idFor(SITE, '192.0.2.9', UA, never)).not.toBe(newcomer)
  })

  it('deletes salts 48 hours old, in memory and in the database', async () => {
    const { ids, clock, store } = setup(DAY + 10)
    ids.idFor(SITE, '192.0.2.1', UA, never)
    clock.set(DAY + DAY_MS + 10)
    await ids.rotate()
    expect(saltDays(store)).toEqual([DAY, DAY + DAY_MS])
    clock.set(DAY + 2 * DAY_MS)
    expect(await ids.rotate()).toBe(1)
    expect(saltDays(store)).toEqual([DAY + DAY_MS, DAY + 2 * DAY_MS])
    expect(ids.days()).toEqual([DAY + DAY_MS, DAY + 2 * DAY_MS])
  })

  it('survives a restart with the same salts', async () => {
    const { ids, store, writer, clock } = setup(DAY + 5000)
    const a = ids.idFor(SITE, '192.0.2.1', UA, never)
    await writer.drain()
    const again = new VisitorIds(store.db, writer, clock.now)
    expect(again.idFor(SITE, '192.0.2.1', UA, never)).toBe(a)
  })
})

describe('visitors across midnight, through the server', () => {
  let s: TestServer | undefined
  afterEach(async () => {
    await s?.destroy()
    s = undefined
  })

  it('counts a visitor who stays past midnight once', async () => {
    const clock = testClock(DAY + DAY_MS - 20_000)
    s = await startMetricsServer({}, { now: clock.now })
    expect((await postBeacon(s.url, [{ type: 'pageview', path: '/' }])).status).toBe(202)
    clock.advance(30_000) // 00:00:10 the next day
    expect((await postBeacon(s.url, [{ type: 'heartbeat', path: '/' }])).status).toBe(202)
    const sites = await json(fetch(`${s.url}/api/sites`))
    expect(sites.sites[0]).toEqual({ site: SITE, live: 1, last5m: 1 })
    const visitors = await rowsOf(s, 'SELECT DISTINCT visitor FROM site_hits')
    expect(visitors).toHaveLength(1)
  })
})
