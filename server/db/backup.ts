/**
 * @module Online backups of radiator.db and restoring one into a new data folder.
 *
 * A backup is one consistent snapshot: everything COMMITted before it started (every write a client
 * got its 2xx for, and the hub's event id reservation in `meta`), nothing half-done. Written to a
 * temporary name, synced, then renamed, so a backup file that exists is complete. The copy is a
 * single self-contained file (rollback journal mode, no -wal beside it); Radiator turns WAL back on
 * when it opens it.
 *
 * Two ways to take one, both leaving the running server's writes alone:
 * - `backupFile` (the CLI, another process): `VACUUM INTO` reads the database in one read
 *   transaction — in WAL mode a reader never blocks the writer, and it sees committed frames still
 *   in the WAL (the writer's own fdatasync only decides when those are durable, not visible).
 * - `backupConnection` (scheduled backups, inside the server): SQLite's online backup on the
 *   server's own connection, a few hundred pages per event-loop turn; writes made on that
 *   connection meanwhile are copied into the backup as they happen, so it stays consistent and the
 *   event loop is never held for the whole copy.
 */
import Database from 'better-sqlite3'
import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs'
import { open } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { databasePath, ensureDir, type Sqlite } from './client.ts'
import { metaOf } from './meta.ts'
import type { Job } from '../jobs/scheduler.ts'

export interface BackupInfo {
  path: string
  bytes: number
  /** The hub's event id reservation in the copy: a server started on it issues ids above this. */
  eventIdReserved: number
  /** Rows in the copy; -1 from scheduled backups, which don't count (a full scan). */
  builds: number
  events: number
}

/** Something the operator fixes (a path, a running server): reported as one line, no stack. */
export class BackupError extends Error {
  override name = 'BackupError'
}

/** Copies the database at `dbPath` (normally DATA_DIR/radiator.db, Radiator running or not) to `dest`. */
export function backupFile(dbPath: string, dest: string): BackupInfo {
  if (!existsSync(dbPath)) throw new BackupError(`${dbPath} does not exist; set DATA_DIR to Radiator's data folder`)
  const target = prepareTarget(dest)
  const tmp = tempName(target)
  const db = new Database(dbPath, { fileMustExist: true })
  try {
    db.pragma('busy_timeout = 5000')
    db.prepare('VACUUM INTO ?').run(tmp)
  } catch (e) {
    rmSync(tmp, { force: true })
    throw e
  } finally {
    db.close()
  }
  return seal(tmp, target)
}

/** The same from inside the server, on its own connection, without holding the event loop. */
export async function backupConnection(sqlite: Sqlite, dest: string, pagesPerStep = 256): Promise<BackupInfo> {
  const target = prepareTarget(dest)
  const tmp = tempName(target)
  // The last step commits the copy with an fsync, on the event loop: flushing as it grows, on the
  // thread pool, leaves that sync little to write (260 MB: the stall went from ~160 ms to ~30).
  let flushing = null as Promise<void> | null
  let steps = 0
  const flush = async () => {
    const fh = await open(tmp, 'r')
    try {
      await fh.datasync()
    } finally {
      await fh.close()
    }
  }
  try {
    await sqlite.backup(tmp, {
      progress: () => {
        if (++steps % 16 === 0 && !flushing) flushing = flush().finally(() => (flushing = null))
        return pagesPerStep
      },
    })
  } catch (e) {
    await flushing?.catch(() => {})
    rmSync(tmp, { force: true })
    throw e
  }
  await flushing
  return sealInBackground(tmp, target)
}

/**
 * Puts a backup in place as `dataDir`/radiator.db. Only into a data folder without a database: the
 * live one is never overwritten (a running server would keep writing its own), and a -wal left
 * beside a database of another history would be replayed into the restored one.
 */
