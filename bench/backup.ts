/**
 * Backup cost on a database of a given size (BENCH_BACKUP_MB, default 200, made of live events):
 * the CLI's `VACUUM INTO` from another connection, and the scheduled backup on the server's own
 * connection, with the longest the event loop was held meanwhile (what a request could wait).
 * `npm run bench:backup`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore } from '../server/db/client.ts'
import { backupConnection, backupFile } from '../server/db/backup.ts'

const MB = Number(process.env.BENCH_BACKUP_MB ?? 200)
const dir = mkdtempSync(join(tmpdir(), 'radiator-bench-backup-'))
try {
  const store = openStore(join(dir, 'radiator.db'))
  const data = JSON.stringify({
    build: { id: 'x'.repeat(40), project: 'acme/web', status: 'success', log: 'y'.repeat(900) },
  })
  const insert = store.sqlite.prepare('INSERT INTO events (id, type, at, data) VALUES (?, ?, ?, ?)')
  const rows = Math.round((MB * 1048576) / (data.length + 60))
  store.sqlite.transaction(() => {
    for (let i = 1; i <= rows; i++) insert.run(i, 'build.finished', Date.now(), data)
  })()
  store.sqlite.pragma('wal_checkpoint(TRUNCATE)')

  let t0 = performance.now()
  const cli = backupFile(store.path, join(dir, 'cli.db'))
  const cliMs = performance.now() - t0

  let maxLag = 0
  let last = performance.now()
  const tick = setInterval(() => {
    const now = performance.now()
    maxLag = Math.max(maxLag, now - last - 1)
    last = now
  }, 1)
  t0 = performance.now()
  const sched = await backupConnection(store.sqlite, join(dir, 'scheduled.db'))
  const schedMs = performance.now() - t0
  // The synchronous tail (check, fsync, rename) ran after the last tick: count it too.
  maxLag = Math.max(maxLag, performance.now() - last - 1)
  clearInterval(tick)
  store.close()

  const mb = (b: number) => (b / 1048576).toFixed(0)
  console.log(`database ${mb(sched.bytes)} MB (${rows} events), node ${process.version}`)
  console.log(`| backup | total ms | longest event-loop stall ms |`)
  console.log(`|---|---|---|`)
  console.log(`| CLI, VACUUM INTO (own process; ${mb(cli.bytes)} MB copy) | ${cliMs.toFixed(0)} | (another process) |`)
  console.log(`| scheduled, online backup on the server's connection | ${schedMs.toFixed(0)} | ${maxLag.toFixed(0)} |`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
