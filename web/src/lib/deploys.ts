/**
 * @module Which builds are a site's deploys: successful builds of the pipelines SITE_DEPLOYS maps
 * to the site (branch given: that branch; else the pipeline's default branch). A site with no
 * mapping has no deploys: drawing every build on every chart would say a site changed when it didn't.
 */
import type { SiteRow } from '../types.ts'

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
