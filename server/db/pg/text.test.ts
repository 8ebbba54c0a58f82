/**
 * NULs in untrusted text on PostgreSQL (text.ts): the pool's connections and the writer's clean
 * every string parameter, in arrays too, in both forms drizzle and pg take (values array, config
 * object); bytes are left as they came. Without the cleaning each of these queries fails.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshDatabase, servicesUp } from '../../test/services.ts'
import { openPgStore, type PgStore } from './client.ts'
import { PgWriter } from './writer.ts'
import { withCleanText } from './text.ts'

const up = servicesUp('postgres')

describe.runIf(up)('text with NUL characters on PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let store: PgStore
  let writer: PgWriter
  beforeAll(async () => {
    db = await freshDatabase()
    store = await openPgStore(db.url)
    writer = new PgWriter(db.url)
  })
  afterAll(async () => {
    await writer?.close()
    await store?.close()
    await db?.drop()
  })

  it('is refused by a plain connection (what the cleaning is for)', async () => {
    const c = new pg.Client({ connectionString: db.url })
    await c.connect()
    try {
      await expect(c.query('SELECT $1::text', ['a\u0000b'])).rejects.toThrow(/0x00/)
    } finally {
      await c.end()
    }
  })

  it('is stored with U+FFFD in place of each NUL, through the pool and the writer, in arrays too', async () => {
    const r1 = await store.pool.query<{ a: string }>('SELECT $1::text AS a', ['a\u0000b\u0000'])
    expect(r1.rows[0]!.a).toBe('a\uFFFDb\uFFFD')
    const r2 = await writer.write(
      async (tx) =>
        (await tx.query<{ a: string }>({ text: 'SELECT unnest($1::text[]) AS a', values: [['x\u0000', 'y']] })).rows
    )
    expect(r2.map((r) => r.a)).toEqual(['x\uFFFD', 'y'])
    const bytes = Buffer.from([0, 1, 0])
    const r3 = await store.pool.query<{ b: Buffer }>('SELECT $1::bytea AS b', [bytes])
    expect(Buffer.compare(r3.rows[0]!.b, bytes)).toBe(0)
  })

  it('leaves parameters without a NUL as they are (the same objects)', () => {
    const seen: unknown[] = []
    const fake = { query: (...args: unknown[]) => seen.push(...args) } as unknown as pg.Client
    const values = ['plain', ['a', 'b'], 3]
    withCleanText(fake).query('SELECT', values)
    expect(seen[1]).toBe(values)
  })
})
