/**
 * @module What a pipeline tile says, derived from the server's tile: the status shown (colour, icon
 * and word), its order on the board, the running build's progress against the estimate, the
 * streak / flakiness hint and the sentence read out by screen readers. Pure, so it is unit-tested.
 */
import type { Build, BuildStatus, PipelineTile } from '../types.ts'
import { parseTime, span } from './time.ts'

export type Shown = 'failing' | 'passing' | 'running' | 'queued' | 'canceled' | 'skipped' | 'unknown' | 'silent'
export type Finished = 'failing' | 'passing' | 'canceled' | 'skipped'

export const WORD: Record<Shown, string> = {
  failing: 'failing',
  passing: 'passing',
  running: 'running',
  queued: 'queued',
  canceled: 'canceled',
  skipped: 'skipped',
  unknown: 'no builds',
  silent: 'no news',
}

/** A build in progress with no word for this long is shown as "no news", not as running. */
export const SILENT_AFTER_MS = 3_600_000
/** …or once it has run this many times its usual duration (and at least SILENT_MIN_MS). */
export const SILENT_FACTOR = 3
export const SILENT_MIN_MS = 15 * 60_000

const FINISHED: Partial<Record<BuildStatus, Finished>> = {
  success: 'passing',
  failure: 'failing',
  canceled: 'canceled',
  skipped: 'skipped',
}

const recentOf = (t: PipelineTile): BuildStatus[] => (Array.isArray(t.recent) ? t.recent : [])

/** The last finished result; a tile the server says is broken is failing even while a fix runs. */
export function lastFinished(t: PipelineTile): Finished | null {
  if (t.brokenSince) return 'failing'
  for (const s of recentOf(t)) {
    const f = FINISHED[s]
    if (f) return f
  }
  const l = t.latest && FINISHED[t.latest.status]
  return l ?? null
}

const inProgress = (t: PipelineTile): Build | null =>
  t.running ?? (t.latest && (t.latest.status === 'running' || t.latest.status === 'queued') ? t.latest : null)

/**
 * A build whose final webhook never came: an hour without news, or several times its usual
 * duration. `now` is server time; without it nothing is silent.
 */
export function isSilent(t: PipelineTile, now?: number): boolean {
  const r = inProgress(t)
  if (!r || now === undefined) return false
  const last = parseTime(r.updatedAt)
  if (last !== null && now - last > SILENT_AFTER_MS) return true
  const start = parseTime(r.startedAt ?? r.queuedAt)
  const median = t.medianDurationMs
  return (
    r.status === 'running' &&
    start !== null &&
    !!median &&
    median > 0 &&
    now - start > Math.max(SILENT_MIN_MS, SILENT_FACTOR * median)
  )
}

/** What the tile says it is doing; pass `now` to let a build with no news for too long say so. */
export function shown(t: PipelineTile, now?: number): Shown {
  const r = inProgress(t)
  if (r) return isSilent(t, now) ? 'silent' : r.status === 'queued' ? 'queued' : 'running'
  return lastFinished(t) ?? 'unknown'
}

/**
 * The colour a tile wears: a broken pipeline stays red until a build passes, a running fix
 * included (its progress is drawn on the red tile).
 */
export function colour(t: PipelineTile, now?: number): Shown {
  return lastFinished(t) === 'failing' ? 'failing' : shown(t, now)
}

/** Needs someone's eyes: broken, running, queued or gone silent. Shown large on a wall. */
export function needsAttention(t: PipelineTile, now?: number): boolean {
  const c = colour(t, now)
  return c === 'failing' || c === 'running' || c === 'queued' || c === 'silent'
}

export interface BoardFilter {
  project: string[]
  branch: string[]
  provider: string[]
  status: string[]
}

/** In the screen's scope: project, branch and provider (each a list, OR within, AND across). */
export function inScope(t: Pick<PipelineTile, 'project' | 'branch' | 'provider'>, f: BoardFilter): boolean {
  return (
    (!f.project.length || f.project.includes(t.project)) &&
    (!f.branch.length || f.branch.includes(t.branch)) &&
    (!f.provider.length || f.provider.includes(t.provider))
  )
}

