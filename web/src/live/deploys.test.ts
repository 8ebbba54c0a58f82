import { describe, expect, it } from 'vitest'
import {
  createDeploys,
  DEPLOY_WINDOW_MS,
  type Deploy,
  deployOf,
  deploys,
  deploysAny,
  MAX_DEPLOYS,
  mergeDeploys,
  sourceLabel,
} from './deploys.ts'
import { createPipelines } from './pipelines.ts'
import { createSites } from './sites.ts'
import { build as aBuild, tile } from './testing.ts'

const build = (over: Partial<{ project: string; pipeline: string; branch: string; defaultBranch: boolean }> = {}) => ({
  project: 'acme/shop',
  pipeline: 'deploy',
  branch: 'main',
  defaultBranch: true,
  ...over,
})

describe('deploys', () => {
  it('takes the mapped pipeline on its default branch when no branch is given', () => {
    const src = { project: 'acme/shop', pipeline: 'deploy', branch: null }
    expect(deploys(src, build())).toBe(true)
    expect(deploys(src, build({ branch: 'feature/x', defaultBranch: false }))).toBe(false)
    expect(deploys(src, build({ pipeline: 'CI' }))).toBe(false)
    expect(deploys(src, build({ project: 'acme/other' }))).toBe(false)
  })
  it('takes any pipeline of the project when none is given, and exactly the branch when one is', () => {
    const src = { project: 'acme/shop', pipeline: null, branch: 'release' }
    expect(deploys(src, build({ pipeline: 'pages', branch: 'release', defaultBranch: false }))).toBe(true)
    expect(deploys(src, build())).toBe(false)
  })
  it('has no deploys without a mapping', () => {
    expect(deploysAny(null, build())).toBe(false)
    expect(deploysAny([], build())).toBe(false)
  })
  it('reads a mapping as the README writes it', () => {
    expect(sourceLabel({ project: 'acme/shop', pipeline: 'deploy', branch: 'main' })).toBe('acme/shop deploy@main')
    expect(sourceLabel({ project: 'acme/shop', pipeline: null, branch: null })).toBe('acme/shop')
  })
})

const NOW = Date.parse('2030-01-01T12:00:00.000Z')
const deploy = (buildId: string, at: number): Deploy => ({
  buildId,
  at,
  project: 'acme/shop',
  pipeline: 'deploy',
  branch: 'main',
  defaultBranch: true,
  number: null,
})

describe('deploy markers', () => {
  it('are successful finished builds, with the default branch as their tile says', () => {
    expect(deployOf(tile())).toMatchObject({ at: NOW, project: 'acme/shop', branch: 'main', defaultBranch: true })
    expect(deployOf(tile({ isDefaultBranch: false }))!.defaultBranch).toBe(false)
    expect(deployOf(tile(), aBuild({ status: 'failure' }))).toBeNull()
    expect(deployOf(tile(), aBuild({ status: 'running', finishedAt: null }))).toBeNull()
    expect(deployOf(tile({ latest: null }))).toBeNull()
    expect(deployOf(undefined, aBuild())).toBeNull()
  })

  it('are kept oldest first, once each, for DEPLOY_WINDOW_MS and at most MAX_DEPLOYS of them', () => {
    const since = NOW - DEPLOY_WINDOW_MS
    const kept = [deploy('old', since - 1), deploy('a', since + 10)]
    const next = mergeDeploys(kept, [deploy('c', since + 30), deploy('a', since + 10), deploy('b', since + 20)], since)
    expect(next.map((d) => d.buildId)).toEqual(['a', 'b', 'c'])
    expect(mergeDeploys(next, [deploy('b', since + 20), deploy('older', since - 5)], since)).toBe(next)
    const many = Array.from({ length: MAX_DEPLOYS + 10 }, (_, i) => deploy(`d${i}`, since + i))
    const capped = mergeDeploys([], many, since)
    expect(capped).toHaveLength(MAX_DEPLOYS)
    expect(capped[0]!.buildId).toBe('d10')
  })

  it('come only from the pipelines a site is mapped to, and each site gets its own', () => {
    const sites = createSites(() => NOW)
    const pipelines = createPipelines()
    const d = createDeploys(() => NOW, sites, pipelines)
    sites.snapshot([
      {
        site: 'shop.example',
        live: 0,
        last5m: 0,
        summary: null,
        deploys: [{ project: 'acme/shop', pipeline: 'deploy', branch: null }],
      },
      { site: 'blog.example', live: 0, last5m: 0, summary: null, deploys: [] },
    ])
    const shop = tile()
    const other = tile({ project: 'acme/other' })
    const feature = tile({ branch: 'feature/x', isDefaultBranch: false })
    pipelines.snapshot([shop, other, feature])
    d.fromTiles([shop, other, feature])
    expect(d.list().map((x) => x.buildId)).toEqual([shop.latest!.id])
    d.fromBuild(shop, aBuild({ id: 'generic:2', finishedAt: new Date(NOW + 1000).toISOString() }))
    d.fromBuild(other, aBuild({ id: 'generic:3', project: 'acme/other' }))
    expect(d.of('shop.example').map((x) => x.buildId)).toEqual([shop.latest!.id, 'generic:2'])
    expect(d.of('blog.example')).toEqual([])
    expect(d.of('unknown.example')).toEqual([])
  })
})
