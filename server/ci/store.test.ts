import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { databasePath, dbOf } from '../db/client.ts'
import { startTestServer, TEST_ENGINE, type TestServer } from '../test/harness.ts'
import { BuildStore, runningBuild } from './store.ts'

/** SQLite's query plans and tile cache: PostgreSQL's tiles are checked in pg-capability.test.ts. */
const onPg = TEST_ENGINE !== 'sqlite'

describe.skipIf(onPg)('build store queries', () => {
  let s: TestServer
  beforeAll(async () => {
    s = await startTestServer()
  })
  afterAll(() => s.destroy())

  it("finds a tile's running build through the partial index, not by walking the tile's whole history", () => {
    const q = runningBuild(dbOf(s.store.sqlite)).toSQL()
    const args = q.params.map((p) => (typeof p === 'object' ? 0 : p))
    const plan = s.store.sqlite.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...args) as { detail: string }[]
    expect(plan.map((r) => r.detail).join(' | ')).toMatch(/USING INDEX builds_running_idx/)
    // A bound LIMIT costs this lookup several times over (db/sqlite.ts literalLimit).
    expect(q.sql).toMatch(/ limit 1$/)
  })
})

describe.skipIf(onPg)('the tile cache', () => {
  const TOKEN = 'generic-token-for-tile-cache'
  let s: TestServer
  beforeAll(async () => {
    s = await startTestServer({ GENERIC_WEBHOOK_TOKEN: TOKEN })
  })
  afterAll(() => s.destroy())

  const hook = async (body: Record<string, unknown>) => {
    const res = await fetch(`${s.url}/hooks/generic`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    expect(res.status, await res.clone().text()).toBe(200)
  }
  /** Every tile computed from the rows: inside a transaction the cache is neither read nor kept. */
  const fresh = (now = Date.now()) => s.store.sqlite.transaction(() => new BuildStore(s.store.sqlite).tiles(now))()
  const served = async () =>
    ((await (await fetch(`${s.url}/api/pipelines`)).json()) as { pipelines: unknown[] }).pipelines

  it('answers /api/pipelines exactly as a fresh computation after every delivery of a varied run', async () => {
    // A fixed pseudo-random run: builds queued, running, finished and re-delivered out of order,
    // over 3 projects × 2 branches, some builds moved to another branch (their old tile changes too).
    let seed = 7
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    const statuses = ['queued', 'running', 'success', 'failure', 'canceled'] as const
    const store = new BuildStore(s.store.sqlite)
    for (let i = 0; i < 120; i++) {
      const n = rnd(30)
      await hook({
        id: `cache-${n}`,
        project: `acme/p${n % 3}`,
        pipeline: 'CI',
        branch: rnd(10) === 0 ? 'moved' : n % 2 ? 'main' : 'dev',
        number: n,
        status: statuses[rnd(statuses.length)],
        commit: { sha: `${n}abc`, subject: `change ${n}`, author: 'ada' },
        startedAt: new Date(Date.now() - 60_000).toISOString(),
        finishedAt: new Date().toISOString(),
      })
      expect(await served()).toEqual(fresh())
      // The second read is the cached answer itself, not a recomputation.
      expect(store.tiles()).toBe(store.tiles())
      const one = fresh()[rnd(fresh().length)]!
      expect(store.getTile(one.id)).toEqual(one)
    }
  })

  it('drops what another connection changed', async () => {
    const store = new BuildStore(s.store.sqlite)
    const before = store.tiles()
    const other = new Database(databasePath(s.dataDir))
    try {
      const id = before[0]!.latest!.id
      other.prepare(`UPDATE builds SET status = 'failure', updated_at = updated_at + 1 WHERE id = ?`).run(id)
    } finally {
      other.close()
    }
    const after = store.tiles()
    expect(after).not.toBe(before)
    expect(after).toEqual(fresh())
    expect(after[0]!.latest!.status).toBe('failure')
  })

  it('stops showing a running build when it turns stale, as a fresh computation does', async () => {
    await hook({ id: 'cache-stale', project: 'acme/stale', pipeline: 'CI', branch: 'main', status: 'running' })
    const store = new BuildStore(s.store.sqlite)
    const tile = store.tiles().find((t) => t.project === 'acme/stale')!
    expect(tile.running?.id).toBe('generic:cache-stale')
    const later = Date.now() + 12 * 3600_000 + 1000
    const stale = store.tiles(later).find((t) => t.project === 'acme/stale')!
    expect(stale.running).toBeNull()
    expect(store.tiles(later)).toEqual(fresh(later))
    expect(store.getTile(tile.id, later)).toEqual(stale)
  })
})
