/**
 * @module The CI store's statements on PostgreSQL (issue 17), for the same build logic SQLite runs
 * (BuildLogic in store.ts): each statement yields its promise (server/db/steps.ts). Bound to one
 * connection: the writer's transaction for writes, a pool connection for reads.
 *
 * Two differences from SQLite, both deliberate:
 * - A build is read `FOR UPDATE` before it is merged: on SQLite the writer's transaction is the only
 *   writer; here another instance may merge an update of the same build at the same moment, and
 *   without the row lock both would merge into the state they read and the later COMMIT would drop
 *   the other's change. (Inside a read-only use the lock is harmless: no transaction, no lock.)
 * - SQLite sorts NULL first in ascending order and PostgreSQL last: the jobs of a build (ordered by
 *   start time, a job not started yet has none) say NULLS FIRST, as SQLite has it.
 * - Newest-first order breaks a tie in `created_at` by the build id, where SQLite uses the rowid
 *   (insertion order); two builds of one tile created in the same millisecond may show in the other
 *   order. A serial column would make them agree; not worth a migration yet.
 */
import { and, asc, desc, eq, gt, lt, notExists, sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/node-postgres'
import type pg from 'pg'
import { BUILD_RUNNING } from '../db/schema.ts'
import { builds, deliveries, deliveryKeys, jobs, pipelines, rawBodies, waitingJobs } from '../db/pg/schema.ts'
import * as schema from '../db/pg/schema.ts'
import { awaited } from '../db/steps.ts'
import type { DeliverySteps } from './ingest.ts'
import type { BuildRow, CiSteps, JobRow, TileRow } from './store.ts'

export function pgSteps(client: pg.ClientBase): CiSteps {
  const db = drizzle({ client: client as pg.PoolClient, schema })
  const newestFirst = [desc(builds.createdAt), desc(builds.id)]
  const first = <T>(rows: Promise<T[]>) => awaited(rows.then((r) => r[0]))
  return {
    build: (id) => first<BuildRow>(db.select().from(builds).where(eq(builds.id, id)).for('update')),
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
    tile: (id) => first<TileRow>(db.select().from(pipelines).where(eq(pipelines.id, id))),
    tiles: () => awaited(db.select().from(pipelines).orderBy(desc(pipelines.updatedAt)).limit(1000)),
    insertTile: (row) =>
      awaited(
        db
          .insert(pipelines)
          .values(row)
          .onConflictDoNothing({ target: pipelines.id })
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
    dropEmptyTile: (id) =>
      awaited(
        db
          .delete(pipelines)
          .where(
            and(
              eq(pipelines.id, id),
              notExists(db.select({ one: sql`1` }).from(builds).where(eq(builds.pipelineId, id)))
            )
          )
          .then((r) => (r.rowCount ?? 0) > 0)
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
