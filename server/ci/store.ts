/**
 * @module Builds and tiles in SQLite: merging provider updates (out of order, duplicated, re-run)
 * into one current state per build, and reading tiles for the board. Writes run inside the
 * group-commit writer's transaction. This is the hot path of every webhook and every snapshot, and
 * every statement is a drizzle query prepared once: against the same SQL run by better-sqlite3
 * directly, reads measured no slower (0.74–1.06×), writes about 1 µs more each, in all under 1 % of
 * an apply (~220 µs CPU) — `npx tsx bench/ci-sql.ts`. Tiles read outside a transaction are kept until
 * a row they come from changes (TileCache): 200 tiles of 40 builds each, 10.6 ms CPU computed, 5 µs
 * cached (15.4 ms computed before the shorter history read; median of 7 rounds, load 1.3).
 */
import { createHash } from 'node:crypto'
import { and, asc, desc, eq, gt, lt, notExists, sql } from 'drizzle-orm'
import { DAY_MS, HOUR_MS } from '../time.ts'
import { Freshness, perConnection, watchRows } from '../db/connection-cache.ts'
import { dbOf, type Db, type Sqlite } from '../db/client.ts'
import { BUILD_RUNNING, builds, jobs, pipelines, waitingJobs } from '../db/schema.ts'
import { done, runSync, type Step } from '../db/steps.ts'
import { columnKeys, excludedSet, literalLimit, placeholderSet, placeholders, ROWID } from '../db/sqlite.ts'
import { isDefaultBranchName, isTerminal, statusRank, type BuildUpdate } from './model.ts'
import type { Build, BuildStatus, Job, PipelineTile, Transition } from '../../contract/builds.ts'
import { isoMs } from './time.ts'

export type BuildRow = typeof builds.$inferSelect
export type TileRow = typeof pipelines.$inferSelect
export type JobRow = typeof jobs.$inferSelect
export type WaitingRow = typeof waitingJobs.$inferSelect
type RecentRow = Pick<BuildRow, 'status' | 'durationMs'>
type NewTile = Pick<TileRow, 'id' | 'provider' | 'project' | 'pipeline' | 'branch' | 'updatedAt'>

/**
 * The statements the build logic runs, for one engine: SQLite's (`sqliteSteps`) never wait,
 * PostgreSQL's (ci/pg-steps.ts) do. The logic below is written once over them (server/db/steps.ts).
 */
export interface CiSteps {
  build(id: string): Step<BuildRow | undefined>
  insertBuild(row: BuildRow): Step<void>
  updateBuild(row: BuildRow): Step<void>
  tile(id: string): Step<TileRow | undefined>
  /** Every tile row, newest first (at most 1,000). */
  tiles(): Step<TileRow[]>
  /** Creates the tile row if it is missing. */
  insertTile(row: NewTile): Step<void>
  saveTile(row: TileRow): Step<void>
  jobs(buildId: string): Step<JobRow[]>
  job(buildId: string, jobId: string): Step<JobRow | undefined>
  upsertJob(row: JobRow): Step<void>
  deleteJobs(buildId: string): Step<void>
  /** Deletes the tile when no build is left on it; true when it did. */
  dropEmptyTile(id: string): Step<boolean>
  wait(row: WaitingRow): Step<void>
  /** The waiting updates' JSON for a build. */
  waiting(buildId: string): Step<string[]>
  unwait(buildId: string): Step<void>
  expireWaiting(before: number): Step<void>
  newest(tile: string): Step<BuildRow | undefined>
  running(tile: string, since: number): Step<BuildRow | undefined>
  recent(tile: string, n: typeof RECENT_SHORT | typeof RECENT_MAX): Step<RecentRow[]>
}

export type ApplyResult = Applied | Waiting

/** A job event whose build has not arrived yet: kept until it does, nothing shown meanwhile. */
export interface Waiting {
  waiting: true
  buildId: string
}

