/**
 * @module The CI store's statements on PostgreSQL (issue 17), for the same build logic SQLite runs
 * (BuildLogic in store.ts): each statement yields its promise (server/db/steps.ts). Bound to one
 * connection: the writer's transaction for writes, a pool connection for reads.
 *
 * Differences from SQLite, all deliberate:
 * - Writes lock what they merge into (`lock`, the writer's use): on SQLite the writer's transaction
 *   is the only writer; here another instance may merge an update of the same build, or of another
 *   build of the same tile, at the same moment, and without row locks both would merge into the
 *   state they read and the later COMMIT would drop the other's change. The build is read
 *   `FOR UPDATE` first (its id under a transaction-scoped advisory lock before that, for a build
 *   not stored yet), then its tile: `insertTile` creates-or-locks the tile row, and every read
 *   of a tile inside the transaction is `FOR UPDATE`. So locks are taken build → tile, and a
 *   transaction that changed a tile's builds holds the tile until it commits: the tile it computes
 *   (and sends in its live event) includes every change committed before it, and the last COMMIT
 *   touching a tile sends the tile as it stands. Two deliveries locking in opposite orders (one
 *   batch holding build A then B, another instance's B then A; a build moving between two tiles
 *   each way) deadlock; PostgreSQL aborts one and the writer retries it op by op.
 *   Reads (`lock` false) take no lock: a lock outside a transaction still waits for a writer's.
 * - SQLite sorts NULL first in ascending order and PostgreSQL last: the jobs of a build (ordered by
 *   start time, a job not started yet has none) say NULLS FIRST, as SQLite has it.
 * - Newest-first order breaks a tie in `created_at` by the build id, where SQLite uses the rowid
 *   (insertion order); two builds of one tile created in the same millisecond may show in the other
 *   order. A serial column would make them agree; not worth a migration yet.
 */
