import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from '../test/harness.ts'
import { RUNNING_BUILD_SQL } from './store.ts'

describe('build store queries', () => {
  let s: TestServer
  beforeAll(async () => {
    s = await startTestServer()
  })
  afterAll(() => s.destroy())

  it("finds a tile's running build through the partial index, not by walking the tile's whole history", () => {
    const plan = s.store.sqlite.prepare(`EXPLAIN QUERY PLAN ${RUNNING_BUILD_SQL}`).all('p', 0) as { detail: string }[]
    expect(plan.map((r) => r.detail).join(' | ')).toMatch(/USING INDEX builds_running_idx/)
  })
})
