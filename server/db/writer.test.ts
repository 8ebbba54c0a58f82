import { afterEach, describe, expect, it } from 'vitest'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { openStore, type Store } from './client.ts'
import { Writer, WriterClosedError, type SyncWal } from './writer.ts'
import { Hub, type Frame, type LiveClient, type LiveEvent } from '../live/hub.ts'
import { publishRaw, startTestServer, TEST_ENGINE, tempDir } from '../test/harness.ts'

let store: Store
let dir: string
afterEach(() => {
  store?.close()
  rmSync(dir, { recursive: true, force: true })
})

function open(sync?: SyncWal) {
  dir = tempDir()
  store = openStore(join(dir, 'radiator.db'))
  store.sqlite.exec('CREATE TABLE t (v INTEGER NOT NULL UNIQUE)')
  return new Writer(store.sqlite, sync ?? store.syncWal)
}

/**
 * The real WAL sync, held until the test lets it go (or makes it fail): what a slow or failing disk
 * looks like to the writer.
 */
function heldSync() {
  const held: ((err: Error | null) => void)[] = []
  const sync: SyncWal = (done) => held.push(done)
  return {
    sync,
    get waiting() {
      return held.length
    },
    release(err: Error | null = null) {
      const done = held.shift()!
      if (err) return done(err)
      store.syncWal(done)
    },
  }
}

const settled = async (p: Promise<unknown>) => {
  let state = 'pending'
  p.then(
    () => (state = 'resolved'),
    () => (state = 'rejected')
  )
  await new Promise((r) => setImmediate(r))
  await new Promise((r) => setImmediate(r))
  return state
}

/** The hub carries any JSON; these tests send opaque payloads (the contract types the product's). */
const persistRaw = (hub: Hub, s: unknown, type: string, data: unknown): LiveEvent =>
  (hub as unknown as { persist: (s: unknown, t: string, d: unknown) => LiveEvent }).persist(s, type, data)

