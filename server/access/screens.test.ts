import { afterEach, describe, expect, it } from 'vitest'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { openStore, type Store } from '../db/client.ts'
import { Writer } from '../db/writer.ts'
import { tempDir } from '../test/harness.ts'
import { Credentials } from './credentials.ts'
import { Screens } from './screens.ts'
import { SqliteAccessRows } from './sqlite-rows.ts'

let store: Store
let dir: string
afterEach(() => {
  store?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('paired screens', () => {
  it("lists each screen with its session's last-seen time, and drops one whose session is revoked", async () => {
    dir = tempDir()
    store = openStore(join(dir, 'radiator.db'))
    const writer = new Writer(store.sqlite, store.syncWal)
    const now = () => 1_700_000_000_000
    const rows = new SqliteAccessRows(store.db, writer)
    const credentials = new Credentials(rows, now)
    const screens = new Screens(rows, now)
    const lobby = await credentials.createSession({
      kind: 'screen',
      role: 'viewer',
      subject: 'lobby',
      address: '10.0.0.7',
    })
    const hall = await credentials.createSession({ kind: 'screen', role: 'viewer', subject: 'hall' })
    const a = await screens.create(lobby.id, 'lobby', '/tv')
    const b = await screens.create(hall.id, 'hall', '/tv?project=web')
    expect(screens.list()).toEqual(
      expect.arrayContaining([
        { ...a, lastSeenAt: now(), address: '10.0.0.7', userAgent: null },
        { ...b, lastSeenAt: now(), address: null, userAgent: null },
      ])
    )
    expect(await credentials.revokeSession(lobby.id)).toBe(true)
    expect(screens.list().map((s) => s.name)).toEqual(['hall'])
    await writer.close()
  })
})
