import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dbOf } from '../db/client.ts'
import { startTestServer, type TestServer } from '../test/harness.ts'
import { runningBuild } from './store.ts'

describe('build store queries', () => {
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