import { and, asc, desc, eq, getTableColumns, gt, inArray, lt, notExists, type SQL, sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/node-postgres'
import type pg from 'pg'
import { BUILD_RUNNING } from '../db/schema.ts'
import { builds, deliveries, deliveryKeys, jobs, pipelines, rawBodies, waitingJobs } from '../db/pg/schema.ts'
import * as schema from '../db/pg/schema.ts'
import { awaited, done } from '../db/steps.ts'
import type { DeliverySteps } from './ingest.ts'
import { type BuildRow, type CiSteps, type JobRow, RECENT_MAX, RUNNING_STALE_MS, type TileRow } from './store.ts'

/** `lock`: true inside the writer's transaction (the default), false for reads on a pool connection. */
export function pgSteps(client: pg.ClientBase, { lock = true }: { lock?: boolean } = {}): CiSteps {
  const db = drizzle({ client: client as pg.PoolClient, schema })
  const newestFirst = [desc(builds.createdAt), desc(builds.id)]
  const first = <T>(rows: Promise<T[]>) => awaited(rows.then((r) => r[0]))
  const locked = <Q extends { for(strength: 'update'): Q }>(q: Q): Q => (lock ? q.for('update') : q)
  return {
    build: (id) =>
      awaited(
        (async () => {
          // A build that does not exist yet has no row to lock: its id is locked instead, so a job
          // waiting for the build and the build itself (or the same build twice) are merged one
          // after the other, never each without the other (a job left waiting, a duplicate key).
          if (lock) await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [id])
          const rows = await locked(db.select().from(builds).where(eq(builds.id, id)).$dynamic())
          return rows[0] as BuildRow | undefined
        })()
      ),
    insertBuild: (row) =>
      awaited(
        db
          .insert(builds)
          .values(row)
          .then(() => undefined)
      ),
    updateBuild: ({ id, ...rest }) =>
      awaited(
        db
          .update(builds)
          .set(rest)
          .where(eq(builds.id, id))
          .then(() => undefined)
      ),
    tile: (id) => first<TileRow>(locked(db.select().from(pipelines).where(eq(pipelines.id, id)).$dynamic())),
    tiles: () => awaited(db.select().from(pipelines).orderBy(desc(pipelines.updatedAt)).limit(1000)),
    // Creates the tile or, when it exists, locks it without changing it (an update to itself): a
    // build joins a tile only through here, so a concurrent dropEmptyTile that holds the tile first
    // deletes it before this inserts it again, and one that comes later sees the build.
    insertTile: (row) =>
      awaited(
        db
          .insert(pipelines)
          .values(row)
          .onConflictDoUpdate({ target: pipelines.id, set: { id: sql`${pipelines.id}` } })
          .then(() => undefined)
      ),
    saveTile: ({ id, provider: _p, project: _r, pipeline: _l, branch: _b, ...state }) =>
      awaited(
        db
          .update(pipelines)
          .set(state)
          .where(eq(pipelines.id, id))
          .then(() => undefined)
      ),
    jobs: (buildId) =>
      awaited(
        db
          .select()
          .from(jobs)
          .where(eq(jobs.buildId, buildId))
          .orderBy(sql`${jobs.startedAt} ASC NULLS FIRST`, asc(jobs.name))
      ) as ReturnType<CiSteps['jobs']>,
    job: (buildId, jobId) =>
      first<JobRow>(
        db
          .select()
          .from(jobs)
          .where(and(eq(jobs.buildId, buildId), eq(jobs.jobId, jobId)))
      ),
    upsertJob: (row) =>
      awaited(
        db
          .insert(jobs)
          .values(row)
          .onConflictDoUpdate({
            target: [jobs.buildId, jobs.jobId],
            set: {
              name: row.name,
              status: row.status,
              startedAt: row.startedAt,
              finishedAt: row.finishedAt,
              url: row.url,
            },
          })
          .then(() => undefined)
      ),
    deleteJobs: (buildId) =>
      awaited(
        db
          .delete(jobs)
          .where(eq(jobs.buildId, buildId))
          .then(() => undefined)
      ),
    // The tile is locked first, then the DELETE's own snapshot is taken: a build another
    // transaction added to it (holding the tile through insertTile) is committed by then and seen.
    dropEmptyTile: (id) =>
      awaited(
        (async () => {
          await db.select({ id: pipelines.id }).from(pipelines).where(eq(pipelines.id, id)).for('update')
          const r = await db
            .delete(pipelines)
            .where(
              and(
                eq(pipelines.id, id),
                notExists(db.select({ one: sql`1` }).from(builds).where(eq(builds.pipelineId, id)))
              )
            )
          return (r.rowCount ?? 0) > 0
        })()
      ),
    wait: (row) =>
      awaited(
        db
          .insert(waitingJobs)
          .values(row)
          .onConflictDoUpdate({
            target: [waitingJobs.buildId, waitingJobs.key],
            set: { at: row.at, update: row.update },
          })
          .then(() => undefined)
      ),
    waiting: (buildId) =>
      awaited(
        db
          .select({ update: waitingJobs.update })
          .from(waitingJobs)
          .where(eq(waitingJobs.buildId, buildId))
          .then((rows) => rows.map((r) => r.update))
      ),
    unwait: (buildId) =>
      awaited(
        db
          .delete(waitingJobs)
          .where(eq(waitingJobs.buildId, buildId))
          .then(() => undefined)
      ),
    expireWaiting: (before) =>
      awaited(
        db
          .delete(waitingJobs)
          .where(lt(waitingJobs.at, before))
          .then(() => undefined)
      ),
    newest: (tile) =>
      first<BuildRow>(
        db
          .select()
          .from(builds)
          .where(eq(builds.pipelineId, tile))
          .orderBy(...newestFirst)
          .limit(1)
      ),
    running: (tile, since) =>
      first<BuildRow>(
        db
          .select()
          .from(builds)
          .where(and(eq(builds.pipelineId, tile), sql.raw(BUILD_RUNNING), gt(builds.updatedAt, since)))
          .orderBy(desc(builds.createdAt))
          .limit(1)
      ),
    recent: (tile, n) =>
      awaited(
        db
          .select({ status: builds.status, durationMs: builds.durationMs })
          .from(builds)
          .where(eq(builds.pipelineId, tile))
          .orderBy(...newestFirst)
          .limit(n)
      ),
  }
}

