/**
 * @module Builds and tiles in SQLite: merging provider updates (out of order, duplicated, re-run)
 * into one current state per build, and reading tiles for the board. Writes run inside the
 * group-commit writer's transaction; reads use prepared statements (this is the hot path of every
 * webhook and every snapshot).
 */
import { createHash } from 'node:crypto'
import type { Sqlite } from '../db/client.ts'
import { isDefaultBranchName, isTerminal, statusRank, type BuildUpdate } from './model.ts'
import type { Build, BuildStatus, Job, PipelineTile, Transition } from '../../contract/builds.ts'
import { isoMs } from './time.ts'
import { BUILD_RUNNING } from '../db/schema.ts'

interface BuildRow {
  id: string
  pipeline_id: string
  provider: string
  external_id: string
  project: string
  pipeline: string
  branch: string
  tag: string | null
  pull_request: number | null
  number: number | null
  attempt: number
  status: BuildStatus
  commit_sha: string | null
  commit_subject: string | null
  commit_author: string | null
  actor: string | null
  url: string | null
  trigger: string | null
  queued_at: number | null
  started_at: number | null
  finished_at: number | null
  duration_ms: number | null
  event_time: number | null
  created_at: number
  updated_at: number
}

interface TileRow {
  id: string
  provider: string
  project: string
  pipeline: string
  branch: string
  latest_build_id: string | null
  last_result: 'success' | 'failure' | null
  last_success_at: number | null
  last_failure_at: number | null
  broken_since: number | null
  broken_by: string | null
  broken_build_id: string | null
  fixed_by: string | null
  updated_at: number
}