describe('group-commit writer', () => {
  it('sets the durability pragmas explicitly', () => {
    open()
    expect(store.sqlite.pragma('journal_mode', { simple: true })).toBe('wal')
    // NORMAL: COMMIT doesn't sync the WAL; the writer does, off the event loop (next tests).
    expect(store.sqlite.pragma('synchronous', { simple: true })).toBe(1)
    expect(store.sqlite.pragma('foreign_keys', { simple: true })).toBe(1)
    expect(store.sqlite.pragma('busy_timeout', { simple: true })).toBe(5000)
  })

  // DB_CACHE_MB is SQLite's page cache.
  it.runIf(TEST_ENGINE === 'sqlite')('sizes the page cache from DB_CACHE_MB (64 MB unless set)', async () => {
    for (const [env, kib] of [
      [{}, 65_536],
      [{ DB_CACHE_MB: '8' }, 8192],
    ] as const) {
      const s = await startTestServer(env)
      try {
        expect(s.store.sqlite.pragma('cache_size', { simple: true })).toBe(-kib)
      } finally {
        await s.destroy()
      }
    }
  })

  it('commits everything queued in one turn in one transaction, resolving after COMMIT', async () => {
    const w = open()
    const insert = store.sqlite.prepare('INSERT INTO t (v) VALUES (?)')
    const seen: number[] = []
    const all = Array.from({ length: 500 }, (_, i) =>
      w
        .write(() => insert.run(i))
        .then(() => {
          // Visible from a second connection: it is committed, not just written.
          const other = openStore(store.path)
          seen.push((other.sqlite.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n)
          other.close()
        })
    )
    await Promise.all(all.slice(0, 1))
    await Promise.all(all)
    expect(w.stats.batches).toBe(1)
    expect(w.stats.ops).toBe(500)
    expect(seen[0]).toBe(500)
  })

  it('fails only the op that threw; the rest of its batch commits', async () => {
    const w = open()
    const insert = store.sqlite.prepare('INSERT INTO t (v) VALUES (?)')
    const results = await Promise.allSettled([
      w.write(() => insert.run(1)),
      w.write(() => insert.run(1)), // UNIQUE violation
      w.write(() => insert.run(2)),
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(store.sqlite.prepare('SELECT v FROM t ORDER BY v').all()).toEqual([{ v: 1 }, { v: 2 }])
  })

  it('answers a write the disk refuses (SQLITE_FULL) as a 503 with Retry-After, and takes writes again once there is room', async () => {
    const w = open()
    const insert = store.sqlite.prepare('INSERT INTO t (v) VALUES (?)')
    await w.write(() => insert.run(0))
    // The database may not grow: the next page a write needs is refused, as on a full disk.
    store.sqlite.pragma(`max_page_count = ${store.sqlite.pragma('page_count', { simple: true })}`)
    const fill = store.sqlite.prepare('CREATE TABLE IF NOT EXISTS pad (b BLOB)')
    const err = await w
      .write(() => {
        fill.run()
        return store.sqlite.prepare('INSERT INTO pad VALUES (zeroblob(100000))').run()
      })
      .catch((e) => e)
    expect(err).toBeInstanceOf(WriterClosedError)
    expect(err.status).toBe(503)
    expect(err.headers['retry-after']).toMatch(/^\d+$/)
    expect(err.message).toMatch(/full.*SQLITE_FULL/)
    expect(w.refused?.error).toMatch(/SQLITE_FULL/)
    expect(w.failed).toBeNull()

    store.sqlite.pragma('max_page_count = 4294967294')
    await w.write(() => insert.run(1))
    expect(w.refused).toBeNull()
    expect(store.sqlite.prepare('SELECT v FROM t ORDER BY v').all()).toEqual([{ v: 0 }, { v: 1 }])
  })

  it('refuses writes after close but commits what was queued before', async () => {
    const w = open()
    const insert = store.sqlite.prepare('INSERT INTO t (v) VALUES (?)')
    const queued = w.write(() => insert.run(7))
    await w.close()
    await queued
    await expect(w.write(() => insert.run(8))).rejects.toThrow(/closing/)
    expect(store.sqlite.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 1 })
  })

  it('resolves callers only once the WAL sync after their COMMIT returned, sharing one sync', async () => {
    const disk = heldSync()
    const w = open(disk.sync)
    const insert = store.sqlite.prepare('INSERT INTO t (v) VALUES (?)')
    const first = w.write(() => insert.run(1))
    expect(await settled(first)).toBe('pending')
    expect(disk.waiting).toBe(1) // committed, waiting for the disk
    // Committed meanwhile: they wait for the next sync, which starts only after the first returns.
    const more = [w.write(() => insert.run(2)), w.write(() => insert.run(3))]
    expect(await settled(more[0]!)).toBe('pending')
    expect(disk.waiting).toBe(1)
    disk.release()
    await first
    expect(await settled(more[0]!)).toBe('pending')
    expect(disk.waiting).toBe(1)
    disk.release()
    await Promise.all(more)
    expect(w.stats.batches).toBe(2)
  })

  it('sends live events in id order and only once durable, transient ones queued behind them', async () => {
    const disk = heldSync()
    const w = open(disk.sync)
    const hub = new Hub(store, w, {
      version: 't',
      replayBuffer: 100,
      retentionMs: 86_400_000,
      heartbeatMs: 1000,
      pollTimeoutMs: 1000,
    })
    const got: number[] = []
    const client: LiveClient = { topics: null, send: (f: Frame) => got.push(f.event.id), close() {} }
    hub.subscribe(client)
    const head = hub.head
    const persisted = w.write((s) => persistRaw(hub, s, 'build.finished', { n: 1 }))
    await settled(persisted)
    const transient = publishRaw(hub, 'visitors', { live: 1 })
    expect(transient.id).toBeGreaterThan(head + 1)
    expect(got).toEqual([]) // the build event isn't durable yet, and the transient one waits behind it
    expect(hub.head).toBe(head)
    disk.release()
    const ev = await persisted
    expect(got).toEqual([ev.id, transient.id])
    expect(hub.head).toBe(transient.id)
    publishRaw(hub, 'visitors', { live: 2 })
    expect(got).toHaveLength(3) // nothing waiting: out at once
  })

  it('fails the callers and every later write when a sync fails, and drops their events', async () => {
    const disk = heldSync()
    const w = open(disk.sync)
    const hub = new Hub(store, w, {
      version: 't',
      replayBuffer: 100,
      retentionMs: 86_400_000,
      heartbeatMs: 1000,
      pollTimeoutMs: 1000,
    })
    const got: string[] = []
    hub.subscribe({ topics: null, send: (f: Frame) => got.push(f.event.type), close() {} })
    const lost = w.write((s) => persistRaw(hub, s, 'build.finished', { n: 1 }))
    await settled(lost)
    disk.release(new Error('EIO: i/o error, fdatasync'))
    const err = await lost.catch((e) => e)
    expect(err).toBeInstanceOf(WriterClosedError)
    expect(err.status).toBe(503)
    expect(err.message).toMatch(/durable.*EIO/)
    await expect(w.write(() => 1)).rejects.toThrow(/can't be written.*EIO/)
    expect(w.failed?.message).toMatch(/EIO/)
    publishRaw(hub, 'visitors', { live: 1 })
    expect(got).toEqual(['visitors'])
  })
})
