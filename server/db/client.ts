/**
 * @module Opens the SQLite database with the pragmas Radiator relies on and applies migrations.
 * The only module (with writer.ts) that touches better-sqlite3 directly.
 */
import Database from 'better-sqlite3'
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as schema from './schema.ts'

export type Sqlite = Database.Database
export type Db = BetterSQLite3Database<typeof schema>

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url))

export interface Store {
  sqlite: Sqlite
  db: Db
  path: string
  close(): void
}

export function openStore(path: string): Store {
  mkdirSync(dirname(path), { recursive: true })
  const sqlite = new Database(path)
  sqlite.pragma('journal_mode = WAL')
  // better-sqlite3 leaves WAL at synchronous=NORMAL, which can lose the last commits on power
  // loss; a 2xx from Radiator promises the write is durable, so FULL it is.
  sqlite.pragma('synchronous = FULL')
  sqlite.pragma('foreign_keys = ON')
  sqlite.pragma('busy_timeout = 5000')
  const db = drizzle(sqlite, { schema })
  migrate(db, { migrationsFolder: MIGRATIONS_DIR })
  return {
    sqlite,
    db,
    path,
    close() {
      if (sqlite.open) sqlite.close()
    },
  }
}

export function databasePath(dataDir: string): string {
  return join(dataDir, 'radiator.db')
}