/** The delivery log's statements on PostgreSQL (DeliveryLogic in ingest.ts). */
export function pgDeliverySteps(client: pg.ClientBase): DeliverySteps {
  const db = drizzle({ client: client as pg.PoolClient, schema })
  return {
    log: (row) =>
      awaited(
        db
          .insert(deliveries)
          .values(row)
          .returning({ id: deliveries.id })
          .then((r) => r[0]!.id)
      ),
    remember: (key) =>
      awaited(
        db
          .insert(deliveryKeys)
          .values(key)
          .onConflictDoNothing({ target: [deliveryKeys.provider, deliveryKeys.deliveryId] })
          .then((r) => (r.rowCount ?? 0) > 0)
      ),
    raw: (row) =>
      awaited(
        db
          .insert(rawBodies)
          .values(row)
          .then(() => undefined)
      ),
  }
}

/**
 * The board's reads in four statements instead of three or four per tile: the tiles, then for every
 * tile at once (a LATERAL join, each through the tile's own index) its newest build, its running
 * build and its last RECENT_MAX statuses. The build logic computes each tile from these rows as from
 * its own statements (store.ts BuildLogic.tiles); anything else it asks goes to `pgSteps`. `now` is
 * the time the tiles are computed at (a running build is one with news within RUNNING_STALE_MS).
 */
export async function pgBoardSteps(client: pg.ClientBase, now: number): Promise<CiSteps> {
  const steps = pgSteps(client, { lock: false })
  const db = drizzle({ client: client as pg.PoolClient, schema })
  const since = now - RUNNING_STALE_MS
  const tiles = await db.select().from(pipelines).orderBy(desc(pipelines.updatedAt)).limit(1000)
  const ids = tiles.map((t) => t.id)
  type Ordered = { createdAt: typeof builds.createdAt; id: typeof builds.id }
  const newestFirst = (t: Ordered) => [desc(t.createdAt), desc(t.id)]
  const all = Object.keys(getTableColumns(builds)) as (keyof BuildRow)[]
  /** Per tile, the columns `cols` of its builds matching `where` in `order`, at most `n`. */
  const perTile = async <K extends keyof BuildRow>(
    cols: readonly K[],
    where: SQL | undefined,
    order: (t: Ordered) => SQL[],
    n: number
  ) => {
    const b = db
      .select()
      .from(builds)
      .where(and(eq(builds.pipelineId, pipelines.id), where))
      .orderBy(...order(builds))
      .limit(n)
      .as('b')
    const fields = Object.fromEntries(cols.map((k) => [k, b[k]])) as unknown as Record<K, (typeof b)['id']>
    // Typed by the columns picked (drizzle maps each as its column, bigints to numbers included).
    const rows = (ids.length
      ? await db
          .select({ tile: pipelines.id, ...fields })
          .from(pipelines)
          .crossJoinLateral(b)
          .where(inArray(pipelines.id, ids))
          // Each tile's rows in the lateral's order (a join need not keep it), compared as PostgreSQL compares.
          .orderBy(pipelines.id, ...order(b as unknown as Ordered))
      : []) as unknown as ({ tile: string } & Pick<BuildRow, K>)[]
    const out = new Map<string, Pick<BuildRow, K>[]>()
    for (const { tile, ...row } of rows) {
      const r = row as unknown as Pick<BuildRow, K>
      const list = out.get(tile)
      if (list) list.push(r)
      else out.set(tile, [r])
    }
    return out
  }
  const newest = await perTile(all, undefined, newestFirst, 1)
  const running = await perTile(
    all,
    and(sql.raw(BUILD_RUNNING), gt(builds.updatedAt, since)),
    (t) => [desc(t.createdAt)],
    1
  )
  // Only the columns the history needs: whole rows (8,000 for 200 tiles) made most of the read's time.
  const recent = await perTile(['status', 'durationMs'] as const, undefined, newestFirst, RECENT_MAX)
  return {
    ...steps,
    tiles: () => done(tiles),
    newest: (tile) => done(newest.get(tile)?.[0] as BuildRow | undefined),
    running: (tile, at) =>
      at === since ? done(running.get(tile)?.[0] as BuildRow | undefined) : steps.running(tile, at),
    recent: (tile, n) =>
      done((recent.get(tile) ?? []).slice(0, n).map((r) => ({ status: r.status, durationMs: r.durationMs }))),
  }
}
