import { afterEach, describe, expect, it } from 'vitest'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { openStore, type Store } from './client.ts'
import { Writer } from './writer.ts'
import { tempDir } from '../test/harness.ts'

let store: Store
let dir: string
afterEach(() => {
  store?.close()
  rmSync(dir, { recursive: true, force: true })
})

function open() {
  dir = tempDir()
  store = openStore(join(dir, 'radiator.db'))
  store.sqlite.exec('CREATE TABLE t (v INTEGER NOT NULL UNIQUE)')
  return new Writer(store.sqlite)
}

describe('group-commit writer', () => {
  it('sets the durability pragmas explicitly', () => {
    open()
    expect(store.sqlite.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(store.sqlite.pragma('synchronous', { simple: true })).toBe(2) // FULL
    expect(store.sqlite.pragma('foreign_keys', { simple: true })).toBe(1)
    expect(store.sqlite.pragma('busy_timeout', { simple: true })).toBe(5000)
  })

  it('commits everything queued in one turn in one transaction, resolving after COMMIT', async () => {
    const w = open()
    const insert = store.sqlite.prepare('INSERT INTO t (v) VALUES (?)')
    const seen: number[] = []
    const all = Array.from({ length: 500 }, (_, i) =>
      w.write(() => insert.run(i)).then(() => {
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

  it('refuses writes after close but commits what was queued before', async () => {
    const w = open()
    const insert = store.sqlite.prepare('INSERT INTO t (v) VALUES (?)')
    const queued = w.write(() => insert.run(7))
    await w.close()
    await queued
    await expect(w.write(() => insert.run(8))).rejects.toThrow(/closing/)
    expect(store.sqlite.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 1 })
  })
})
