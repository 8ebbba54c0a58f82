import { describe, expect, it } from 'vitest'
import type { Build, PipelineTile } from '../types.ts'
import { ariaLabel, compareTiles, counts, flips, hint, progress, shown, streak, summaryText } from './status.ts'

const NOW = Date.parse('2026-03-01T12:00:00Z')
const ago = (ms: number) => new Date(NOW - ms).toISOString()

function build(p: Partial<Build> = {}): Build {
  return {
    id: 'b',
    provider: 'generic',
    project: 'acme/web',
    pipeline: 'build',
    branch: 'main',
    tag: null,
    pullRequest: null,
    number: 7,
    attempt: 1,
    status: 'success',
    commit: { sha: 'abc', subject: 'Fix it\nbody', author: 'ada' },
    actor: 'octocat',
    url: null,
    trigger: null,
    queuedAt: null,
    startedAt: ago(600_000),
    finishedAt: ago(300_000),
    durationMs: 300_000,
    updatedAt: ago(300_000),
    ...p,
  }
}

function tile(p: Partial<PipelineTile> = {}): PipelineTile {
  return {
    id: 't',
    provider: 'generic',
    project: 'acme/web',
    pipeline: 'acme/web',
    branch: 'main',
    isDefaultBranch: true,
    latest: build(),
    running: null,
    lastSuccessAt: ago(300_000),
    lastFailureAt: null,
    brokenSince: null,
    brokenBy: null,
    fixedBy: null,
    medianDurationMs: 300_000,
    successRate: 1,
    recent: ['success'],
    updatedAt: ago(300_000),
    ...p,
  }
}

describe('tile status', () => {
  it('shows failing, with who broke it and for how long, in one sentence', () => {
    const t = tile({
      latest: build({ status: 'failure' }),
      brokenSince: ago(12 * 60_000),
      brokenBy: 'octocat',
      recent: ['failure'],
    })
    expect(shown(t)).toBe('failing')
    expect(ariaLabel(t, NOW)).toBe('acme/web main: failing for 12 minutes, broken by octocat')
  })

  it('shows a running build as running, with its progress against the median and an ETA', () => {
    const r = build({ status: 'running', startedAt: ago(120_000), finishedAt: null, durationMs: null })
    const t = tile({ latest: r, running: r, medianDurationMs: 300_000, recent: ['running', 'success'] })
    expect(shown(t)).toBe('running')
    const p = progress(t, NOW)!
    expect(p.elapsedMs).toBe(120_000)
    expect(p.fraction).toBeCloseTo(0.4)
    expect(p.leftMs).toBe(180_000)
    expect(ariaLabel(t, NOW)).toBe('acme/web main: running for 2 minutes, about 3 minutes left, started by octocat')
  })

  it('has no estimate without a median, and says so rather than inventing one', () => {
    const r = build({ status: 'running', startedAt: ago(60_000), finishedAt: null })
    expect(progress(tile({ running: r, latest: r, medianDurationMs: null }), NOW)).toMatchObject({
      fraction: null,
      leftMs: null,
    })
  })

  it('sorts broken first (even while a fix runs), then running, default branch before others', () => {
    const running = build({ status: 'running', finishedAt: null })
    const tiles = [
      tile({ id: 'green', project: 'a' }),
      tile({
        id: 'feature-broken',
        project: 'b',
        branch: 'feat',
        isDefaultBranch: false,
        brokenSince: ago(1),
        recent: ['failure'],
      }),
      tile({
        id: 'fixing',
        project: 'c',
        running,
        latest: running,
        brokenSince: ago(1),
        recent: ['running', 'failure'],
      }),
      tile({ id: 'running', project: 'd', running, latest: running }),
      tile({ id: 'main-broken', project: 'z', brokenSince: ago(1), recent: ['failure'] }),
    ]
    expect(tiles.sort(compareTiles).map((t) => t.id)).toEqual([
      'fixing',
      'main-broken',
      'feature-broken',
      'running',
      'green',
    ])
  })

  it('counts the board and summarises it for the tab title', () => {
    const running = build({ status: 'running', finishedAt: null })
    const c = counts([tile(), tile({ brokenSince: ago(1), recent: ['failure'] }), tile({ running, latest: running })])
    expect(c).toEqual({ failing: 1, running: 1, passing: 1, other: 0, total: 3 })
    expect(summaryText(c)).toBe('✗ 1 failing')
    expect(summaryText(counts([tile(), tile()]))).toBe('✓ all 2 passing')
  })
})

describe('streaks and flakiness', () => {
  it('counts the newest run of equal results, ignoring canceled and running builds', () => {
    expect(streak(['running', 'failure', 'canceled', 'failure', 'success'])).toEqual({ result: 'failing', count: 2 })
    expect(streak([])).toBeNull()
  })

  it('calls a branch flaky when results flip often', () => {
    const r = ['success', 'failure', 'success', 'failure', 'success'] as const
    expect(flips([...r])).toBe(4)
    expect(hint(tile({ recent: [...r] }))).toBe('flaky: 4 flips in last 5')
    expect(hint(tile({ recent: ['failure', 'failure', 'failure', 'success'] }))).toBe('failed 3× in a row')
    expect(hint(tile({ recent: Array(10).fill('success') }))).toBe('10+ passes in a row')
    expect(hint(tile({ recent: ['success', 'success'] }))).toBeNull()
  })
})
