import { describe, expect, it } from 'vitest'
import { createPipelines } from './pipelines.ts'
import { build, tile } from './testing.ts'

describe('the pipelines slice', () => {
  it('knows nothing until a snapshot lists the tiles, and nothing again when a snapshot has none', () => {
    const p = createPipelines()
    expect(p.tiles).toBeNull()
    p.snapshot([tile(), tile({ branch: 'next', isDefaultBranch: false })])
    expect(Object.keys(p.tiles!).sort()).toEqual(['acme/shop:deploy:main', 'acme/shop:deploy:next'])
    p.snapshot(undefined)
    expect(p.tiles).toBeNull()
  })

  it('replaces the board with a later snapshot: a tile it no longer lists is gone', () => {
    const p = createPipelines()
    p.snapshot([tile(), tile({ branch: 'next' })])
    p.snapshot([tile({ successRate: 0.5 })])
    expect(Object.keys(p.tiles!)).toEqual(['acme/shop:deploy:main'])
    expect(p.tiles!['acme/shop:deploy:main']!.successRate).toBe(0.5)
  })

  it("takes a build event's tile, for a known pipeline or a new one, before any snapshot too", () => {
    const p = createPipelines()
    p.put(tile({ project: 'acme/api' }))
    expect(Object.keys(p.tiles!)).toEqual(['acme/api:deploy:main'])
    p.put(tile({ project: 'acme/api', brokenBy: 'ada' }))
    expect(p.tiles!['acme/api:deploy:main']!.brokenBy).toBe('ada')
  })

  it('finds the tile of a build from the API by provider, project, pipeline and branch', () => {
    const p = createPipelines()
    p.snapshot([tile(), tile({ branch: 'next' })])
    expect(p.tileOf(build({ branch: 'next' }))?.id).toBe('acme/shop:deploy:next')
    expect(p.tileOf(build({ provider: 'github', branch: 'next' }))).toBeUndefined()
  })
})