export function restoreBackup(backup: string, dataDir: string): BackupInfo {
  if (!existsSync(backup)) throw new BackupError(`${backup} does not exist`)
  const checked = inspect(backup)
  const dbPath = databasePath(dataDir)
  for (const p of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`, `${dbPath}-journal`])
    if (existsSync(p))
      throw new BackupError(
        `${p} exists; restore into a new data folder (or stop Radiator and move radiator.db and its -wal/-shm files aside first)`
      )
  ensureDir(dataDir)
  const tmp = tempName(dbPath)
  copyFileSync(backup, tmp)
  const info = seal(tmp, dbPath)
  return { ...info, eventIdReserved: checked.eventIdReserved, builds: checked.builds, events: checked.events }
}

/** Backups made by the schedule: `radiator-<UTC time>.db`, sortable by name. */
export const SCHEDULED = /^radiator-\d{8}T\d{6}(?:\d{3})?Z\.db$/

export function scheduledName(at: Date): string {
  return `radiator-${at.toISOString().replace(/[-:]/g, '').replace('.', '')}.db`
}

/** Deletes all but the newest `keep` scheduled backups in `dir`; other files there are left alone. */
export function pruneBackups(dir: string, keep: number): string[] {
  const ours = readdirSync(dir)
    .filter((f) => SCHEDULED.test(f))
    .sort()
  const gone = ours.slice(0, Math.max(0, ours.length - keep))
  for (const f of gone) rmSync(join(dir, f), { force: true })
  return gone
}

/**
 * The scheduled backup, a job for the server's scheduler (jobs/scheduler.ts): every `everyMs` into
 * `dir`, keeping the newest `keep`. The first is due `everyMs` after the newest one already there
 * (at once when there is none or it is overdue), so restarts more frequent than the interval don't
 * starve the schedule. Failures are logged, never fatal.
 */
export function backupJob(opts: {
  sqlite: Sqlite
  dir: string
  everyMs: number
  keep: number
  log: { info(m: string, f?: Record<string, unknown>): void; error(m: string, f?: Record<string, unknown>): void }
}): Job {
  return {
    name: 'backup',
    every: opts.everyMs,
    firstAfterMs: Math.min(opts.everyMs, Math.max(0, newestBackupAt(opts.dir) + opts.everyMs - Date.now())),
    async run() {
      try {
        ensureDir(opts.dir)
        const info = await backupConnection(opts.sqlite, join(opts.dir, scheduledName(new Date())))
        const pruned = pruneBackups(opts.dir, opts.keep)
        opts.log.info('backup written', { path: info.path, bytes: info.bytes, pruned: pruned.length })
      } catch (e) {
        opts.log.error('backup failed', { dir: opts.dir, err: String(e) })
      }
    },
  }
}

function newestBackupAt(dir: string): number {
  if (!existsSync(dir)) return 0
  const ours = readdirSync(dir)
    .filter((f) => SCHEDULED.test(f))
    .sort()
  return ours.length ? statSync(join(dir, ours.at(-1)!)).mtimeMs : 0
}

function prepareTarget(dest: string): string {
  const target = resolve(dest)
  if (existsSync(target)) throw new BackupError(`${target} exists; choose a new file name (backups never overwrite)`)
  if (!existsSync(dirname(target))) throw new BackupError(`${dirname(target)} does not exist; create it first`)
  return target
}

function tempName(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.partial`)
}

/** Makes the copy self-contained, checks it, syncs it and moves it into place. */
function seal(tmp: string, target: string): BackupInfo {
  let info: Omit<BackupInfo, 'path'>
  try {
    const db = new Database(tmp, { fileMustExist: true })
    try {
      db.pragma('journal_mode = DELETE')
    } finally {
      db.close()
    }
    info = inspect(tmp)
    const fd = openSync(tmp, 'r+')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    if (existsSync(target)) throw new BackupError(`${target} exists; choose a new file name (backups never overwrite)`)
    renameSync(tmp, target)
  } catch (e) {
    rmSync(tmp, { force: true })
    throw e
  }
  const dir = openSync(dirname(target), 'r')
  try {
    fsyncSync(dir)
  } finally {
    closeSync(dir)
  }
  return { path: target, ...info }
}

/**
 * `seal` for the server's event loop: the page copy needs no check (the online backup copies pages
 * as they are), and the syncs run on the thread pool; measured on a 260 MB database, the
 * synchronous version held the loop for a third of a second.
 */
async function sealInBackground(tmp: string, target: string): Promise<BackupInfo> {
  let info: BackupInfo
  try {
    const db = new Database(tmp, { fileMustExist: true })
    try {
      db.pragma('journal_mode = DELETE')
      info = {
        path: target,
        bytes: statSync(tmp).size,
        eventIdReserved: metaOf(db).getNumber('event_id_reserved'),
        builds: -1,
        events: -1,
      }
    } finally {
      db.close()
    }
    const fh = await open(tmp, 'r+')
    try {
      await fh.sync()
    } finally {
      await fh.close()
    }
    if (existsSync(target)) throw new BackupError(`${target} exists; choose a new file name (backups never overwrite)`)
    renameSync(tmp, target)
  } catch (e) {
    rmSync(tmp, { force: true })
    throw e
  }
  const dir = await open(dirname(target), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
  return info
}

/** Opens a copy read-only, checks its structure and reads what the report shows. */
function inspect(path: string): Omit<BackupInfo, 'path'> {
  let db: Sqlite
  try {
    db = new Database(path, { readonly: true, fileMustExist: true })
  } catch (e) {
    throw new BackupError(`${path} can't be opened as a SQLite database (${String(e)})`)
  }
  try {
    const check = db.pragma('quick_check', { simple: true })
    if (check !== 'ok') throw new BackupError(`${path} is damaged (quick_check: ${String(check)})`)
    const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get()
    if (!hasMeta) throw new BackupError(`${path} is not a Radiator database (no meta table)`)
    const count = (t: string) => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n
    return {
      bytes: (
        db.prepare('SELECT page_count * page_size AS b FROM pragma_page_count(), pragma_page_size()').get() as {
          b: number
        }
      ).b,
      eventIdReserved: metaOf(db).getNumber('event_id_reserved'),
      builds: count('builds'),
      events: count('events'),
    }
  } catch (e) {
    if (e instanceof BackupError) throw e
    throw new BackupError(`${path} is not a usable Radiator database (${String(e)})`)
  } finally {
    db.close()
  }
}
