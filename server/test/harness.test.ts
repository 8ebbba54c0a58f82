import { describe, expect, it } from 'vitest'
import pg from 'pg'
import { adminAuth, perTest, startTestServer, TEST_ENGINE } from './harness.ts'
import { PG_URL } from './services.ts'

const t = perTest()

async function createToken(base: string): Promise<string> {
  const res = await fetch(`${base}/api/admin/tokens`, {
    method: 'POST',
    headers: { ...adminAuth, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'kept', role: 'viewer' }),
  })
  expect(res.status).toBe(201)
  return ((await res.json()) as { token: string }).token
}

describe('test servers (the engine matrix)', () => {
  it('run on the engine RADIATOR_TEST_ENGINE names, and find their data again when restarted on the same directory', async () => {
    const s = await t.server({ PUBLIC_DASHBOARD: 'false' })
    expect(s.engine.kind).toBe(TEST_ENGINE)
    const token = await createToken(s.url)
    await t.stop(s)
    const again = await t.server({ PUBLIC_DASHBOARD: 'false' }, s.dataDir)
    const res = await fetch(`${again.url}/api/builds`, { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(200)
  })
})

describe.runIf(TEST_ENGINE === 'pg')('test servers on PostgreSQL', () => {
  it("refuse SQLite's store and writer, spread without them, and drop their database when destroyed", async () => {
    const s = await startTestServer()
    if (s.engine.kind !== 'pg') throw new Error('not on PostgreSQL')
    expect(() => s.store).toThrow(/PostgreSQL/)
    expect(() => s.writer).toThrow(/PostgreSQL/)
    expect({ ...s }.url).toBe(s.url)
    const database = new URL(s.engine.store.where).pathname.slice(1)
    await s.destroy()
    const c = new pg.Client({ connectionString: PG_URL })
    await c.connect()
    try {
      const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])
      expect(rowCount).toBe(0)
    } finally {
      await c.end()
    }
  })
})
