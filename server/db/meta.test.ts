import { afterEach, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { openStore, type Store } from './client.ts'
import { metaOf } from './meta.ts'
import { Writer } from './writer.ts'
import { tempDir } from '../test/harness.ts'

let store: Store | undefined
let dir: string
afterEach(() => {
  store?.close()
  store = undefined
  rmSync(dir, { recursive: true, force: true })
})

function open() {
  dir = tempDir()
  store = openStore(join(dir, 'radiator.db'))
  return store
}

describe('meta', () => {
  it('answers undefined (and 0 as a number) for a key never set', () => {
    const meta = metaOf(open().sqlite)
    expect(meta.get('event_id_reserved')).toBeUndefined()
    expect(meta.getNumber('event_id_reserved')).toBe(0)
  })

  it('stores numbers as text and replaces a value set again', () => {
    const meta = metaOf(open().sqlite)
    meta.set('metrics_rolled_hits', 41)
    meta.set('metrics_rolled_hits', 42)
    meta.set('metrics_rolled_samples', '7')
    expect(meta.get('metrics_rolled_hits')).toBe('42')
    expect(meta.getNumber('metrics_rolled_samples')).toBe(7)
    expect(store!.sqlite.prepare('SELECT count(*) AS n FROM meta').get()).toEqual({ n: 2 })
  })

  it('commits a set with the writer op it ran in, and rolls it back with a failing one', async () => {
    const s = open()
    const meta = metaOf(s.sqlite)
    const writer = new Writer(s.sqlite, s.syncWal)
    await writer.write(() => meta.set('event_id_reserved', 1000))
    await expect(
      writer.write(() => {
        meta.set('event_id_reserved', 2000)
        throw new Error('op failed')
      })
    ).rejects.toThrow('op failed')
    await writer.close()
    expect(meta.getNumber('event_id_reserved')).toBe(1000)
  })

  it('reads through a read-only connection (a backup being inspected)', () => {
    const s = open()
    metaOf(s.sqlite).set('events_trimmed_through', 5)
    const path = s.path
    s.close()
    const ro = new Database(path, { readonly: true, fileMustExist: true })
    try {
      expect(metaOf(ro).getNumber('events_trimmed_through')).toBe(5)
    } finally {
      ro.close()
    }
  })
})
