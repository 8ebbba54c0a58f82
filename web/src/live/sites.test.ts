import { describe, expect, it } from 'vitest'
import type { SiteSummary } from '../types.ts'
import { createSites } from './sites.ts'

const summary = (site: string, live = 3): SiteSummary =>
  ({ site, window: '24h', device: 'all', visitors: { live, last5m: live + 1 }, pageviews: 9 }) as SiteSummary
const entry = (site: string) => ({ site, live: 1, last5m: 2, summary: null, deploys: [] })

describe('the sites slice', () => {
  it("keeps the snapshot's order (the server's SITES) and stamps figures with the server's time", () => {
    let now = 1000
    const s = createSites(() => now)
    expect(s.all).toBeNull()
    s.snapshot([entry('b.example'), entry('a.example')])
    expect(s.all!['b.example']).toMatchObject({ order: 0, at: 1000, live: 1, summary: null })
    expect(s.all!['a.example']!.order).toBe(1)
    now = 2000
    s.visitors({ site: 'a.example', live: 7, last5m: 8 })
    expect(s.all!['a.example']).toMatchObject({ live: 7, last5m: 8, at: 2000, order: 1 })
    s.snapshot(undefined)
    expect(s.all).toBeNull()
  })

  it('takes the live summary of a listed site, says when each arrived, and keeps its place and mapping', () => {
    let now = 5
    const s = createSites(() => now)
    s.snapshot([{ ...entry('a.example'), deploys: [{ project: 'acme/a', pipeline: null, branch: null }] }])
    expect(s.all!['a.example']!.summaryAt).toBeNull()
    s.vitals(summary('a.example'))
    expect(s.all!['a.example']).toMatchObject({ order: 0, live: 1, summary: { pageviews: 9 }, summaryAt: 5 })
    now = 6
    s.vitals({ ...summary('a.example'), pageviews: 10 })
    expect(s.all!['a.example']).toMatchObject({ summary: { pageviews: 10 }, at: 6, summaryAt: 6 })
    expect(s.all!['a.example']!.deploys).toEqual([{ project: 'acme/a', pipeline: null, branch: null }])
  })

  it('places a site the snapshot did not list after the listed ones, with no deploy mapping', () => {
    const s = createSites(() => 5)
    s.vitals(summary('new.example', 4))
    expect(s.all!['new.example']).toMatchObject({ live: 4, last5m: 5, order: Infinity, deploys: null })
    s.visitors({ site: 'other.example', live: 1, last5m: 1 })
    expect(s.all!['other.example']).toMatchObject({ summary: null, order: Infinity, deploys: null })
  })
})
