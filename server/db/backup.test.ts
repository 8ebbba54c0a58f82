import { afterEach, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { ROOT } from '../http/web-build.ts'
import { startTestServer, tempDir, until, WsTestClient, type TestServer } from '../test/harness.ts'
import { databasePath } from './client.ts'
import { backupJob, SCHEDULED } from './backup.ts'
import { Scheduler } from '../jobs/scheduler.ts'

const TOKEN = 'backup-test-token'
const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

/** The backup CLI as `npm run backup` runs it, in its own process. */
function cli(args: string[], dataDir: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/db/backup-cli.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  return new Promise<{ code: number | null; out: string; err: string }>((r) =>
    child.on('exit', (code) => r({ code, out, err }))
  )
}

async function server(dataDir?: string): Promise<TestServer> {
  const s = await startTestServer({ GENERIC_WEBHOOK_TOKEN: TOKEN }, dataDir)
  cleanup.push(() => s.destroy())
  return s
}

async function postBuild(url: string, key: string): Promise<string> {
  const res = await fetch(`${url}/hooks/generic`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      id: key,
      project: 'acme/backup',
      pipeline: `p${key.length % 3}`,
      branch: 'main',
      status: 'success',
    }),
  })
  const body = (await res.json()) as { build: string; stored: boolean }
  if (res.status !== 200 || !body.stored) throw new Error(`${key}: ${res.status} ${JSON.stringify(body)}`)
  return body.build
}

