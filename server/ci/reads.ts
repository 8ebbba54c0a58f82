/**
 * @module What the build API and the feeds read, for either engine. SQLite answers at once, from its
 * prepared statements and the exact tile cache (store.ts); PostgreSQL answers with a promise, from
 * the pool. Lists are one statement each; a read that takes several statements (a build and its
 * jobs, the tiles and the builds they show) runs in one read-only REPEATABLE READ transaction, so
 * it sees one committed state and not half of another instance's COMMIT.
 */
import { and, desc, eq, inArray, lt, or, type SQL, sql } from 'drizzle-orm'
import type pg from 'pg'
import type { Build, PipelineTile } from '../../contract/builds.ts'
import { dbOf, type Sqlite } from '../db/client.ts'
import * as pgSchema from '../db/pg/schema.ts'
import type { PgStore } from '../db/pg/client.ts'
import type { Engine } from '../db/engine.ts'
import * as liteSchema from '../db/schema.ts'
import { literalLimit } from '../db/sqlite.ts'
import { runAsync } from '../db/steps.ts'
import type { BuildsQuery, DeliveriesQuery } from './api.ts'
import { pgBoardSteps, pgSteps } from './pg-steps.ts'
import { BuildLogic, type BuildRow, BuildStore, NO_TILE_CACHE } from './store.ts'

type Maybe<T> = T | Promise<T>
export type DeliveryRow = typeof liteSchema.deliveries.$inferSelect
/** A tile's last build that succeeded or failed: what cctray reports as its last status. */
export type LastDecided = Pick<BuildRow, 'number' | 'id' | 'finishedAt' | 'updatedAt'>

export interface CiReads {
  /** Builds matching `q`, newest first, at most `q.limit + 1` (one more says a next page exists). */
  builds(q: BuildsQuery): Maybe<BuildRow[]>
  build(id: string): Maybe<Build | null>
  /** Every tile, newest first. SQLite answers the same array while no tile changed: never mutate it. */
  tiles(): Maybe<PipelineTile[]>
  tile(id: string): Maybe<PipelineTile | null>
  /** Deliveries matching `q`, newest first, at most `q.limit + 1`. */
  deliveries(q: DeliveriesQuery): Maybe<DeliveryRow[]>
  /** Per tile id, its last decided build (none for a tile that has not succeeded or failed yet). */
  lastDecided(tiles: readonly string[]): Maybe<Map<string, LastDecided>>
}

type BuildsTable = typeof liteSchema.builds | typeof pgSchema.builds
type DeliveriesTable = typeof liteSchema.deliveries | typeof pgSchema.deliveries

/** The list filters, stated once for both engines' tables (same columns, same names). */
function buildFilters(t: BuildsTable, q: BuildsQuery): SQL | undefined {
  return and(
    q.project === undefined ? undefined : eq(t.project, q.project),
    q.pipeline === undefined ? undefined : eq(t.pipeline, q.pipeline),
    q.pipelineId === undefined ? undefined : eq(t.pipelineId, q.pipelineId),
    q.branch === undefined ? undefined : eq(t.branch, q.branch),
    q.provider === undefined ? undefined : eq(t.provider, q.provider),
    q.status === undefined ? undefined : eq(t.status, q.status),
    q.cursor && or(lt(t.updatedAt, q.cursor.t), and(eq(t.updatedAt, q.cursor.t), lt(t.id, q.cursor.id)))
  )
}

function deliveryFilters(t: DeliveriesTable, q: DeliveriesQuery): SQL | undefined {
  return and(
    q.provider ? eq(t.provider, q.provider) : undefined,
    q.outcome ? eq(t.outcome, q.outcome) : undefined,
    q.cursor ? lt(t.id, q.cursor) : undefined
  )
}

/** Canceled and skipped builds keep the previous status, as cctray clients expect. */
const DECIDED = ['success', 'failure'] as const
const decidedAt = (t: BuildsTable) => sql`coalesce(${t.finishedAt}, ${t.updatedAt})`