export interface Applied {
  waiting: false
  buildId: string
  build: Build
  tile: PipelineTile
  /** False when the delivery told us nothing new (a late or repeated state). */
  changed: boolean
  /** Set when this update took the build into a terminal state. */
  transition: Transition | null
  /** The update belonged to an older attempt than the one we hold. */
  superseded: boolean
}

/** Builds still "running" with no news for this long are not shown as running (a lost final webhook). */
export const RUNNING_STALE_MS = 12 * HOUR_MS

/** A build arrives within seconds of its first job; one that has not in a day never will. */
const WAITING_TTL_MS = DAY_MS

const ph = sql.placeholder

/**
 * A tile's newest queued or running build with news since `since`: must use `builds_running_idx`,
 * hence the index's own predicate, verbatim.
 */
export function runningBuild(db: Db) {
  return db
    .select()
    .from(builds)
    .where(and(eq(builds.pipelineId, ph('tile')), sql.raw(BUILD_RUNNING), gt(builds.updatedAt, ph('since'))))
    .orderBy(desc(builds.createdAt))
    .limit(literalLimit(1))
}

const BUILD_KEYS = columnKeys(builds)
const TILE_KEYS = columnKeys(pipelines)
/** What finishing or touching a tile changes: not its identity (nor the index on project, branch). */
const TILE_STATE_KEYS = TILE_KEYS.filter((k) => !['id', 'provider', 'project', 'pipeline', 'branch'].includes(k))

/** Every statement of the store, prepared (exported for bench/ci-sql.ts). */
export function buildStatements(db: Db) {
  const newestFirst = [desc(builds.createdAt), desc(ROWID)]
  return {
    build: db
      .select()
      .from(builds)
      .where(eq(builds.id, ph('id')))
      .prepare(),
    insertBuild: db.insert(builds).values(placeholders(builds, BUILD_KEYS)).prepare(),
    updateBuild: db
      .update(builds)
      .set(
        placeholderSet(
          builds,
          BUILD_KEYS.filter((k) => k !== 'id')
        )
      )
      .where(eq(builds.id, ph('id')))
      .prepare(),
    tile: db
      .select()
      .from(pipelines)
      .where(eq(pipelines.id, ph('id')))
      .prepare(),
    tiles: db.select().from(pipelines).orderBy(desc(pipelines.updatedAt)).limit(literalLimit(1000)).prepare(),
    insertTile: db
      .insert(pipelines)
      .values(placeholders(pipelines, ['id', 'provider', 'project', 'pipeline', 'branch', 'updatedAt']))
      .onConflictDoNothing({ target: pipelines.id })
      .prepare(),
    saveTile: db
      .update(pipelines)
      .set(placeholderSet(pipelines, TILE_STATE_KEYS))
      .where(eq(pipelines.id, ph('id')))
      .prepare(),
    jobs: db
      .select()
      .from(jobs)
      .where(eq(jobs.buildId, ph('buildId')))
      .orderBy(asc(jobs.startedAt), asc(jobs.name))
      .prepare(),
    job: db
      .select()
      .from(jobs)
      .where(and(eq(jobs.buildId, ph('buildId')), eq(jobs.jobId, ph('jobId'))))
      .prepare(),
    upsertJob: db
      .insert(jobs)
      .values(placeholders(jobs, columnKeys(jobs)))
      .onConflictDoUpdate({
        target: [jobs.buildId, jobs.jobId],
        set: excludedSet(jobs, ['name', 'status', 'startedAt', 'finishedAt', 'url']),
      })
      .prepare(),
    deleteJobs: db
      .delete(jobs)
      .where(eq(jobs.buildId, ph('buildId')))
      .prepare(),
    dropEmptyTile: db
      .delete(pipelines)
      .where(
        and(
          eq(pipelines.id, ph('id')),
          notExists(
            db
              .select({ one: sql`1` })
              .from(builds)
              .where(eq(builds.pipelineId, ph('id')))
          )
        )
      )
      .prepare(),
    wait: db
      .insert(waitingJobs)
      .values(placeholders(waitingJobs, columnKeys(waitingJobs)))
      .onConflictDoUpdate({
        target: [waitingJobs.buildId, waitingJobs.key],
        set: excludedSet(waitingJobs, ['at', 'update']),
      })
      .prepare(),
    waiting: db
      .select({ update: waitingJobs.update })
      .from(waitingJobs)
      .where(eq(waitingJobs.buildId, ph('buildId')))
      .prepare(),
    unwait: db
      .delete(waitingJobs)
      .where(eq(waitingJobs.buildId, ph('buildId')))
      .prepare(),
    expireWaiting: db
      .delete(waitingJobs)
      .where(lt(waitingJobs.at, ph('before')))
      .prepare(),
    newest: db
      .select()
      .from(builds)
      .where(eq(builds.pipelineId, ph('tile')))
      .orderBy(...newestFirst)
      .limit(literalLimit(1))
      .prepare(),
    running: runningBuild(db).prepare(),
    recent: recentBuilds(db, RECENT_MAX),
    recentShort: recentBuilds(db, RECENT_SHORT),
  }
}

