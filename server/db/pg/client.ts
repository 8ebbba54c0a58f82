/**
 * @module Opens the PostgreSQL store (`DATABASE_URL=postgres://…`, issue 17): a node-postgres pool, a
 * drizzle handle on it with the schema of pg/schema.ts, and the migrations of /migrations/pg applied
 * before anything else runs.
 *
 * Limits, each an option with this default:
 * - `poolSize` 10 connections (node-postgres' own default): the writer holds one for its transaction
 *   at a time and reads take the rest; three instances use 30 of PostgreSQL's default 100.
 * - `statementTimeoutMs` 30 s per statement (the server's `statement_timeout`, set at connect): a
 *   query stuck behind a lock fails instead of holding a request and a connection forever.
 * - `connectTimeoutMs` 10 s to open a connection (a host that drops packets answers nothing at all).
 * - `migrateTimeoutMs` 10 min for the migration step, as the statement timeout of its own
 *   connection: it bounds both the wait for the lock and each migration statement (an index on a big
 *   table takes longer than 30 s).
 *
 * Several instances start at once against one database: each takes a session advisory lock
 * (MIGRATION_LOCK) before migrating, so one applies the migrations while the others wait and then
 * find nothing left to do. drizzle's migrator alone would race: each reads "no migrations yet",
 * then each runs CREATE TABLE and all but one fail. The lock dies with its connection, so an
 * instance killed mid-migration releases it (and its migration transaction rolls back).
 *
 * What the operator fixes (host unreachable, unknown database or role, no permission) is a
 * StartupError naming the host, port, database and user, and what to check: never the password,
 * never the URL as written.
 */
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import { join } from 'node:path'
import pg from 'pg'
import { StartupError } from '../../errors.ts'
import { MIGRATIONS_DIR } from '../client.ts'
import * as schema from './schema.ts'
import { withCleanText } from './text.ts'

export type PgDb = NodePgDatabase<typeof schema>

/**
 * Found from the SQLite store's folder, not from this file's: the production bundle puts every module
 * in dist/server/main.js, two folders below the root as server/db/ is, never three (scripts/build.mjs).
 */
export const PG_MIGRATIONS_DIR = join(MIGRATIONS_DIR, 'pg')

/** pg_advisory_lock(int4, int4) key of the migration step: ('Radi', 1). Other cluster-wide locks take other second halves. */
export const MIGRATION_LOCK = [0x52616469, 1] as const

export interface PgStoreOptions {
  poolSize?: number
  statementTimeoutMs?: number
  connectTimeoutMs?: number
  migrateTimeoutMs?: number
  /** An idle pooled connection failed (the server restarted, the network dropped it): the pool replaces it. */
  onIdleError?: (message: string) => void
}

export const PG_DEFAULTS = {
  poolSize: 10,
  statementTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  migrateTimeoutMs: 600_000,
} as const

export interface PgStore {
  pool: pg.Pool
  db: PgDb
  /** `postgres://user@host:port/database`: where the store is, for logs and the start-up lines (no password). */
  where: string
  close(): Promise<void>
}

/** The parts of DATABASE_URL that may be shown: everything but the password. */
interface Target {
  host: string
  port: string
  database: string
  user: string
}

function targetOf(url: string): Target {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new StartupError('DATABASE_URL is not a URL: write it as postgres://user:password@host:5432/database')
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    throw new StartupError(
      `DATABASE_URL must start with postgres:// (not ${u.protocol}//): postgres://user:password@host:5432/database`
    )
  return {
    host: decodeURIComponent(u.hostname) || 'localhost',
    port: u.port || '5432',
    database: decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username) || 'postgres',
    user: decodeURIComponent(u.username) || 'the current OS user',
  }
}

function whereOf(t: Target): string {
  return `postgres://${t.user}@${t.host}:${t.port}/${t.database}`
}

