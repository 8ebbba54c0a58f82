import { describe, expect, it } from 'vitest'
import type { Build, PipelineTile } from '../../contract/builds.ts'
import { RUNNING_STALE_MS } from './store.ts'
import { TileView } from './tile-view.ts'

const T0 = Date.parse('2026-11-01T10:00:00Z')
const iso = (t: number) => new Date(t).toISOString()

function build(id: string, updatedAt: number, status: Build['status'] = 'running'): Build {
  return {
    id,
    provider: 'github',
    project: 'acme/web',
    pipeline: 'ci',
    branch: 'main',
    tag: null,
    pullRequest: null,
    number: null,
    attempt: 1,
    status,
    commit: { sha: null, subject: null, author: null },
    actor: null,
    url: null,
    trigger: null,
    queuedAt: null,
    startedAt: null,
    finishedAt: null,
    durationMs: null,
    updatedAt: iso(updatedAt),
  }
}

function tile(id: string, updatedAt: number, running: Build | null = null): PipelineTile {
  return {
    id,
    provider: 'github',
    project: 'acme/web',
    pipeline: 'ci',
    branch: id,
    isDefaultBranch: false,
    latest: running,
    running,
    lastSuccessAt: null,
    lastFailureAt: null,
    brokenSince: null,
    brokenBy: null,
    fixedBy: null,
    medianDurationMs: null,
    successRate: null,
    recent: [],
    updatedAt: iso(updatedAt),
  }
}

const updated = (t: PipelineTile) => ({ type: 'build.updated', data: { build: t.latest, pipeline: t } })

describe('TileView', () => {
  it('takes the tile each build event carries, newest first, and ignores other events', () => {
    const view = new TileView()
    view.apply(updated(tile('a', T0)))
    view.apply(updated(tile('b', T0 + 2)))
    view.apply({ type: 'visitors', data: { pipeline: tile('x', T0 + 9) } })
    view.apply({ type: 'build.finished', data: { build: null, pipeline: tile('c', T0 + 1), transition: 'passed' } })
    expect(view.tiles(T0).map((t) => t.id)).toEqual(['b', 'c', 'a'])
    // A newer event of a tile replaces it.
    view.apply(updated(tile('a', T0 + 5)))
    expect(view.tiles(T0).map((t) => [t.id, t.updatedAt])).toEqual([
      ['a', iso(T0 + 5)],
      ['b', iso(T0 + 2)],
      ['c', iso(T0 + 1)],
    ])
  })

  it('answers the same array until a tile changes', () => {
    const view = new TileView()
    view.apply(updated(tile('a', T0)))
    const first = view.tiles(T0)
    expect(view.tiles(T0 + 1)).toBe(first)
    view.apply(updated(tile('b', T0)))
    expect(view.tiles(T0 + 1)).not.toBe(first)
  })

  it('stops showing a running build with no news for RUNNING_STALE_MS, as a fresh read does', () => {
    const view = new TileView()
    const b = build('github:1', T0)
    view.apply(updated(tile('a', T0, b)))
    expect(view.tiles(T0 + RUNNING_STALE_MS - 1)[0]!.running).toEqual(b)
    const later = view.tiles(T0 + RUNNING_STALE_MS)[0]!
    expect(later.running).toBeNull()
    expect(later.latest).toEqual(b)
  })

  it('keeps the newest 1,000 tiles, as the snapshot reads them', () => {
    const view = new TileView()
    for (let i = 0; i < 1005; i++) view.apply(updated(tile(`t${i}`, T0 + i)))
    const tiles = view.tiles(T0)
    expect(tiles).toHaveLength(1000)
    expect(tiles[0]!.id).toBe('t1004')
    expect(tiles.at(-1)!.id).toBe('t5')
  })
})