/** The status history a tile reads: the newest RECENT_MAX builds, of which it uses 20 finished and 10 successes. */
export const RECENT_MAX = 40
/** Enough when these are all finished and 10 of them succeeded with a duration (nearly always): half the row reads. */
const RECENT_SHORT = 20

function recentBuilds(db: Db, n: number) {
  return db
    .select({ status: builds.status, durationMs: builds.durationMs })
    .from(builds)
    .where(eq(builds.pipelineId, ph('tile')))
    .orderBy(desc(builds.createdAt), desc(ROWID))
    .limit(literalLimit(n))
    .prepare()
}

/** SQLite's statements as steps: each one runs at once and never yields. */
export function sqliteSteps(st: ReturnType<typeof buildStatements>): CiSteps {
  return {
    build: (id) => done(st.build.get({ id })),
    insertBuild: (row) => done(void st.insertBuild.run(row)),
    updateBuild: (row) => done(void st.updateBuild.run(row)),
    tile: (id) => done(st.tile.get({ id })),
    tiles: () => done(st.tiles.all()),
    insertTile: (row) => done(void st.insertTile.run(row)),
    saveTile: (row) => done(void st.saveTile.run(row)),
    jobs: (buildId) => done(st.jobs.all({ buildId })),
    job: (buildId, jobId) => done(st.job.get({ buildId, jobId })),
    upsertJob: (row) => done(void st.upsertJob.run(row)),
    deleteJobs: (buildId) => done(void st.deleteJobs.run({ buildId })),
    dropEmptyTile: (id) => done(st.dropEmptyTile.run({ id }).changes > 0),
    wait: (row) => done(void st.wait.run(row)),
    waiting: (buildId) => done(st.waiting.all({ buildId }).map((r) => r.update)),
    unwait: (buildId) => done(void st.unwait.run({ buildId })),
    expireWaiting: (before) => done(void st.expireWaiting.run({ before })),
    newest: (tile) => done(st.newest.get({ tile })),
    running: (tile, since) => done(st.running.get({ tile, since })),
    recent: (tile, n) => done((n === RECENT_SHORT ? st.recentShort : st.recent).all({ tile })),
  }
}

const ms = isoMs
/** A stored time as ISO; null for one no `Date` can hold, so one bad row never fails an answer. */
const iso = (t: number | null): string | null =>
  t === null || !Number.isFinite(t) || Math.abs(t) > 8.64e15 ? null : new Date(t).toISOString()

export function tileId(provider: string, project: string, pipeline: string, branch: string): string {
  return createHash('sha256').update(`${provider}\0${project}\0${pipeline}\0${branch}`).digest('hex').slice(0, 16)
}

export function buildId(provider: string, externalId: string): string {
  return `${provider}:${externalId}`
}