/** Matches every filter, status included: `failing` takes a broken pipeline whose fix is running. */
export function matches(t: PipelineTile, f: BoardFilter, now?: number): boolean {
  if (!inScope(t, f)) return false
  if (!f.status.length) return true
  return f.status.includes(shown(t, now)) || f.status.includes(colour(t, now))
}

/** Lower sorts first: broken (even while a fix runs), then in progress, then the rest, green last. */
export function severity(t: PipelineTile): number {
  if (lastFinished(t) === 'failing') return 0
  const s = shown(t)
  return s === 'running' || s === 'queued' || s === 'silent' ? 1 : s === 'canceled' ? 2 : s === 'passing' ? 4 : 3
}

export function compareTiles(a: PipelineTile, b: PipelineTile): number {
  return (
    severity(a) - severity(b) ||
    Number(b.isDefaultBranch) - Number(a.isDefaultBranch) ||
    a.project.localeCompare(b.project) ||
    a.pipeline.localeCompare(b.pipeline) ||
    a.branch.localeCompare(b.branch)
  )
}

/** The build the tile talks about: the one in progress, else the newest. */
export const shownBuild = (t: PipelineTile): Build | null => t.running ?? t.latest ?? null

/**
 * Who did it, one name per person: when a provider sends both a login ("mpatel") and a display
 * name ("Maya Patel"), the display name wins.
 */
export const who = (b: Build | null): string | null => {
  const actor = b?.actor?.trim() || null
  const author = b?.commit?.author?.trim() || null
  if (actor && author && author !== actor && /\s/.test(author) && !/\s/.test(actor)) return author
  return actor || author
}

/** "fixed by X" only while the fix is the newest finished build: a later pass by others retires it. */
export function fixedBy(t: PipelineTile): string | null {
  if (!t.fixedBy) return null
  const fin = recentOf(t).filter((s) => s === 'success' || s === 'failure')
  return fin[0] === 'success' && fin[1] === 'failure' ? t.fixedBy : null
}

export const subject = (b: Build | null): string | null => {
  const s = b?.commit?.subject
  if (!s) return null
  return s.split('\n', 1)[0]!.trim() || null
}

export interface Progress {
  elapsedMs: number
  /** 0..1 of the estimate; null without an estimate. */
  fraction: number | null
  /** Estimated ms left (negative when overdue); null without an estimate. */
  leftMs: number | null
}

export function progress(t: PipelineTile, now: number): Progress | null {
  const b = shownBuild(t)
  if (!b || (b.status !== 'running' && b.status !== 'queued')) return null
  const start = parseTime(b.status === 'running' ? (b.startedAt ?? b.queuedAt) : b.queuedAt) ?? parseTime(b.updatedAt)
  if (start === null) return null
  const elapsedMs = Math.max(0, now - start)
  const est = b.status === 'running' && t.medianDurationMs && t.medianDurationMs > 0 ? t.medianDurationMs : null
  return {
    elapsedMs,
    fraction: est ? Math.min(1, elapsedMs / est) : null,
    leftMs: est ? est - elapsedMs : null,
  }
}

export interface Streak {
  result: 'passing' | 'failing'
  count: number
}

/** How many of the newest finished builds (success/failure only) share the newest one's result. */
export function streak(recent: BuildStatus[]): Streak | null {
  const fin = recent.filter((s) => s === 'success' || s === 'failure')
  if (!fin.length) return null
  let n = 1
  while (n < fin.length && fin[n] === fin[0]) n++
  return { result: fin[0] === 'success' ? 'passing' : 'failing', count: n }
}

/** Result changes between consecutive finished builds: many flips on one branch smell of flakiness. */
export function flips(recent: BuildStatus[]): number {
  const fin = recent.filter((s) => s === 'success' || s === 'failure')
  let n = 0
  for (let i = 1; i < fin.length; i++) if (fin[i] !== fin[i - 1]) n++
  return n
}