export function sqliteReads(sqlite: Sqlite, store: BuildStore): CiReads {
  const db = dbOf(sqlite)
  const { builds, deliveries } = liteSchema
  const lastDecided = db
    .select({ number: builds.number, id: builds.id, finishedAt: builds.finishedAt, updatedAt: builds.updatedAt })
    .from(builds)
    .where(and(eq(builds.pipelineId, sql.placeholder('tile')), inArray(builds.status, [...DECIDED])))
    .orderBy(desc(decidedAt(builds)))
    .limit(literalLimit(1))
    .prepare()
  return {
    builds: (q) =>
      db
        .select()
        .from(builds)
        .where(buildFilters(builds, q))
        .orderBy(desc(builds.updatedAt), desc(builds.id))
        .limit(q.limit + 1)
        .all(),
    build: (id) => store.getBuild(id),
    tiles: () => store.tiles(),
    tile: (id) => store.getTile(id),
    deliveries: (q) =>
      db
        .select()
        .from(deliveries)
        .where(deliveryFilters(deliveries, q))
        .orderBy(desc(deliveries.id))
        .limit(q.limit + 1)
        .all(),
    lastDecided: (tiles) => {
      const out = new Map<string, LastDecided>()
      for (const tile of tiles) {
        const r = lastDecided.get({ tile })
        if (r) out.set(tile, r)
      }
      return out
    },
  }
}

/** Runs `fn` on one pool connection inside a read-only REPEATABLE READ transaction: one committed state. */
async function consistent<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect()
  let broken: unknown
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    const r = await fn(c)
    await c.query('COMMIT')
    return r
  } catch (e) {
    broken = e
    await c.query('ROLLBACK').catch(() => {})
    throw e
  } finally {
    c.release(broken !== undefined)
  }
}

export function pgReads(store: PgStore): CiReads {
  const { db, pool } = store
  const { builds, deliveries } = pgSchema
  const logic = (c: pg.ClientBase) => new BuildLogic(pgSteps(c, { lock: false }), NO_TILE_CACHE)
  return {
    builds: (q) =>
      db
        .select()
        .from(builds)
        .where(buildFilters(builds, q))
        .orderBy(desc(builds.updatedAt), desc(builds.id))
        .limit(q.limit + 1),
    build: (id) => consistent(pool, (c) => runAsync(logic(c).getBuild(id))),
    tiles: () =>
      consistent(pool, async (c) => {
        const now = Date.now()
        return runAsync(new BuildLogic(await pgBoardSteps(c, now), NO_TILE_CACHE).tiles(now))
      }),
    tile: (id) => consistent(pool, (c) => runAsync(logic(c).getTile(id))),
    deliveries: (q) =>
      db
        .select()
        .from(deliveries)
        .where(deliveryFilters(deliveries, q))
        .orderBy(desc(deliveries.id))
        .limit(q.limit + 1),
    lastDecided: async (tiles) => {
      if (tiles.length === 0) return new Map()
      const rows = await db
        .selectDistinctOn([builds.pipelineId], {
          tile: builds.pipelineId,
          number: builds.number,
          id: builds.id,
          finishedAt: builds.finishedAt,
          updatedAt: builds.updatedAt,
        })
        .from(builds)
        .where(and(inArray(builds.pipelineId, [...tiles]), inArray(builds.status, [...DECIDED])))
        .orderBy(builds.pipelineId, desc(decidedAt(builds)))
      return new Map(rows.map(({ tile, ...r }) => [tile, r]))
    },
  }
}

/** The reads on an engine (a BuildStore on SQLite shares its connection's tile cache with every other). */
export function readsFor(engine: Engine): CiReads {
  return engine.kind === 'sqlite'
    ? sqliteReads(engine.store.sqlite, new BuildStore(engine.store.sqlite))
    : pgReads(engine.store)
}
