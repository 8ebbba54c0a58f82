/**
 * @module Deploy markers. Which builds are a site's deploys: successful builds of the pipelines
 * SITE_DEPLOYS maps to the site (branch given: that branch; else the pipeline's default branch). A
 * site with no mapping has no deploys: drawing every build on every chart would say a site changed
 * when it didn't. The markers come from the snapshot's tiles, from `build.finished` and, once per
 * connection, from the API's recent builds; bounded by DEPLOY_WINDOW_MS and MAX_DEPLOYS.
 */
import { createSignal } from 'solid-js'
import { api } from '../lib/api.ts'
import type { Build, PipelineTile, SiteRow } from '../types.ts'
import type { Pipelines } from './pipelines.ts'
import type { Sites } from './sites.ts'

export type DeploySource = SiteRow['deploys'][number]

/** A successful build of a mapped pipeline: drawn as a marker on the site's charts. */
export interface Deploy {
  buildId: string
  at: number
  project: string
  pipeline: string
  branch: string
  /** Whether the build's branch is its pipeline's default branch (as the tile says). */
  defaultBranch: boolean
  number: number | null
}

export const MAX_DEPLOYS = 100
/** Deploys older than two hours are dropped: the visitors chart spans the last hour, the vitals' trends mark them all. */
export const DEPLOY_WINDOW_MS = 2 * 3_600_000

export function deploys(
  src: DeploySource,
  b: Pick<Deploy, 'project' | 'pipeline' | 'branch' | 'defaultBranch'>
): boolean {
  return (
    src.project === b.project &&
    (src.pipeline === null || src.pipeline === b.pipeline) &&
    (src.branch === null ? b.defaultBranch : src.branch === b.branch)
  )
}

export function deploysAny(
  sources: readonly DeploySource[] | null | undefined,
  b: Parameters<typeof deploys>[1]
): boolean {
  return !!sources?.some((s) => deploys(s, b))
}

/** How a mapping reads in a legend: `acme/shop deploy@main`. */
export function sourceLabel(s: DeploySource): string {
  return `${s.project}${s.pipeline !== null ? ` ${s.pipeline}` : ''}${s.branch !== null ? `@${s.branch}` : ''}`
}

/** A deploy when the build (the tile's latest unless given) succeeded; its tile says which branch is default. */
export function deployOf(tile: PipelineTile | undefined, build = tile?.latest): Deploy | null {
  if (!tile || !build?.finishedAt || build.status !== 'success') return null
  const at = Date.parse(build.finishedAt)
  if (!Number.isFinite(at)) return null
  return {
    buildId: build.id,
    at,
    project: tile.project,
    pipeline: tile.pipeline,
    branch: tile.branch,
    defaultBranch: tile.isDefaultBranch,
    number: build.number,
  }
}

/**
 * `kept` with the `fresh` deploys it lacks, oldest first: none older than `since`, at most MAX_DEPLOYS
 * (the newest). `kept` itself when nothing is new, so the signal does not change.
 */
export function mergeDeploys(kept: Deploy[], fresh: Deploy[], since: number): Deploy[] {
  const seen = new Set(kept.map((d) => d.buildId))
  const added = fresh.filter((d) => d.at >= since && !seen.has(d.buildId))
  if (!added.length) return kept
  const all = [...kept.filter((d) => d.at >= since), ...added].sort((a, b) => a.at - b.at)
  return all.length > MAX_DEPLOYS ? all.slice(all.length - MAX_DEPLOYS) : all
}

/** `now` is the server's clock; `sites` say which pipelines deploy what; `pipelines` whose branch is default. */
export function createDeploys(now: () => number, sites: Sites, pipelines: Pipelines) {
  const [list, setList] = createSignal<Deploy[]>([])

  /** Keeps only builds some site is deployed by, so other builds can't crowd deploys out. */
  function add(found: (Deploy | null)[]) {
    const mapped = Object.values(sites.all ?? {})
    const mine = found.filter((d): d is Deploy => !!d && mapped.some((s) => deploysAny(s?.deploys, d)))
    if (mine.length) setList((kept) => mergeDeploys(kept, mine, now() - DEPLOY_WINDOW_MS))
  }

  return {
    /** Successful builds of the last two hours that deploy some site (SITE_DEPLOYS), oldest first. */
    list,
    /** The deploys of one site: none when nothing is mapped to it. */
    of(site: string): Deploy[] {
      const sources = sites.all?.[site]?.deploys
      return sources?.length ? list().filter((d) => deploysAny(sources, d)) : []
    },
    /** The snapshot's tiles: each one's latest build. */
    fromTiles(tiles: PipelineTile[]) {
      add(tiles.map((t) => deployOf(t)))
    },
    /** `build.finished`. */
    fromBuild(tile: PipelineTile, build: Build) {
      add([deployOf(tile, build)])
    },
    /** Deploys from before this connection: recent successful builds of every mapped pipeline. */
    loadPast() {
      const seen = new Set<string>()
      const sources = Object.values(sites.all ?? {})
        .flatMap((s) => s?.deploys ?? [])
        .filter((src) => {
          const k = JSON.stringify(src)
          return !seen.has(k) && seen.add(k)
        })
      for (const src of sources)
        api
          .builds({ project: src.project, pipeline: src.pipeline, branch: src.branch, status: 'success', limit: 50 })
          .then((r) => add(r.builds.map((b) => deployOf(pipelines.tileOf(b), b))))
          .catch(() => {})
    },
  }
}