interface JobRow {
  job_id: string
  name: string
  status: BuildStatus
  started_at: number | null
  finished_at: number | null
  url: string | null
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
const RUNNING_STALE_MS = 12 * 3600_000

/** A build arrives within seconds of its first job; one that has not in a day never will. */
const WAITING_TTL_MS = 86_400_000

/** A tile's newest queued or running build with news since `?`: must use `builds_running_idx`. */
export const RUNNING_BUILD_SQL = `SELECT * FROM builds WHERE pipeline_id = ? AND ${BUILD_RUNNING}
  AND updated_at > ? ORDER BY created_at DESC LIMIT 1`

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
    pullRequest: r.pull_request,
    number: r.number,
    attempt: r.attempt,
    status: r.status,
    commit: { sha: r.commit_sha, subject: r.commit_subject, author: r.commit_author },
    actor: r.actor,
    url: r.url,
    trigger: r.trigger,
    queuedAt: iso(r.queued_at),
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    durationMs: r.duration_ms,
    updatedAt: iso(r.updated_at)!,
  }
  if (jobs)
    b.jobs = jobs.map(
      (j): Job => ({
        name: j.name,
        status: j.status,
        startedAt: iso(j.started_at),
        finishedAt: iso(j.finished_at),
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

export class BuildStore {
  private s

  constructor(sqlite: Sqlite) {
    const p = <R = unknown>(sql: string) => sqlite.prepare<unknown[], R>(sql)
    this.s = {
      build: p<BuildRow>('SELECT * FROM builds WHERE id = ?'),
      insertBuild: p(`INSERT INTO builds (id, pipeline_id, provider, external_id, project, pipeline, branch, tag,
        pull_request, number, attempt, status, commit_sha, commit_subject, commit_author, actor, url, trigger,
        queued_at, started_at, finished_at, duration_ms, event_time, created_at, updated_at)
        VALUES (@id, @pipeline_id, @provider, @external_id, @project, @pipeline, @branch, @tag, @pull_request,
        @number, @attempt, @status, @commit_sha, @commit_subject, @commit_author, @actor, @url, @trigger,
        @queued_at, @started_at, @finished_at, @duration_ms, @event_time, @created_at, @updated_at)`),
      updateBuild: p(`UPDATE builds SET pipeline_id=@pipeline_id, project=@project, pipeline=@pipeline,
        branch=@branch, tag=@tag, pull_request=@pull_request, number=@number, attempt=@attempt, status=@status,
        commit_sha=@commit_sha, commit_subject=@commit_subject, commit_author=@commit_author, actor=@actor,
        url=@url, trigger=@trigger, queued_at=@queued_at, started_at=@started_at, finished_at=@finished_at,
        duration_ms=@duration_ms, event_time=@event_time, updated_at=@updated_at WHERE id=@id`),
      tile: p<TileRow>('SELECT * FROM pipelines WHERE id = ?'),
      tiles: p<TileRow>('SELECT * FROM pipelines ORDER BY updated_at DESC LIMIT 1000'),
      insertTile: p(`INSERT INTO pipelines (id, provider, project, pipeline, branch, updated_at)
        VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`),
      saveTile: p(`UPDATE pipelines SET latest_build_id=@latest_build_id, last_result=@last_result,
        last_success_at=@last_success_at, last_failure_at=@last_failure_at, broken_since=@broken_since,
        broken_by=@broken_by, broken_build_id=@broken_build_id, fixed_by=@fixed_by, updated_at=@updated_at
        WHERE id=@id`),
      jobs: p<JobRow>(
        'SELECT job_id, name, status, started_at, finished_at, url FROM jobs WHERE build_id = ? ORDER BY started_at, name'
      ),
      job: p<JobRow>(
        'SELECT job_id, name, status, started_at, finished_at, url FROM jobs WHERE build_id = ? AND job_id = ?'
      ),
      upsertJob: p(`INSERT INTO jobs (build_id, job_id, name, status, started_at, finished_at, url)
        VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(build_id, job_id) DO UPDATE SET name=excluded.name,
        status=excluded.status, started_at=excluded.started_at, finished_at=excluded.finished_at, url=excluded.url`),
      deleteJobs: p('DELETE FROM jobs WHERE build_id = ?'),
      dropEmptyTile: p(
        'DELETE FROM pipelines WHERE id = @id AND NOT EXISTS (SELECT 1 FROM builds WHERE pipeline_id = @id)'
      ),
      wait: p(`INSERT INTO waiting_jobs (build_id, key, at, "update") VALUES (?, ?, ?, ?)
        ON CONFLICT(build_id, key) DO UPDATE SET at = excluded.at, "update" = excluded."update"`),
      waiting: p<{ update: string }>('SELECT "update" FROM waiting_jobs WHERE build_id = ?'),
      unwait: p('DELETE FROM waiting_jobs WHERE build_id = ?'),
      expireWaiting: p('DELETE FROM waiting_jobs WHERE at < ?'),
      newest: p<BuildRow>('SELECT * FROM builds WHERE pipeline_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1'),
      running: p<BuildRow>(RUNNING_BUILD_SQL),
      recent: p<{ status: BuildStatus; duration_ms: number | null }>(
        'SELECT status, duration_ms FROM builds WHERE pipeline_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 40'
      ),
    }
  }

  getBuild(id: string, withJobs = true): Build | null {
    const r = this.s.build.get(id)
    if (!r) return null
    return rowToBuild(r, withJobs ? this.s.jobs.all(id) : undefined)
  }

  getTile(id: string, now = Date.now()): PipelineTile | null {
    const t = this.s.tile.get(id)
    return t ? this.toTile(t, now) : null
  }

  tiles(now = Date.now()): PipelineTile[] {
    return this.s.tiles.all().map((t) => this.toTile(t, now))
  }

  private toTile(t: TileRow, now: number): PipelineTile {
    const newest = this.s.newest.get(t.id)
    const running = this.s.running.get(t.id, now - RUNNING_STALE_MS)
    const recent = this.s.recent.all(t.id)
    const finished = recent.filter((r) => r.status === 'success' || r.status === 'failure').slice(0, 20)
    const okDurations = recent
      .filter((r) => r.status === 'success' && r.duration_ms !== null)
      .slice(0, 10)
      .map((r) => r.duration_ms!)
    return {
      id: t.id,
      provider: t.provider as PipelineTile['provider'],
      project: t.project,
      pipeline: t.pipeline,
      branch: t.branch,
      isDefaultBranch: isDefaultBranchName(t.branch),
      latest: newest ? rowToBuild(newest) : null,
      running: running ? rowToBuild(running) : null,
      lastSuccessAt: iso(t.last_success_at),
      lastFailureAt: iso(t.last_failure_at),
      brokenSince: t.last_result === 'failure' ? iso(t.broken_since) : null,
      brokenBy: t.last_result === 'failure' ? t.broken_by : null,
      fixedBy: t.last_result === 'success' ? t.fixed_by : null,
      medianDurationMs: median(okDurations),
      successRate: finished.length ? finished.filter((r) => r.status === 'success').length / finished.length : null,
      recent: recent.slice(0, 10).map((r) => r.status),
      updatedAt: iso(t.updated_at)!,
    }
  }

  /**
   * Merges one update into its build. Runs inside a writer transaction. A job event attaches to its
   * build, found by the build's identity; one that comes first waits for it, since its own idea of
   * the tile (GitLab's commit.name, a legacy GitHub job's missing workflow name) may not be the
   * build's. Only a job carrying the build object itself may open the build.
   */
  apply(u: BuildUpdate, now: number): ApplyResult {
    const id = buildId(u.provider, u.externalId)
    const old = this.s.build.get(id)
    if (!old && u.fromJob && !u.carriesBuild) {
      this.wait(id, u, now)
      return { waiting: true, buildId: id }
    }
    const r = this.applyToBuild(id, old, u, now)
    if (old || r.superseded) return r
    // The build just arrived: the jobs that came before it attach now, in the same transaction.
    let last = r
    for (const job of this.takeWaiting(id)) {
      const next = this.applyToBuild(id, this.s.build.get(id), job, now)
      last = { ...next, changed: last.changed || next.changed, transition: r.transition, superseded: false }
    }
    return last
  }

  private wait(id: string, u: BuildUpdate, now: number): void {
    const job = u.jobs.map((j) => [j.id, j.status])
    this.s.wait.run(id, JSON.stringify([u.attempt, job]), now, JSON.stringify(u))
    if (now - this.lastExpiry > 3600_000) {
      this.lastExpiry = now
      this.s.expireWaiting.run(now - WAITING_TTL_MS)
    }
  }
  private lastExpiry = 0

  /** The jobs waiting for build `id`, removed, in the order they happened. */
  private takeWaiting(id: string): BuildUpdate[] {
    const jobs = this.s.waiting.all(id).map((r) => JSON.parse(r.update) as BuildUpdate)
    if (jobs.length === 0) return jobs
    this.s.unwait.run(id)
    const rank = (u: BuildUpdate) => statusRank(u.jobs[0]?.status ?? u.status)
    return jobs.sort(
      (a, b) => a.attempt - b.attempt || rank(a) - rank(b) || (a.eventTime ?? '').localeCompare(b.eventTime ?? '')
    )
  }

  private applyToBuild(id: string, old: BuildRow | undefined, u: BuildUpdate, now: number): Applied {
    if (old && u.attempt < old.attempt) {
      return {
        waiting: false,
        buildId: id,
        build: rowToBuild(old),
        tile: this.getTile(old.pipeline_id, now)!,
        changed: false,
        transition: null,
        superseded: true,
      }
    }
    const row = old ? this.merge(old, u, now) : this.fresh(id, u, now)
    const statusChanged = !old || old.status !== row.status || old.attempt !== row.attempt
    const fieldsChanged =
      !old || JSON.stringify({ ...old, updated_at: 0 }) !== JSON.stringify({ ...row, updated_at: 0 })
    row.updated_at = fieldsChanged ? now : old!.updated_at
    if (fieldsChanged) {
      this.s.insertTile.run(row.pipeline_id, row.provider, row.project, row.pipeline, row.branch, now)
      if (old) this.s.updateBuild.run(row)
      else this.s.insertBuild.run(row)
    }
    // Jobs after the build row exists (they reference it); a job change alone still counts as news.
    const jobsChanged = this.applyJobs(id, u, old !== undefined && u.attempt > old.attempt)
    if (jobsChanged && !fieldsChanged) {
      row.updated_at = now
      this.s.updateBuild.run(row)
    }
    const changed = fieldsChanged || jobsChanged
    const becameTerminal = isTerminal(row.status) && statusChanged
    const transition = becameTerminal ? this.finish(row, now) : null
    if (changed && !becameTerminal) this.touchTile(row.pipeline_id, now)
    // A tile left without builds would show Unknown forever (in cctray too): it goes.
    if (old && old.pipeline_id !== row.pipeline_id && this.s.dropEmptyTile.run({ id: old.pipeline_id }).changes === 0) {
      this.touchTile(old.pipeline_id, now)
    }
    return {
      waiting: false,
      buildId: id,
      build: rowToBuild(row, this.s.jobs.all(id)),
      tile: this.getTile(row.pipeline_id, now)!,
      changed,
      transition,
      superseded: false,
    }
  }

  private fresh(id: string, u: BuildUpdate, now: number): BuildRow {
    const status: BuildStatus = u.fromJob ? (u.status === 'queued' ? 'queued' : 'running') : u.status
    return {
      id,
      pipeline_id: tileId(u.provider, u.project, u.pipeline, u.branch),
      provider: u.provider,
      external_id: u.externalId,
      project: u.project,
      pipeline: u.pipeline,
      branch: u.branch,
      tag: u.tag,
      pull_request: u.pullRequest,
      number: u.number,
      attempt: u.attempt,
      status,
      commit_sha: u.commit.sha,
      commit_subject: u.commit.subject,
      commit_author: u.commit.author,
      actor: u.actor,
      url: u.fromJob ? null : u.url,
      trigger: u.trigger,
      queued_at: ms(u.queuedAt),
      started_at: ms(u.startedAt),
      finished_at: isTerminal(status) ? ms(u.finishedAt) : null,
      duration_ms: isTerminal(status) ? u.durationMs : null,
      event_time: ms(u.eventTime),
      created_at: now,
      updated_at: now,
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
          queued_at: null,
          started_at: null,
          finished_at: null,
          duration_ms: null,
          event_time: null,
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
      authoritative = uTime !== null && (base.event_time === null || uTime > base.event_time)
      if (authoritative) status = u.status
    } else {
      authoritative = uTime === null || base.event_time === null || uTime >= base.event_time
    }
    const pick = <T>(next: T | null, cur: T | null): T | null => (authoritative ? (next ?? cur) : (cur ?? next))
    const r: BuildRow = {
      ...base,
      status,
      tag: pick(u.tag, base.tag),
      pull_request: pick(u.pullRequest, base.pull_request),
      number: pick(u.number, base.number),
      commit_sha: pick(u.commit.sha, base.commit_sha),
      commit_subject: pick(u.commit.subject, base.commit_subject),
      commit_author: pick(u.commit.author, base.commit_author),
      actor: pick(u.actor, base.actor),
      url: u.fromJob ? base.url : pick(u.url, base.url),
      trigger: pick(u.trigger, base.trigger),
      queued_at: pick(ms(u.queuedAt), base.queued_at),
      started_at: pick(ms(u.startedAt), base.started_at),
      finished_at: isTerminal(status) ? pick(ms(u.finishedAt), base.finished_at) : null,
      duration_ms: isTerminal(status) ? pick(u.durationMs, base.duration_ms) : null,
      event_time: authoritative && uTime !== null ? Math.max(uTime, base.event_time ?? 0) : base.event_time,
      updated_at: now,
    }
    // The tile a build is on is the build's own business: a job event never moves it (its names
    // come from other fields, or none). A build delivery renames it only as the later state, else
    // fills a name still empty, so the tile does not depend on the order deliveries arrive in.
    if (!u.fromJob) {
      const name = (next: string, cur: string) => (next && (authoritative || !cur) ? next : cur)
      r.pipeline = name(u.pipeline, base.pipeline)
      r.branch = name(u.branch, base.branch)
      r.project = name(u.project, base.project)
      r.pipeline_id = tileId(r.provider, r.project, r.pipeline, r.branch)
    }
    return r
  }

  private applyJobs(id: string, u: BuildUpdate, newAttempt: boolean): boolean {
    if (newAttempt) this.s.deleteJobs.run(id)
    let changed = false
    for (const j of u.jobs) {
      const cur = this.s.job.get(id, j.id)
      // A late "in progress" for a job never overrides its finished state.
      if (cur && statusRank(j.status) < statusRank(cur.status)) continue
      const next = [
        j.name,
        j.status,
        ms(j.startedAt) ?? cur?.started_at ?? null,
        ms(j.finishedAt) ?? cur?.finished_at ?? null,
        j.url ?? cur?.url ?? null,
      ] as const
      if (
        cur &&
        cur.name === next[0] &&
        cur.status === next[1] &&
        cur.started_at === next[2] &&
        cur.finished_at === next[3] &&
        cur.url === next[4]
      )
        continue
      this.s.upsertJob.run(id, j.id, ...next)
      changed = true
    }
    return changed
  }

  /** Updates the tile for a build that just finished; returns its transition. */
  private finish(b: BuildRow, now: number): Transition {
    const t = this.s.tile.get(b.pipeline_id)!
    const transition = transitionFor(b.status, t.last_result)
    const at = b.finished_at ?? now
    const lastResultAt = Math.max(t.last_success_at ?? 0, t.last_failure_at ?? 0)
    const next = { ...t, updated_at: now, latest_build_id: b.id }
    // An older build finishing late still gets its transition, but does not flip the tile back.
    if ((b.status === 'success' || b.status === 'failure') && at >= lastResultAt) {
      const who = b.actor ?? b.commit_author
      if (b.status === 'success') {
        next.last_success_at = at
        if (t.last_result === 'failure') next.fixed_by = who
        else if (t.last_result === null) next.fixed_by = null
        next.broken_since = null
        next.broken_by = null
        next.broken_build_id = null
      } else {
        next.last_failure_at = at
        if (t.last_result !== 'failure') {
          next.broken_since = at
          next.broken_by = who
          next.broken_build_id = b.id
        }
      }
      next.last_result = b.status
    }
    this.s.saveTile.run(next)
    return transition
  }

  private touchTile(id: string, now: number): void {
    const t = this.s.tile.get(id)
    if (t) this.s.saveTile.run({ ...t, updated_at: now })
  }
}
