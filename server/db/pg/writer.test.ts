/**
 * The group-commit writer on the real PostgreSQL: batching, resolve-after-COMMIT, one failing op not
 * failing its batch-mates, events taking ids in COMMIT order through the hook, two writers (two
 * instances) deadlocking on each other's rows and both finishing, and a dropped connection answered
 * as the storage's refusal (503) with the next write going through.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { appendEvents, eventsAfter, initEventLog, PendingEvents } from '../../cluster/event-log.ts'
import { EVENT_TABLES, freshDatabase, servicesUp } from '../../test/services.ts'
import { WriterClosedError } from '../writer.ts'
import { PgWriter } from './writer.ts'

const up = servicesUp('postgres')

describe.skipIf(!up)('PgWriter', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let pool: pg.Pool
  const writers: PgWriter[] = []

  beforeAll(async () => {
    db = await freshDatabase()
    pool = new pg.Pool({ connectionString: db.url })
    await pool.query(`${EVENT_TABLES} CREATE TABLE kv (k text PRIMARY KEY, v bigint NOT NULL);`)
    await initEventLog(pool)
  })
  afterAll(async () => {
    for (const w of writers) await w.close()
    await pool?.end()
    await db?.drop()
  })

  const writer = () => {
    const w = new PgWriter(db.url)
    writers.push(w)
    return w
  }
  const put = (k: string, v: number) => async (tx: pg.ClientBase) => {
    await tx.query('INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v', [k, v])
    return k
  }
  const read = async (k: string) => (await pool.query('SELECT v FROM kv WHERE k = $1', [k])).rows[0]?.v

  it('batches what is queued together and resolves each write only once it is committed', async () => {
    const w = writer()
    const seen: unknown[] = []
    const writes = Array.from({ length: 200 }, (_, i) =>
      w.write(put(`batch${i}`, i)).then(async (k) => seen.push(await read(k)))
    )
    await Promise.all(writes)
    // Read from another connection at the moment each write resolved: already committed.
    expect(seen).toHaveLength(200)
    expect(seen.every((v) => v !== undefined)).toBe(true)
    expect(w.stats.ops).toBe(200)
    expect(w.stats.batches).toBeLessThan(20)
  })

  it("fails only the op that failed; its batch-mates commit, and its events don't", async () => {
    const w = writer()
    const events = new PendingEvents()
    w.addHooks(events)
    const before = (await eventsAfter(pool, 0, 100_000)).length
    const ok1 = w.write(async (tx) => {
      events.add({ type: 't', at: 1, data: '"ok1"' })
      return put('ok1', 1)(tx)
    })
    const bad = w.write(async (tx) => {
      events.add({ type: 't', at: 1, data: '"bad"' })
      await tx.query('INSERT INTO kv (k, v) VALUES ($1, NULL)', ['bad'])
    })
    const ok2 = w.write(async (tx) => {
      events.add({ type: 't', at: 1, data: '"ok2"' })
      return put('ok2', 2)(tx)
    })
    await expect(bad).rejects.toThrow(/null value/)
    expect(await ok1).toBe('ok1')
    expect(await ok2).toBe('ok2')
    expect(await read('ok1')).toBe('1')
    expect(await read('bad')).toBeUndefined()
    const logged = (await eventsAfter(pool, before, 100)).map((e) => e.data)
    expect(logged).toEqual(['"ok1"', '"ok2"'])
    expect(w.stats.retried).toBe(1)
  })

  it('two writers taking rows in opposite orders: the deadlock is retried, both finish, event ids stay gap-free', async () => {
    const [a, b] = [writer(), writer()]
    const [ea, eb] = [new PendingEvents(), new PendingEvents()]
    a.addHooks(ea)
    b.addHooks(eb)
    await pool.query(`INSERT INTO kv (k, v) VALUES ('x', 0), ('y', 0) ON CONFLICT (k) DO UPDATE SET v = 0`)
    const bump = (first: string, second: string, events: PendingEvents) => async (tx: pg.ClientBase) => {
      await tx.query('UPDATE kv SET v = v + 1 WHERE k = $1', [first])
      await new Promise((r) => setTimeout(r, 50)) // hold the first row while the other writer takes its own
      await tx.query('UPDATE kv SET v = v + 1 WHERE k = $1', [second])
      events.add({ type: 't', at: 1, data: `"${first}${second}"` })
    }
    // Both connected first, so their transactions start together and each holds its first row.
    await Promise.all([a.write(put('warm-a', 0)), b.write(put('warm-b', 0))])
    for (let i = 0; i < 2; i++) await Promise.all([a.write(bump('x', 'y', ea)), b.write(bump('y', 'x', eb))])
    expect(a.stats.retried + b.stats.retried).toBeGreaterThan(0) // they did deadlock
    expect(await read('x')).toBe('4')
    expect(await read('y')).toBe('4')
    const all = await eventsAfter(pool, 0, 100_000)
    expect(all.map((e) => e.id)).toEqual(all.map((_, i) => i + 1))
  })

  it('a dropped connection is the storage refusing (503); the next write reconnects', async () => {
    const w = writer()
    await w.write(put('before-drop', 1))
    const pid = await w.write(async (tx) => (await tx.query('SELECT pg_backend_pid() AS pid')).rows[0].pid)
    const dying = w.write(async (tx) => {
      await pool.query('SELECT pg_terminate_backend($1)', [pid])
      // The signal is asynchronous: wait until the backend is gone before using its connection.
      while ((await pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount)
        await new Promise((r) => setTimeout(r, 10))
      await tx.query('SELECT 1')
    })
    const err = await dying.catch((e) => e)
    expect(err).toBeInstanceOf(WriterClosedError)
    expect(await w.write(put('after-drop', 2))).toBe('after-drop')
    expect(await read('after-drop')).toBe('2')
  })

  it('an op that conflicts every time is refused as a 503 with Retry-After, after backing off; its batch-mates commit', async () => {
    const w = writer()
    // PostgreSQL's own deadlock error, every time this op runs.
    let runs = 0
    const always = w.write(async (tx) => {
      runs++
      await tx.query(`DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END $$`)
    })
    const mate = w.write(put('conflict-mate', 7))
    const err = await always.catch((e) => e)
    expect(err.status).toBe(503)
    expect(err.headers?.['retry-after']).toBe('5')
    expect(runs).toBe(1 + 1 + 8) // in the batch, alone, then 8 reruns
    expect(await mate).toBe('conflict-mate')
    expect(await read('conflict-mate')).toBe('7')
  })

  it("runs the event log's beforeCommit after every other hook's, though it was added first", async () => {
    const w = writer()
    const events = new PendingEvents()
    w.addHooks(events)
    const seen: number[] = []
    w.addHooks<undefined, undefined>({
      async beforeCommit(tx) {
        // In the same transaction: had the event log run first, its increment would show here.
        seen.push(Number((await tx.query(`SELECT value FROM meta WHERE key = 'event_id'`)).rows[0].value))
      },
      mark: () => undefined,
      rollback: () => {},
      committed: () => undefined,
      durable: () => {},
      lost: () => {},
    })
    const before = Number((await pool.query(`SELECT value FROM meta WHERE key = 'event_id'`)).rows[0].value)
    await w.write(async () => events.add({ type: 't', at: 1, data: '"order"' }))
    expect(seen).toEqual([before])
    const after = Number((await pool.query(`SELECT value FROM meta WHERE key = 'event_id'`)).rows[0].value)
    expect(after).toBe(before + 1)
  })

  it('appendEvents alone refuses a log without its counter row', async () => {
    const c = await pool.connect()
    try {
      await c.query('BEGIN')
      await c.query(`DELETE FROM meta WHERE key = 'event_id'`)
      await expect(appendEvents(c, [{ type: 't', at: 1, data: '1' }])).rejects.toThrow(/not initialized/)
    } finally {
      await c.query('ROLLBACK')
      c.release()
    }
  })
})
