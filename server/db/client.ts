/**
 * @module Opens the SQLite database with the pragmas Radiator relies on and applies migrations;
 * `dbOf` gives the drizzle handle on a connection, so built queries run in the writer's transaction.
 */
import Database from 'better-sqlite3'
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import { closeSync, fdatasync, fsyncSync, mkdirSync, openSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as schema from './schema.ts'
import type { SyncWal } from './writer.ts'

export type Sqlite = Database.Database
export type Db = BetterSQLite3Database<typeof schema>

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url))

export interface Store {
  sqlite: Sqlite
  db: Db
  path: string
  /** fdatasync of the WAL on the thread pool: what makes a COMMIT durable (see writer.ts). */
  syncWal: SyncWal
  close(): void
}

export function openStore(path: string, opts: { cacheMb?: number } = {}): Store {
  ensureDir(dirname(path))
  const sqlite = new Database(path)
  try {
    return prepare(sqlite, path, opts)
  } catch (e) {
    sqlite.close()
    throw e
  }
}

/**
 * `mkdir -p`, one level at a time. Node's `mkdirSync(…, { recursive: true })` loops forever when
 * mkdir answers ENOENT under a parent that exists (any path under /proc), hanging start-up.
 */
export function ensureDir(dir: string): void {
  const missing: string[] = []
  for (let p = resolve(dir); ; p = dirname(p)) {
    try {
      if (statSync(p).isDirectory()) break
      throw Object.assign(new Error(`ENOTDIR: not a directory, '${p}'`), { code: 'ENOTDIR', path: p })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(p) === p) throw e
    }
    missing.push(p)
  }
  for (const p of missing.reverse()) {
    try {
      mkdirSync(p)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
  }
}

function prepare(sqlite: Sqlite, path: string, opts: { cacheMb?: number }): Store {
  sqlite.pragma('journal_mode = WAL')
  // NORMAL: COMMIT writes the WAL without syncing it (checkpoints still sync). A 2xx promises the
  // write is durable, so the writer syncs the WAL itself after each COMMIT, off the event loop
  // (`syncWal` below); FULL would do the same sync inside COMMIT and stall every request meanwhile.
  sqlite.pragma('synchronous = NORMAL')
  sqlite.pragma('foreign_keys = ON')
  sqlite.pragma('busy_timeout = 5000')
  // SQLite's default cache is 2 MB: past that, every lookup in an index that grows in random order
  // (vitals ids) reads its pages back from the OS, which measured as a third of a vitals flush.
  if (opts.cacheMb) sqlite.pragma(`cache_size = ${-opts.cacheMb * 1024}`)
  const db = dbOf(sqlite)
  migrate(db, { migrationsFolder: MIGRATIONS_DIR })
  // The WAL file lives as long as this connection (SQLite removes it when the last one closes), so
  // one descriptor serves every sync. Opened on the first sync: a COMMIT has just written the file.
  let walFd: number | null = null
  return {
    sqlite,
    db,
    path,
    syncWal(done) {
      try {
        if (walFd === null) {
          walFd = openSync(`${path}-wal`, 'r')
          // The directory entry of a new WAL file must be durable too (once).
          const dir = openSync(dirname(path), 'r')
          try {
            fsyncSync(dir)
          } finally {
            closeSync(dir)
          }
        }
      } catch (e) {
        return done(e as Error)
      }
      fdatasync(walFd, done)
    },
    close() {
      if (walFd !== null) closeSync(walFd)
      walFd = null
      if (sqlite.open) sqlite.close()
    },
  }
}

const handles = new WeakMap<Sqlite, Db>()

/**
 * The drizzle handle on `sqlite` (one per connection): its queries are statements on that
 * connection, so inside a writer op they are part of the op's transaction like `sqlite.prepare`.
 */
export function dbOf(sqlite: Sqlite): Db {
  let db = handles.get(sqlite)
  if (!db) handles.set(sqlite, (db = drizzle(sqlite, { schema })))
  return db
}

export function databasePath(dataDir: string): string {
  return join(dataDir, 'radiator.db')
}
