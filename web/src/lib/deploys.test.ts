import { describe, expect, it } from 'vitest'
import { deploys, deploysAny, sourceLabel } from './deploys.ts'

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