describe('backup and restore', () => {
  it('copies a running server during a burst of webhooks; the restored copy has every build and event acknowledged before, and new event ids continue above it', async () => {
    const s = await server()
    const live = new WsTestClient(`${s.url.replace('http', 'ws')}/live`)
    cleanup.push(() => live.close())
    await live.opened

    // Four posters deliver builds back to back until told to stop: a steady stream of commits.
    const acked: { key: string; build: string }[] = []
    let stop = false
    let n = 0
    const posters = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const key = `b${n++}`
        acked.push({ key, build: await postBuild(s.url, key) })
      }
    })
    await until(() => acked.length >= 60, 'a first batch of acknowledged builds')

    // Everything acknowledged (a 2xx, an event on the live stream) before the backup starts.
    const ackedBefore = acked.slice()
    const seenBefore = live.events().filter((m) => typeof m.id === 'number' && m.type !== 'snapshot')
    const file = join(tempDir('radiator-backup-'), 'copy.db')
    cleanup.push(() => rmSync(join(file, '..'), { recursive: true, force: true }))
    const reservedAtStart = Number(
      (s.store.sqlite.prepare("SELECT value FROM meta WHERE key = 'event_id_reserved'").get() as { value: string })
        .value
    )
    const during = acked.length
    const made = await cli([file], s.dataDir)
    const after = acked.length
    stop = true
    await Promise.all(posters)
    expect(made.code, made.err).toBe(0)
    expect(made.out).toMatch(
      /^backed up .*radiator\.db → .*copy\.db in \d+ ms \(\d+ builds, \d+ events, event ids reserved through \d+/
    )
    // The burst went on while the copy was taken.
    expect(after).toBeGreaterThan(during)
    expect(existsSync(`${file}-wal`)).toBe(false)
    expect(readdirSync(join(file, '..'))).toEqual(['copy.db'])
    const copy = new Database(file, { readonly: true })
    const reserved = Number(
      (copy.prepare("SELECT value FROM meta WHERE key = 'event_id_reserved'").get() as { value: string } | undefined)
        ?.value
    )
    copy.close()
    expect(reserved).toBeGreaterThanOrEqual(reservedAtStart)
    await s.destroy()

    const restoredDir = join(tempDir(), 'restored')
    const restored = await cli(['--restore', file], restoredDir)
    expect(restored.code, restored.err).toBe(0)
    expect(restored.out).toContain(`restored ${file} → ${databasePath(restoredDir)}`)

    const r = await server(restoredDir)
    for (const { build } of ackedBefore) {
      const res = await fetch(`${r.url}/api/builds/${encodeURIComponent(build)}`)
      expect(res.status, build).toBe(200)
    }
    const ids = new Set((r.store.sqlite.prepare('SELECT id FROM events').all() as { id: number }[]).map((e) => e.id))
    const persisted = seenBefore.filter((m) => m.type.startsWith('build.'))
    expect(persisted.length).toBeGreaterThan(0)
    for (const m of persisted) expect(ids.has(m.id!), `event ${m.id} (${m.type})`).toBe(true)

    // Ids are reserved in blocks: every id issued before the backup is at or below the reservation.
    const top = Math.max(reservedAtStart, ...ids, ...seenBefore.map((m) => m.id!))
    const again = new WsTestClient(`${r.url.replace('http', 'ws')}/live`)
    cleanup.push(() => again.close())
    await again.opened
    const build = await postBuild(r.url, 'after-restore')
    const next = await until(
      () => again.events().find((m) => m.data?.build?.id === build),
      'the new build on the live stream'
    )
    expect(next.id).toBeGreaterThan(top)
  })

  it('includes acknowledged writes that are still only in the WAL', async () => {
    const s = await server()
    const builds: string[] = []
    for (let i = 0; i < 20; i++) builds.push(await postBuild(s.url, `wal${i}`))
    const dir = tempDir('radiator-backup-')
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
    // The premise: radiator.db by itself (what a file copy would take) has none of them yet.
    copyFileSync(s.store.path, join(dir, 'main-file-only.db'))
    const bare = new Database(join(dir, 'main-file-only.db'))
    const inMainFile = bare.prepare("SELECT 1 FROM sqlite_master WHERE name = 'builds'").get()
      ? (bare.prepare('SELECT count(*) AS n FROM builds').get() as { n: number }).n
      : 0
    expect(inMainFile).toBe(0)
    bare.close()

    const made = await cli([join(dir, 'copy.db')], s.dataDir)
    expect(made.code, made.err).toBe(0)
    const copy = new Database(join(dir, 'copy.db'), { readonly: true })
    const ids = (copy.prepare('SELECT id FROM builds').all() as { id: string }[]).map((b) => b.id)
    copy.close()
    expect(ids.sort()).toEqual(builds.sort())
  })

  it('says to use pg_dump when the store is on PostgreSQL', async () => {
    const dir = tempDir()
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
    const r = await cli([join(dir, 'x.db')], dir, {
      DATABASE_URL: 'postgres://radiator@127.0.0.1:5432/radiator',
      LIVE_BUS_URL: 'nats://127.0.0.1:4222',
    })
    expect(r.code).toBe(2)
    expect(r.err).toContain('back it up with pg_dump')
  })

  it('refuses to overwrite a file, and to restore over a data folder that has a database', async () => {
    const s = await server()
    await postBuild(s.url, 'one')
    const dir = tempDir('radiator-backup-')
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'taken.db')
    writeFileSync(file, 'not mine to overwrite')
    const refused = await cli([file], s.dataDir)
    expect(refused.code).toBe(1)
    expect(refused.err.trim().split('\n')).toEqual([
      `backup: ${file} exists; choose a new file name (backups never overwrite)`,
    ])

    const copy = join(dir, 'copy.db')
    expect((await cli([copy], s.dataDir)).code).toBe(0)
    const over = await cli(['--restore', copy], s.dataDir)
    expect(over.code).toBe(1)
    expect(over.err).toMatch(/^backup: \S+radiator\.db exists; restore into a new data folder/)

    const notDb = await cli(['--restore', file], join(tempDir(), 'fresh'))
    expect(notDb.code).toBe(1)
    expect(notDb.err).toMatch(/^backup: \S+taken\.db (can't be opened as|is not) a/)
    expect((await cli([], s.dataDir)).code).toBe(2)
  })

  it('scheduled backups, taken while webhooks keep arriving, are consistent, hold every build acknowledged before they began, and only the newest BACKUP_KEEP stay', async () => {
    const s = await server()
    const dir = tempDir('radiator-backups-')
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(join(dir, 'radiator-by-hand.db'), 'an operator file')
    const lines: string[] = []
    const log = {
      info: (m: string) => lines.push(m),
      error: (m: string, f?: Record<string, unknown>) => lines.push(`${m} ${JSON.stringify(f)}`),
    }

    const acked: { build: string; at: number }[] = []
    let stop = false
    let n = 0
    const posters = Array.from({ length: 3 }, async () => {
      while (!stop) {
        const build = await postBuild(s.url, `s${n++}`)
        acked.push({ build, at: Date.now() })
      }
    })
    await until(() => acked.length >= 20, 'a first batch of builds')
    const schedule = new Scheduler({ warn: (m) => lines.push(m) })
    schedule.add(backupJob({ sqlite: s.store.sqlite, dir, everyMs: 20, keep: 2, log }))
    schedule.start()
    cleanup.push(() => schedule.stop())
    const seen = new Set<string>()
    await until(() => {
      const ours = readdirSync(dir).filter((f) => SCHEDULED.test(f))
      // The oldest goes once the new one is complete: one more for that moment.
      expect(ours.length).toBeLessThanOrEqual(3)
      for (const f of ours) seen.add(f)
      return seen.size >= 5
    }, 'five scheduled backups')
    await schedule.stop()
    stop = true
    await Promise.all(posters)

    expect(lines.filter((l) => l !== 'backup written')).toEqual([])
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([])
    expect(readdirSync(dir)).toContain('radiator-by-hand.db')
    const kept = readdirSync(dir).filter((f) => SCHEDULED.test(f))
    expect(kept).toHaveLength(2)
    for (const f of kept) {
      // The name is the time the backup began: every build acknowledged earlier must be in it.
      const [, d, t, ms] = /^radiator-(\d{8})T(\d{6})(\d{3})Z\.db$/.exec(f)!
      const began = Date.parse(
        `${d!.slice(0, 4)}-${d!.slice(4, 6)}-${d!.slice(6)}T${t!.slice(0, 2)}:${t!.slice(2, 4)}:${t!.slice(4)}.${ms}Z`
      )
      const copy = new Database(join(dir, f), { readonly: true })
      expect(copy.pragma('integrity_check', { simple: true })).toBe('ok')
      const has = copy.prepare('SELECT 1 FROM builds WHERE id = ?')
      const before = acked.filter((a) => a.at < began)
      expect(before.length).toBeGreaterThanOrEqual(20)
      for (const a of before) expect(has.get(a.build), `${a.build} in ${f}`).toBeTruthy()
      copy.close()
    }
  })
})
