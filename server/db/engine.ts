/**
 * @module Where the store is: SQLite in DATA_DIR (one instance, the default) or PostgreSQL at
 * DATABASE_URL (a cluster: issue 17). A capability receives the engine and chooses its statements by
 * `kind`; the rules themselves are written once (server/db/steps.ts).
 */
import type { Store } from './client.ts'
import type { PgStore } from './pg/client.ts'
import type { PgWriter } from './pg/writer.ts'
import type { Writer } from './writer.ts'

export interface SqliteEngine {
  kind: 'sqlite'
  store: Store
  writer: Writer
}

export interface PgEngine {
  kind: 'pg'
  store: PgStore
  writer: PgWriter
}

export type Engine = SqliteEngine | PgEngine

/** Stores whose every writer stat is counted the same way (GET /metrics). */
export type AnyWriter = Writer | PgWriter