export function rowToBuild(r: BuildRow, jobs?: JobRow[]): Build {
  const b: Build = {
    id: r.id,
    provider: r.provider as Build['provider'],
    project: r.project,
    pipeline: r.pipeline,
    branch: r.branch,
    tag: r.tag,
    pullRequest: r.pullRequest,
    number: r.number,
    attempt: r.attempt,
    status: r.status,
    commit: { sha: r.commitSha, subject: r.commitSubject, author: r.commitAuthor },
    actor: r.actor,
    url: r.url,
    trigger: r.trigger,
    queuedAt: iso(r.queuedAt),
    startedAt: iso(r.startedAt),
    finishedAt: iso(r.finishedAt),
    durationMs: r.durationMs,
    updatedAt: iso(r.updatedAt)!,
  }
  if (jobs)
    b.jobs = jobs.map(
      (j): Job => ({
        name: j.name,
        status: j.status,
        startedAt: iso(j.startedAt),
        finishedAt: iso(j.finishedAt),
        url: j.url,
      })
    )
  return b
}

function transitionFor(status: BuildStatus, previous: 'success' | 'failure' | null): Transition {
  if (status === 'success') return previous === 'failure' ? 'fixed' : 'passed'
  if (status === 'failure') return previous === 'failure' ? 'still_failing' : 'broken'
  return status === 'canceled' ? 'canceled' : 'skipped'
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : Math.round((s[m - 1]! + s[m]!) / 2)
}

/**
 * Tiles as last computed outside a transaction, per connection (every BuildStore on it shares them),
 * so /api/pipelines and the snapshot read 200 tiles without 3 × 200 statements. Exact: a temporary
 * trigger on this connection drops a tile whenever a `builds` or `pipelines` row of it is written
 * (whoever writes it: the store, reprocess, retention; a write rolled back only drops more), a
 * change by another connection (`npm run reprocess` in its own process) shows in `data_version`
 * and drops them all, and a tile showing a running build expires when that build turns stale.
 * Inside a transaction nothing is read from or kept in it: uncommitted rows may yet roll back.
 */
class TileCache {
  tiles = new Map<string, { tile: PipelineTile; from: number; until: number }>()
  /** Every tile, as `tiles()` answers, while no tile changed. */
  list: { tiles: PipelineTile[]; from: number; until: number } | null = null
  private freshness: Freshness

  constructor(sqlite: Sqlite) {
    watchRows(sqlite, 'tile', 'builds', 'pipeline_id', (id) => this.drop(id))
    watchRows(sqlite, 'tile', 'pipelines', 'id', (id) => this.drop(id))
    this.freshness = new Freshness(sqlite, () => {
      this.tiles.clear()
      this.list = null
    })
  }

  drop(id: string): void {
    this.tiles.delete(id)
    this.list = null
  }

  /** False inside a transaction; else true, with everything another connection may have changed dropped. */
  usable(): boolean {
    return this.freshness.usable()
  }

  static of = perConnection((sqlite) => new TileCache(sqlite))
}

/** True while an answer computed at `from`, good until `until`, still holds at `now`. */
const holds = (c: { from: number; until: number }, now: number) => now >= c.from && now < c.until

/** Where computed tiles are kept between reads: SQLite's exact TileCache, or none (`NO_TILE_CACHE`). */
export type TileKeeper = Pick<TileCache, 'tiles' | 'list' | 'usable'>

/** Keeps nothing: every read computes (PostgreSQL, until it has an invalidation of its own). */
export const NO_TILE_CACHE: TileKeeper = {
  tiles: new Map(),
  list: null,
  usable: () => false,
}

/**
 * Builds and tiles on SQLite: the build logic driven synchronously, inside the writer's transaction
 * for writes, with the exact tile cache for reads.
 */
export class BuildStore {
  /** The rules themselves, for logic that runs them inside its own steps (DeliveryLogic). */
  readonly logic: BuildLogic

  constructor(sqlite: Sqlite) {
    this.logic = new BuildLogic(sqliteSteps(buildStatements(dbOf(sqlite))), TileCache.of(sqlite))
  }

  getBuild(id: string, withJobs = true): Build | null {
    return runSync(this.logic.getBuild(id, withJobs))
  }

  getTile(id: string, now = Date.now()): PipelineTile | null {
    return runSync(this.logic.getTile(id, now))
  }

  /** Every tile, newest first. The answer may be the cached one, shared with other readers: never mutate it. */
  tiles(now = Date.now()): PipelineTile[] {
    return runSync(this.logic.tiles(now))
  }