/** One short hint about the recent history, or null when there is nothing worth saying. */
export function hint(t: PipelineTile): string | null {
  const r = recentOf(t)
  const f = flips(r)
  const s = streak(r)
  const n = r.filter((x) => x === 'success' || x === 'failure').length
  if (f >= 3) return `flaky: ${f} flips in last ${n}`
  if (s?.result === 'failing' && s.count >= 2) return `failed ${s.count}× in a row`
  if (s?.result === 'passing' && s.count >= 5) return `${s.count === n && n >= 10 ? `${n}+` : s.count} passes in a row`
  return null
}

export function title(t: PipelineTile): string {
  return t.pipeline && t.pipeline !== t.project
    ? `${t.project} ${t.branch} (${t.pipeline})`
    : `${t.project} ${t.branch}`
}

/** "acme/web main: failing for 12 minutes, broken by octocat": the whole tile in one sentence. */
export function ariaLabel(t: PipelineTile, now: number): string {
  const s = shown(t, now)
  const b = shownBuild(t)
  const parts: string[] = []
  const since = (iso: string | null | undefined) => {
    const at = parseTime(iso)
    return at === null ? null : span(now - at)
  }
  if (s === 'failing') {
    const f = since(t.brokenSince ?? t.lastFailureAt ?? b?.finishedAt)
    parts.push(f ? `failing for ${f}` : 'failing')
    if (t.brokenBy) parts.push(`broken by ${t.brokenBy}`)
  } else if (s === 'running' || s === 'queued') {
    const p = progress(t, now)
    parts.push(p ? `${s} for ${span(p.elapsedMs)}` : s)
    if (p?.leftMs != null)
      parts.push(p.leftMs >= 0 ? `about ${span(p.leftMs)} left` : `${span(-p.leftMs)} over the usual time`)
    if (lastFinished(t) === 'failing') {
      parts.push(`broken since ${since(t.brokenSince) ?? 'earlier'}`)
      if (t.brokenBy) parts.push(`by ${t.brokenBy}`)
    }
    const w = who(b)
    if (w) parts.push(`started by ${w}`)
  } else if (s === 'silent') {
    const f = since(b?.updatedAt)
    parts.push(f ? `no news for ${f}, the build may have finished without telling us` : 'no news')
    if (lastFinished(t) === 'failing') parts.push(`broken since ${since(t.brokenSince) ?? 'earlier'}`)
  } else if (s === 'unknown') {
    parts.push('no builds yet')
  } else {
    const f = since(b?.finishedAt ?? b?.updatedAt)
    parts.push(f ? `${WORD[s]}, finished ${f} ago` : WORD[s])
    if (s === 'passing' && fixedBy(t)) parts.push(`fixed by ${fixedBy(t)}`)
    else {
      const w = who(b)
      if (w) parts.push(`by ${w}`)
    }
  }
  return `${title(t)}: ${parts.join(', ')}`
}

export interface BoardCounts {
  failing: number
  running: number
  passing: number
  other: number
  total: number
}

export function counts(tiles: PipelineTile[], now?: number): BoardCounts {
  const c: BoardCounts = { failing: 0, running: 0, passing: 0, other: 0, total: tiles.length }
  for (const t of tiles) {
    const s = shown(t, now)
    if (lastFinished(t) === 'failing') c.failing++
    else if (s === 'running' || s === 'queued') c.running++
    else if (s === 'passing') c.passing++
    else c.other++
  }
  return c
}

/** "✗ 2 failing", "● 3 running", "✓ 12 passing": the tab title's summary. */
export function summaryText(c: BoardCounts): string {
  if (c.total === 0) return 'no pipelines'
  if (c.failing) return `✗ ${c.failing} failing`
  if (c.running) return `● ${c.running} running`
  if (c.passing === c.total) return `✓ all ${c.total} passing`
  return `✓ ${c.passing} passing`
}