export async function openPgStore(url: string, opts: PgStoreOptions = {}): Promise<PgStore> {
  const o = { ...PG_DEFAULTS, ...opts }
  const target = targetOf(url)
  const pool = new pg.Pool({
    connectionString: url,
    max: o.poolSize,
    statement_timeout: o.statementTimeoutMs,
    connectionTimeoutMillis: o.connectTimeoutMs,
    application_name: 'radiator',
  })
  // Without a listener, an idle connection's error (a server restart) would crash the process.
  pool.on('error', (e) => (opts.onIdleError ?? console.warn)(`PostgreSQL ${whereOf(target)}: ${e.message}`))
  // NULs in text parameters (untrusted text) would fail the query: see text.ts.
  pool.on('connect', (c) => void withCleanText(c))
  try {
    await migrateUnderLock(pool, target, o.migrateTimeoutMs)
  } catch (e) {
    await pool.end().catch(() => {})
    throw e
  }
  return {
    pool,
    db: drizzle({ client: pool, schema }),
    where: whereOf(target),
    close: () => pool.end(),
  }
}

async function migrateUnderLock(pool: pg.Pool, target: Target, timeoutMs: number): Promise<void> {
  let client: pg.PoolClient
  try {
    client = await pool.connect()
  } catch (e) {
    throw connectError(e, target)
  }
  let broken: unknown
  try {
    await client.query(`SET statement_timeout = ${Math.trunc(timeoutMs)}`)
    await client.query('SELECT pg_advisory_lock($1, $2)', [...MIGRATION_LOCK]).catch((e) => {
      if ((e as { code?: string }).code === '57014')
        throw new StartupError(
          `PostgreSQL ${whereOf(target)}: another Radiator has held the migration lock for ${timeoutMs / 1000} s; ` +
            'check for a stuck instance (pg_stat_activity, application_name radiator) and start again'
        )
      throw e
    })
    try {
      await migrate(drizzle({ client }), { migrationsFolder: PG_MIGRATIONS_DIR })
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, $2)', [...MIGRATION_LOCK])
    }
    await client.query('RESET statement_timeout')
  } catch (e) {
    broken = e
    if ((e as { code?: string }).code === '42501')
      throw new StartupError(
        `PostgreSQL ${whereOf(target)}: user ${target.user} may not create the tables (${(e as Error).message}); ` +
          `grant it CREATE on database ${target.database} and schema public, or use the database's owner`
      )
    throw e
  } finally {
    // A connection whose session state is unknown (a failed SET or unlock) is closed, not reused.
    client.release(broken !== undefined)
  }
}

/** Why a first connection failed, as the operator's next step. */
function connectError(e: unknown, t: Target): Error {
  const err = e as { code?: string; message?: string }
  const at = `PostgreSQL at ${t.host}:${t.port}`
  switch (err.code) {
    case 'ECONNREFUSED':
      return new StartupError(
        `${at} refused the connection: check that PostgreSQL runs there and listens on that address (listen_addresses, port) and that DATABASE_URL names the right host and port`
      )
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StartupError(`${at}: the host name ${t.host} was not found; check the host in DATABASE_URL`)
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new StartupError(`${at} is unreachable: check the host in DATABASE_URL, the network and any firewall`)
    case '28P01':
    case '28000':
      // 28P01: a wrong password; 28000: no such role, or pg_hba.conf has no line letting it in.
      return new StartupError(
        `${at} did not let user ${t.user} in (${err.message}): check the user and password in DATABASE_URL and the server's pg_hba.conf`
      )
    case '3D000':
      return new StartupError(
        `${at} has no database ${t.database}: create it (createdb ${t.database}) or fix the database name in DATABASE_URL`
      )
  }
  if (/timeout/i.test(err.message ?? ''))
    return new StartupError(
      `${at} did not answer in time: check the host and port in DATABASE_URL, the network and any firewall`
    )
  if (/SSL|TLS|certificate/i.test(err.message ?? ''))
    return new StartupError(`${at}: ${err.message}; check sslmode in DATABASE_URL and the server's SSL settings`)
  return new StartupError(`${at}, database ${t.database}, user ${t.user}: ${err.message ?? String(e)}`)
}