  /** Merges one update into its build (BuildLogic.apply). Runs inside a writer transaction. */
  apply(u: BuildUpdate, now: number): ApplyResult {
    return runSync(this.logic.apply(u, now))
  }
}

/**
 * The rules of builds and tiles, for either engine: how an update merges into its build, what a tile
 * shows. Every statement is a step (server/db/steps.ts).
 */
export class BuildLogic {
  constructor(
    private s: CiSteps,
    private cache: TileKeeper
  ) {}

  *getBuild(id: string, withJobs = true): Step<Build | null> {
    const r = yield* this.s.build(id)
    if (!r) return null
    return rowToBuild(r, withJobs ? yield* this.s.jobs(id) : undefined)
  }

  *getTile(id: string, now = Date.now()): Step<PipelineTile | null> {
    const cached = this.cache.usable() ? this.cache.tiles.get(id) : undefined
    if (cached && holds(cached, now)) return cached.tile
    const t = yield* this.s.tile(id)
    return t ? yield* this.tileOf(t, now) : null
  }

  /** Every tile, newest first. The answer may be the cached one, shared with other readers: never mutate it. */
  *tiles(now = Date.now()): Step<PipelineTile[]> {
    const usable = this.cache.usable()
    const list = usable ? this.cache.list : null
    if (list && holds(list, now)) return list.tiles
    const out = { tiles: [] as PipelineTile[], from: now, until: Infinity }
    for (const t of yield* this.s.tiles()) {
      const cached = usable ? this.cache.tiles.get(t.id) : undefined
      const c = cached && holds(cached, now) ? cached : yield* this.computeTile(t, now)
      out.tiles.push(c.tile)
      out.until = Math.min(out.until, c.until)
      if (usable && c !== cached) this.cache.tiles.set(t.id, c)
    }
    if (usable) this.cache.list = out
    return out.tiles
  }

  /** The tile for row `t` at `now`, kept for the next reader when outside a transaction. */
  private *tileOf(t: TileRow, now: number): Step<PipelineTile> {
    const c = yield* this.computeTile(t, now)
    if (this.cache.usable()) this.cache.tiles.set(t.id, c)
    return c.tile
  }

  /**
   * The tile and how long it holds without a write: time only matters to `running` (a build with no
   * news for RUNNING_STALE_MS is not shown as running), and the builds it may pick only drop out as
   * time passes, so the one shown holds until it does.
   */
  private *computeTile(t: TileRow, now: number): Step<{ tile: PipelineTile; from: number; until: number }> {
    const running = yield* this.s.running(t.id, now - RUNNING_STALE_MS)
    const until = running ? running.updatedAt + RUNNING_STALE_MS : Infinity
    return { tile: yield* this.toTile(t, running), from: now, until }
  }

  private *toTile(t: TileRow, running: BuildRow | undefined): Step<PipelineTile> {
    const newest = yield* this.s.newest(t.id)
    let recent = yield* this.s.recent(t.id, RECENT_SHORT)
    if (
      recent.length === RECENT_SHORT &&
      !(
        recent.every((r) => r.status === 'success' || r.status === 'failure') &&
        recent.filter((r) => r.status === 'success' && r.durationMs !== null).length >= 10
      )
    )
      recent = yield* this.s.recent(t.id, RECENT_MAX)
    const finished = recent.filter((r) => r.status === 'success' || r.status === 'failure').slice(0, 20)
    const okDurations = recent
      .filter((r) => r.status === 'success' && r.durationMs !== null)
      .slice(0, 10)
      .map((r) => r.durationMs!)
    return {
      id: t.id,
      provider: t.provider as PipelineTile['provider'],
      project: t.project,
      pipeline: t.pipeline,
      branch: t.branch,
      isDefaultBranch: isDefaultBranchName(t.branch),
      latest: newest ? rowToBuild(newest) : null,
      running: running ? rowToBuild(running) : null,
      lastSuccessAt: iso(t.lastSuccessAt),
      lastFailureAt: iso(t.lastFailureAt),
      brokenSince: t.lastResult === 'failure' ? iso(t.brokenSince) : null,
      brokenBy: t.lastResult === 'failure' ? t.brokenBy : null,
      fixedBy: t.lastResult === 'success' ? t.fixedBy : null,
      medianDurationMs: median(okDurations),
      successRate: finished.length ? finished.filter((r) => r.status === 'success').length / finished.length : null,
      recent: recent.slice(0, 10).map((r) => r.status),
      updatedAt: iso(t.updatedAt)!,
    }
  }

