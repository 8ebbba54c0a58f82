/**
 * The cluster's live path against the real PostgreSQL and NATS JetStream: ids in COMMIT order from the
 * event log, the relay's exactly-once publishing even with two relays racing, transients in between,
 * resuming by range, and the leader lease. (The SIGKILL test over three processes is
 * server/test/cluster-kill.test.ts.)
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { until } from '../test/harness.ts'
import { EVENT_TABLES, freshDatabase, NATS_URL, servicesUp, uniqueName } from '../test/services.ts'
import { appendEvents, eventsAfter, initEventLog } from './event-log.ts'
import { LeaderLease } from './lease.ts'
import { EventRelay, sendTransient } from './relay.ts'
import { LiveStream, type StreamEvent } from './stream.ts'

const up = servicesUp('postgres', 'nats')

describe.skipIf(!up)('cluster live path (PostgreSQL + JetStream)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let pool: pg.Pool
  let nc: NatsConnection
  const streams: LiveStream[] = []

  beforeAll(async () => {
    db = await freshDatabase()
    pool = new pg.Pool({ connectionString: db.url, max: 10 })
    await pool.query(EVENT_TABLES)
    await initEventLog(pool)
    nc = await connect({ servers: NATS_URL })
  })
  afterAll(async () => {
    for (const s of streams) await s.destroy().catch(() => {})
    await nc?.close()
    await pool?.end()
    await db?.drop()
  })

  async function newStream(): Promise<LiveStream> {
    const s = new LiveStream(nc, { name: uniqueName('RADIATOR_T'), maxAgeMs: 600_000 })
    await s.ensure()
    streams.push(s)
    return s
  }

  async function commit(keys: string[]): Promise<number[]> {
    const c = await pool.connect()
    try {
      await c.query('BEGIN')
      const ids = await appendEvents(
        c,
        keys.map((k) => ({ type: 'test', at: 1, data: JSON.stringify(k) }))
      )
      await c.query('COMMIT')
      return ids
    } finally {
      c.release()
    }
  }

  it('gives ids in COMMIT order, gap-free, when transactions overlap and some roll back', async () => {
    // A transaction that took ids and then rolled back hands them to the next one.
    const a = await pool.connect()
    await a.query('BEGIN')
    const rolledBack = await appendEvents(a, [{ type: 'test', at: 1, data: '"gone"' }])
    // A second transaction asking for ids now waits for the first to end (the counter row's lock).
    let secondDone = false
    const second = commit(['second']).then((ids) => {
      secondDone = true
      return ids
    })
    await new Promise((r) => setTimeout(r, 100))
    expect(secondDone).toBe(false)
    await a.query('ROLLBACK')
    a.release()
    expect(await second).toEqual(rolledBack)
    // Many overlapping transactions: every id from 1 to the last is there exactly once.
    await Promise.all(Array.from({ length: 40 }, (_, i) => commit([`k${i}a`, `k${i}b`])))
    const rows = await eventsAfter(pool, 0, 1000)
    expect(rows.map((r) => r.id)).toEqual(rows.map((_, i) => i + 1))
    expect(rows).toHaveLength(81)
  })

  it('relays every committed event once, in id order, even with two relays racing, with transients between', async () => {
    const stream = await newStream()
    const got: StreamEvent[] = []
    const follow = await stream.follow(0, (ev) => got.push(ev))
    // Two relays on the same stream and table: what a deposed-but-unaware leader and its successor do.
    const r1 = new EventRelay(pool, stream)
    const r2 = new EventRelay(pool, stream)
    await Promise.all([r1.start(), r2.start()])
    const before = (await eventsAfter(pool, 0, 10_000)).length
    const writes = Array.from({ length: 60 }, (_, i) => commit([`race${i}`]))
    for (let i = 0; i < 20; i++) (i % 2 ? r1 : r2).transient({ type: 'visitors', at: 2, data: `{"n":${i}}` })
    await Promise.all(writes)
    const total = before + 60
    await until(() => got.filter((e) => e.type === 'test').length >= total, 'every event relayed')
    await new Promise((r) => setTimeout(r, 300)) // anything doubled would arrive now
    follow.stop()
    await Promise.all([r1.stop(), r2.stop()])

    expect(got.map((e) => e.id)).toEqual(got.map((_, i) => i + 1)) // stream ids: 1, 2, 3, … no gap
    const persisted = got.filter((e) => e.type === 'test')
    expect(persisted.map((e) => e.through)).toEqual(persisted.map((_, i) => i + 1)) // each event once, in order
    const rows = await eventsAfter(pool, 0, 10_000)
    expect(persisted.map((e) => e.data)).toEqual(rows.map((r) => r.data))
    expect(got.filter((e) => e.type === 'visitors')).toHaveLength(20)
    expect(r1.stats.conflicts + r2.stats.conflicts).toBeGreaterThan(0) // they did race
  })

  it('a relay started later continues where the stream stops, without republishing', async () => {
    const stream = await newStream()
    // A new stream over a log another stream already carried: start from the log's beginning.
    await pool.query(`DELETE FROM meta WHERE key = 'events_relayed_through'`)
    const r1 = new EventRelay(pool, stream)
    await r1.start()
    const all = () => eventsAfter(pool, 0, 10_000).then((r) => r.length)
    await until(async () => (await stream.tail()).through === (await all()), 'caught up')
    await r1.stop()
    await commit(['after-stop-1', 'after-stop-2'])
    const r2 = new EventRelay(pool, stream)
    await r2.start()
    await until(async () => (await stream.tail()).through === (await all()), 'caught up again')
    await r2.stop()
    const n = await all()
    expect((await stream.tail()).seq).toBe(n)
    const replay = await stream.range(n - 2, n)
    expect(replay?.map((e) => e.data)).toEqual(['"after-stop-1"', '"after-stop-2"'])
    expect(await stream.range(0, n)).toHaveLength(n)
  })

  it('transients sent from any instance reach the stream through the relay; junk on the subject is ignored', async () => {
    const stream = await newStream()
    const relay = new EventRelay(pool, stream)
    await relay.start()
    const got: StreamEvent[] = []
    const tail = (await stream.tail()).seq
    const follow = await stream.follow(tail, (ev) => got.push(ev))
    const other = await connect({ servers: NATS_URL })
    const elsewhere = new LiveStream(other, stream.opts)
    other.publish(`${stream.opts.name}.transient`, 'not json')
    other.publish(`${stream.opts.name}.transient`, '{"type":1}')
    sendTransient(elsewhere, { type: 'visitors', at: 3, data: '{"site":"a","now":4}' })
    await until(() => got.some((e) => e.type === 'visitors'), 'the transient relayed')
    follow.stop()
    await relay.stop()
    await other.close()
    expect(got.map((e) => [e.type, e.data])).toEqual([['visitors', '{"site":"a","now":4}']])
  })

  it('one lease holder at a time; another takes over when it steps down', async () => {
    const key = Math.floor(Math.random() * 2 ** 31)
    const seen: string[] = []
    const leases = ['a', 'b', 'c'].map(
      (name) =>
        new LeaderLease({
          url: db.url,
          key,
          everyMs: 100,
          onChange: (leading) => seen.push(`${name}:${leading}`),
        })
    )
    for (const l of leases) l.start()
    await until(() => leases.some((l) => l.leading), 'a leader')
    await new Promise((r) => setTimeout(r, 400))
    expect(leases.filter((l) => l.leading)).toHaveLength(1)
    const first = leases.find((l) => l.leading)!
    await first.stop()
    await until(() => leases.some((l) => l.leading && l !== first), 'a new leader')
    await new Promise((r) => setTimeout(r, 300))
    expect(leases.filter((l) => l.leading)).toHaveLength(1)
    expect(seen.filter((s) => s.endsWith(':true'))).toHaveLength(2)
    for (const l of leases) await l.stop()
  })
})