  /**
   * Merges one update into its build. Runs inside a writer transaction. A job event attaches to its
   * build, found by the build's identity; one that comes first waits for it, since its own idea of
   * the tile (GitLab's commit.name, a legacy GitHub job's missing workflow name) may not be the
   * build's. Only a job carrying the build object itself may open the build.
   */
  *apply(u: BuildUpdate, now: number): Step<ApplyResult> {
    const id = buildId(u.provider, u.externalId)
    const old = yield* this.s.build(id)
    if (!old && u.fromJob && !u.carriesBuild) {
      yield* this.wait(id, u, now)
      return { waiting: true, buildId: id }
    }
    const r = yield* this.applyToBuild(id, old, u, now)
    if (old || r.superseded) return r
    // The build just arrived: the jobs that came before it attach now, in the same transaction.
    let last = r
    for (const job of yield* this.takeWaiting(id)) {
      const next = yield* this.applyToBuild(id, yield* this.s.build(id), job, now)
      last = { ...next, changed: last.changed || next.changed, transition: r.transition, superseded: false }
    }
    return last
  }

  private *wait(id: string, u: BuildUpdate, now: number): Step<void> {
    const job = u.jobs.map((j) => [j.id, j.status])
    yield* this.s.wait({ buildId: id, key: JSON.stringify([u.attempt, job]), at: now, update: JSON.stringify(u) })
    if (now - this.lastExpiry > HOUR_MS) {
      this.lastExpiry = now
      yield* this.s.expireWaiting(now - WAITING_TTL_MS)
    }
  }
  private lastExpiry = 0

  /** The jobs waiting for build `id`, removed, in the order they happened. */
  private *takeWaiting(id: string): Step<BuildUpdate[]> {
    const jobs = (yield* this.s.waiting(id)).map((update) => JSON.parse(update) as BuildUpdate)
    if (jobs.length === 0) return jobs
    yield* this.s.unwait(id)
    const rank = (u: BuildUpdate) => statusRank(u.jobs[0]?.status ?? u.status)
    return jobs.sort(
      (a, b) => a.attempt - b.attempt || rank(a) - rank(b) || (a.eventTime ?? '').localeCompare(b.eventTime ?? '')
    )
  }

  private *applyToBuild(id: string, old: BuildRow | undefined, u: BuildUpdate, now: number): Step<Applied> {
    if (old && u.attempt < old.attempt) {
      return {
        waiting: false,
        buildId: id,
        build: rowToBuild(old),
        tile: (yield* this.getTile(old.pipelineId, now))!,
        changed: false,
        transition: null,
        superseded: true,
      }
    }
    const row = old ? this.merge(old, u, now) : this.fresh(id, u, now)
    const statusChanged = !old || old.status !== row.status || old.attempt !== row.attempt
    const fieldsChanged = !old || JSON.stringify({ ...old, updatedAt: 0 }) !== JSON.stringify({ ...row, updatedAt: 0 })
    row.updatedAt = fieldsChanged ? now : old!.updatedAt
    if (fieldsChanged) {
      const { provider, project, pipeline, branch } = row
      yield* this.s.insertTile({ id: row.pipelineId, provider, project, pipeline, branch, updatedAt: now })
      if (old) yield* this.s.updateBuild(row)
      else yield* this.s.insertBuild(row)
    }
    // Jobs after the build row exists (they reference it); a job change alone still counts as news.
    const jobsChanged = yield* this.applyJobs(id, u, old !== undefined && u.attempt > old.attempt)
    if (jobsChanged && !fieldsChanged) {
      row.updatedAt = now
      yield* this.s.updateBuild(row)
    }
    const changed = fieldsChanged || jobsChanged
    const becameTerminal = isTerminal(row.status) && statusChanged
    // The tile row as just saved, when it was: the tile is then computed without reading it back.
    let saved: TileRow | undefined
    let transition: Transition | null = null
    if (becameTerminal) ({ transition, saved } = yield* this.finish(row, now))
    else if (changed) saved = yield* this.touchTile(row.pipelineId, now)
    // A tile left without builds would show Unknown forever (in cctray too): it goes.
    if (old && old.pipelineId !== row.pipelineId && !(yield* this.s.dropEmptyTile(old.pipelineId))) {
      yield* this.touchTile(old.pipelineId, now)
    }
    return {
      waiting: false,
      buildId: id,
      build: rowToBuild(row, yield* this.s.jobs(id)),
      tile: saved ? yield* this.tileOf(saved, now) : (yield* this.getTile(row.pipelineId, now))!,
      changed,
      transition,
      superseded: false,
    }
  }

  private fresh(id: string, u: BuildUpdate, now: number): BuildRow {
    const status: BuildStatus = u.fromJob ? (u.status === 'queued' ? 'queued' : 'running') : u.status
    return {
      id,
      pipelineId: tileId(u.provider, u.project, u.pipeline, u.branch),
      provider: u.provider,
      externalId: u.externalId,
      project: u.project,
      pipeline: u.pipeline,
      branch: u.branch,
      tag: u.tag,
      pullRequest: u.pullRequest,
      number: u.number,
      attempt: u.attempt,
      status,
      commitSha: u.commit.sha,
      commitSubject: u.commit.subject,
      commitAuthor: u.commit.author,
      actor: u.actor,
      url: u.fromJob ? null : u.url,
      trigger: u.trigger,
      queuedAt: ms(u.queuedAt),
      startedAt: ms(u.startedAt),
      finishedAt: isTerminal(status) ? ms(u.finishedAt) : null,
      durationMs: isTerminal(status) ? u.durationMs : null,
      eventTime: ms(u.eventTime),
      createdAt: now,
      updatedAt: now,
    }
  }

  /**
   * The state of the same build after this update. A newer attempt starts over; within an attempt
   * the status only moves forward (queued → running → terminal), and between two terminal states
   * the provider's later event time wins. Fields a later-arriving older state carries only fill gaps.
   */
  private merge(old: BuildRow, u: BuildUpdate, now: number): BuildRow {
    const newAttempt = u.attempt > old.attempt
    const base: BuildRow = newAttempt
      ? {
          ...old,
          attempt: u.attempt,
          status: 'queued',
          queuedAt: null,
          startedAt: null,
          finishedAt: null,
          durationMs: null,
          eventTime: null,
        }
      : { ...old }
    const uTime = ms(u.eventTime)
    let status = base.status
    let authoritative: boolean
    if (u.fromJob) {
      const jobStatus: BuildStatus = u.status === 'queued' ? 'queued' : 'running'
      if (statusRank(jobStatus) > statusRank(status)) status = jobStatus
      authoritative = false
    } else if (statusRank(u.status) > statusRank(status)) {
      status = u.status
      authoritative = true
    } else if (statusRank(u.status) < statusRank(status)) {
      authoritative = false
    } else if (u.status !== status) {
      // Two different terminal (or same-rank) states: the provider's later event wins.
      authoritative = uTime !== null && (base.eventTime === null || uTime > base.eventTime)
      if (authoritative) status = u.status
    } else {
      authoritative = uTime === null || base.eventTime === null || uTime >= base.eventTime
    }
    const pick = <T>(next: T | null, cur: T | null): T | null => (authoritative ? (next ?? cur) : (cur ?? next))
    const r: BuildRow = {
      ...base,
      status,
      tag: pick(u.tag, base.tag),
      pullRequest: pick(u.pullRequest, base.pullRequest),
      number: pick(u.number, base.number),
      commitSha: pick(u.commit.sha, base.commitSha),
      commitSubject: pick(u.commit.subject, base.commitSubject),
      commitAuthor: pick(u.commit.author, base.commitAuthor),
      actor: pick(u.actor, base.actor),
      url: u.fromJob ? base.url : pick(u.url, base.url),
      trigger: pick(u.trigger, base.trigger),
      queuedAt: pick(ms(u.queuedAt), base.queuedAt),
      startedAt: pick(ms(u.startedAt), base.startedAt),
      finishedAt: isTerminal(status) ? pick(ms(u.finishedAt), base.finishedAt) : null,
      durationMs: isTerminal(status) ? pick(u.durationMs, base.durationMs) : null,
      eventTime: authoritative && uTime !== null ? Math.max(uTime, base.eventTime ?? 0) : base.eventTime,
      updatedAt: now,
    }
    // The tile a build is on is the build's own business: a job event never moves it (its names
    // come from other fields, or none). A build delivery renames it only as the later state, else
    // fills a name still empty, so the tile does not depend on the order deliveries arrive in.
    if (!u.fromJob) {
      const name = (next: string, cur: string) => (next && (authoritative || !cur) ? next : cur)
      r.pipeline = name(u.pipeline, base.pipeline)
      r.branch = name(u.branch, base.branch)
      r.project = name(u.project, base.project)
      r.pipelineId = tileId(r.provider, r.project, r.pipeline, r.branch)
    }
    return r
  }

  private *applyJobs(id: string, u: BuildUpdate, newAttempt: boolean): Step<boolean> {
    if (newAttempt) yield* this.s.deleteJobs(id)
    let changed = false
    for (const j of u.jobs) {
      const cur = yield* this.s.job(id, j.id)
      // A late "in progress" for a job never overrides its finished state.
      if (cur && statusRank(j.status) < statusRank(cur.status)) continue
      const next: JobRow = {
        buildId: id,
        jobId: j.id,
        name: j.name,
        status: j.status,
        startedAt: ms(j.startedAt) ?? cur?.startedAt ?? null,
        finishedAt: ms(j.finishedAt) ?? cur?.finishedAt ?? null,
        url: j.url ?? cur?.url ?? null,
      }
      if (
        cur &&
        cur.name === next.name &&
        cur.status === next.status &&
        cur.startedAt === next.startedAt &&
        cur.finishedAt === next.finishedAt &&
        cur.url === next.url
      )
        continue
      yield* this.s.upsertJob(next)
      changed = true
    }
    return changed
  }

  /** Updates the tile for a build that just finished; returns its transition and the tile row saved. */
  private *finish(b: BuildRow, now: number): Step<{ transition: Transition; saved: TileRow }> {
    const t = (yield* this.s.tile(b.pipelineId))!
    const transition = transitionFor(b.status, t.lastResult)
    const at = b.finishedAt ?? now
    const lastResultAt = Math.max(t.lastSuccessAt ?? 0, t.lastFailureAt ?? 0)
    const next = { ...t, updatedAt: now, latestBuildId: b.id }
    // An older build finishing late still gets its transition, but does not flip the tile back.
    if ((b.status === 'success' || b.status === 'failure') && at >= lastResultAt) {
      const who = b.actor ?? b.commitAuthor
      if (b.status === 'success') {
        next.lastSuccessAt = at
        if (t.lastResult === 'failure') next.fixedBy = who
        else if (t.lastResult === null) next.fixedBy = null
        next.brokenSince = null
        next.brokenBy = null
        next.brokenBuildId = null
      } else {
        next.lastFailureAt = at
        if (t.lastResult !== 'failure') {
          next.brokenSince = at
          next.brokenBy = who
          next.brokenBuildId = b.id
        }
      }
      next.lastResult = b.status
    }
    yield* this.s.saveTile(next)
    return { transition, saved: next }
  }

  private *touchTile(id: string, now: number): Step<TileRow | undefined> {
    const t = yield* this.s.tile(id)
    if (!t) return undefined
    const next = { ...t, updatedAt: now }
    yield* this.s.saveTile(next)
    return next
  }
}
