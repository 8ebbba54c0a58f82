import { describe, expect, it } from 'vitest'
import { until, type TestServer } from '../test/harness.ts'
import { countOf, eventually, postBeacon, SITE, testClock, metricsFixtures } from '../test/metrics.ts'
import { summarySchema, WINDOWS, type BeaconEvent, type Summary } from '../../contract/metrics.ts'
import { Presence } from './presence.ts'
import { Summaries } from './summary.ts'

const T0 = Date.UTC(2026, 5, 1, 12, 30, 15)
const { server, ws } = metricsFixtures()

async function summary(s: TestServer, q = ''): Promise<Summary> {
  const res = await fetch(`${s.url}/api/sites/${SITE}/summary${q}`)
  expect(res.status).toBe(200)
  return summarySchema.parse(await res.json())
}

const lcp = (value: number, id: string, path = '/'): BeaconEvent => ({ type: 'vital', path, name: 'LCP', value, id })

function nearestRank(values: number[], q: number) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.ceil(q * sorted.length) - 1]!
}

describe('site summary', () => {
  it('reads p50/p75/p95 within 2.5 % of the exact percentiles, with shares, rating and sample count', async () => {
    const s = await server()
    const values = Array.from({ length: 200 }, (_, i) => 800 + ((i * 7919) % 200) * 25) // 800 … 5775 ms
    for (let i = 0; i < values.length; i += 50)
      await postBeacon(
        s.url,
        values.slice(i, i + 50).map((v, j) => lcp(v, `v5-${i + j}`))
      )
    await eventually(async () => (await summary(s)).vitals.LCP.samples === 200, 'rollup')
    const v = (await summary(s)).vitals.LCP
    for (const [k, q] of [
      ['p50', 0.5],
      ['p75', 0.75],
      ['p95', 0.95],
    ] as const) {
      const exact = nearestRank(values, q)
      expect(Math.abs(v[k]! - exact) / exact, k).toBeLessThanOrEqual(0.025)
    }
    const good = values.filter((x) => x <= 2500).length / 200
    const poor = values.filter((x) => x > 4000).length / 200
    expect(v.shares.good).toBeCloseTo(good, 4)
    expect(v.shares.poor).toBeCloseTo(poor, 4)
    expect(v.shares.ni).toBeCloseTo(1 - good - poor, 4)
    const p75 = nearestRank(values, 0.75)
    expect(v.rating).toBe(p75 <= 2500 ? 'good' : p75 <= 4000 ? 'needs-improvement' : 'poor')
    expect(v.samples).toBe(200)
    expect((await summary(s)).vitals.INP).toEqual({
      p50: null,
      p75: null,
      p95: null,
      rating: null,
      shares: { good: 0, ni: 0, poor: 0 },
      samples: 0,
    })
  })

  it('rates p75 exactly at the thresholds (good is ≤ 2500 ms)', async () => {
    const s = await server()
    // 75 samples at exactly the threshold, 25 poor: p75 is 2500, which is good.
    await postBeacon(
      s.url,
      Array.from({ length: 50 }, (_, i) => lcp(2500, `a${i}`))
    )
    await postBeacon(s.url, [
      ...Array.from({ length: 25 }, (_, i) => lcp(2500, `b${i}`)),
      ...Array.from({ length: 25 }, (_, i) => lcp(9000, `c${i}`)),
    ])
    await eventually(async () => (await summary(s)).vitals.LCP.samples === 100, 'rollup')
    const v = (await summary(s)).vitals.LCP
    expect(v.rating).toBe('good')
    expect(v.p75).toBeLessThanOrEqual(2500)
    expect(v.p95).toBeGreaterThan(4000)
  })

  it('counts a metric reported twice under one id once, with its latest value', async () => {
    const s = await server()
    await postBeacon(s.url, [{ type: 'vital', path: '/', name: 'CLS', value: 0.05, id: 'v5-cls' }])
    await eventually(async () => (await summary(s)).vitals.CLS.samples === 1, 'first report rolled up')
    // Later shifts: the snippet reports the same id again on the next hide.
    await postBeacon(s.url, [{ type: 'vital', path: '/', name: 'CLS', value: 0.3, id: 'v5-cls' }])
    // And twice quickly, before the rollup job sees either.
    await postBeacon(s.url, [{ type: 'vital', path: '/', name: 'INP', value: 100, id: 'v5-inp' }])
    await postBeacon(s.url, [{ type: 'vital', path: '/', name: 'INP', value: 600, id: 'v5-inp' }])
    await eventually(async () => {
      const v = (await summary(s)).vitals
      // Each replacement is the only poor value: poor with one sample holds only once it is rolled up.
      return v.CLS.samples === 1 && v.CLS.rating === 'poor' && v.INP.samples === 1 && v.INP.rating === 'poor'
    }, 'replacements rolled up')
    const v = (await summary(s)).vitals
    expect(v.CLS).toMatchObject({ samples: 1, rating: 'poor', shares: { good: 0, ni: 0, poor: 1 } })
    expect(v.INP).toMatchObject({ samples: 1, rating: 'poor', shares: { good: 0, ni: 0, poor: 1 } })
    expect(Math.abs(v.INP.p75! - 600) / 600).toBeLessThanOrEqual(0.025)
    expect(await countOf(s, 'site_samples')).toBe(2)
  })

  it('splits by device class from the viewport width', async () => {
    const s = await server()
    await postBeacon(s.url, [{ type: 'pageview', path: '/' }, lcp(1000, 'm1')], { width: 390 })
    await postBeacon(s.url, [{ type: 'pageview', path: '/' }, lcp(5000, 'd1')], {
      width: 1440,
      ua: 'Mozilla/5.0 Firefox/131.0',
    })
    await eventually(async () => (await summary(s, '?window=5m')).vitals.LCP.samples === 2, 'rollup')
    const mobile = await summary(s, '?window=5m&device=mobile')
    const desktop = await summary(s, '?window=5m&device=desktop')
    expect(mobile).toMatchObject({ device: 'mobile', pageviews: 1, visitors: { live: 1, last5m: 1 } })
    expect(mobile.vitals.LCP).toMatchObject({ samples: 1, rating: 'good' })
    expect(desktop.vitals.LCP).toMatchObject({ samples: 1, rating: 'poor' })
    expect((await summary(s, '?window=5m&device=tablet')).pageviews).toBe(0)
  })

  it('covers whole periods per window: minutes for 5m and 1h, hours for 24h, UTC days for 7d and 28d', async () => {
    const clock = testClock(T0)
    const s = await server({}, { now: clock.now })
    const at = async (ago: number, id: string) => {
      clock.set(T0 - ago)
      await postBeacon(s.url, [{ type: 'pageview', path: '/' }, lcp(1000, id)])
    }
    await at(3 * 60_000, 'three-minutes')
    await at(30 * 60_000, 'half-hour')
    await at(5 * 3600_000, 'five-hours')
    await at(3 * 86_400_000, 'three-days')
    await at(20 * 86_400_000, 'twenty-days')
    await at(40 * 86_400_000, 'forty-days')
    clock.set(T0)
    await eventually(async () => (await summary(s, '?window=28d')).vitals.LCP.samples === 5, 'rollup')
    const views = async (w: string) => (await summary(s, `?window=${w}`)).pageviews
    expect(await views('5m')).toBe(1)
    expect(await views('1h')).toBe(2)
    expect(await views('24h')).toBe(3)
    expect(await views('7d')).toBe(4)
    expect(await views('28d')).toBe(5)
    expect((await summary(s, '?window=24h')).from).toBe('2026-05-31T13:00:00.000Z')
    expect((await summary(s, '?window=7d')).from).toBe('2026-05-26T00:00:00.000Z')
  })

  it('lists top pages by views and by worst p75 LCP and INP', async () => {
    const s = await server()
    const views = { '/': 5, '/pricing': 3, '/docs': 1 }
    for (const [path, n] of Object.entries(views))
      for (let i = 0; i < n; i++) await postBeacon(s.url, [{ type: 'pageview', path }])
    await postBeacon(s.url, [
      lcp(1200, 'l1', '/'),
      lcp(4800, 'l2', '/pricing'),
      lcp(2600, 'l3', '/docs'),
      { type: 'vital', path: '/docs', name: 'INP', value: 350, id: 'i1' },
    ])
    await eventually(async () => (await summary(s)).vitals.LCP.samples === 3, 'rollup')
    const top = (await summary(s)).topPages
    expect(top.byViews).toEqual([
      { path: '/', views: 5 },
      { path: '/pricing', views: 3 },
      { path: '/docs', views: 1 },
    ])
    expect(top.byLcp.map((p) => p.path)).toEqual(['/pricing', '/docs', '/'])
    expect(top.byLcp[0]).toMatchObject({ samples: 1 })
    expect(top.byInp).toHaveLength(1)
    expect(top.byInp[0]).toMatchObject({ path: '/docs', samples: 1 })
    expect(Math.abs(top.byInp[0]!.p75 - 350) / 350).toBeLessThanOrEqual(0.025)
  })

  it('gives the last 60 minutes per minute for sparklines', async () => {
    const clock = testClock(T0)
    const s = await server({ TRUST_PROXY: 'true' }, { now: clock.now })
    clock.set(T0 - 10 * 60_000)
    await postBeacon(s.url, [{ type: 'pageview', path: '/' }], { ip: '198.51.100.1' })
    clock.set(T0)
    await postBeacon(s.url, [{ type: 'pageview', path: '/' }], { ip: '198.51.100.1' })
    await postBeacon(s.url, [{ type: 'pageview', path: '/a' }], { ip: '198.51.100.2' })
    await postBeacon(s.url, [{ type: 'heartbeat', path: '/a' }], { ip: '198.51.100.3' })
    const series = (await summary(s)).series
    expect(series).toHaveLength(60)
    expect(series.at(-1)).toEqual({ t: '2026-06-01T12:30:00.000Z', visitors: 3, pageviews: 2 })
    expect(series.at(-11)).toEqual({ t: '2026-06-01T12:20:00.000Z', visitors: 1, pageviews: 1 })
    expect(series[0]!.t).toBe('2026-06-01T11:31:00.000Z')
  })

  it('gives p75 per period of the window for the vitals charts, every period present', async () => {
    const clock = testClock(T0)
    const s = await server({}, { now: clock.now })
    clock.set(T0 - 3 * 3_600_000) // three hours ago: fast
    await postBeacon(s.url, [
      lcp(1200, 'old-1'),
      lcp(1400, 'old-2'),
      { type: 'vital', path: '/', name: 'INP', value: 90, id: 'old-inp' },
    ])
    clock.set(T0) // now: slow (after a deploy, say)
    await postBeacon(s.url, [lcp(5000, 'new-1'), lcp(5200, 'new-2')])
    await eventually(async () => (await summary(s)).vitals.LCP.samples === 4, 'rollup')
    const trend = (await summary(s)).trend
    expect(trend).toHaveLength(24)
    expect(trend[0]!.t).toBe('2026-05-31T13:00:00.000Z')
    expect(trend.at(-1)!.t).toBe('2026-06-01T12:00:00.000Z')
    const near = (v: number | null, exact: number) => Math.abs(v! - exact) / exact <= 0.025
    expect(near(trend.at(-4)!.LCP, 1400)).toBe(true)
    expect(trend.at(-4)!.INP).not.toBeNull()
    expect(near(trend.at(-1)!.LCP, 5200)).toBe(true)
    expect(trend.at(-1)!.INP).toBeNull()
    expect(trend.filter((p) => p.LCP !== null)).toHaveLength(2)
    const minutes = (await summary(s, '?window=1h')).trend
    expect(minutes).toHaveLength(60)
    expect(minutes.at(-1)!.t).toBe('2026-06-01T12:30:00.000Z')
    expect(near(minutes.at(-1)!.LCP, 5200)).toBe(true)
    expect((await summary(s, '?window=7d')).trend).toHaveLength(7)
  })

  it('answers 404 for an unknown site and 400 for an unknown window or device', async () => {
    const s = await server()
    expect((await fetch(`${s.url}/api/sites/nope.example/summary`)).status).toBe(404)
    expect((await fetch(`${s.url}/api/sites/${SITE}/summary?window=3d`)).status).toBe(400)
    expect((await fetch(`${s.url}/api/sites/${SITE}/summary?device=watch`)).status).toBe(400)
  })

  it('pushes the 24h summary as a vitals event, at most once per interval and only when it changed', async () => {
    const s = await server({}, { vitalsEveryMs: 400 })
    const c = ws(s, '?topics=vitals')
    await until(() => c.events()[0], 'snapshot')
    await postBeacon(s.url, [{ type: 'pageview', path: '/' }, lcp(1800, 'push-1')])
    const ev = await until(
      () => c.events().find((e) => e.type === 'vitals' && e.data.vitals.LCP.samples === 1),
      'a vitals event with the sample'
    )
    expect(summarySchema.parse(ev.data)).toMatchObject({ site: SITE, window: '24h', device: 'all', pageviews: 1 })
    const times = c
      .events()
      .filter((e) => e.type === 'vitals')
      .map((e) => Date.parse(e.at!))
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(395)
    const settled = c.events().length
    await new Promise((r) => setTimeout(r, 1000))
    expect(c.events().length).toBe(settled)
  })

  // The cache is SQLite's (a trigger on its connection): on PostgreSQL every window is read whole (pg-summary.ts).
  it.skipIf(process.env.RADIATOR_TEST_ENGINE === 'pg')(
    'answers every window from its cache exactly as a fresh read of the rollups, round after round',
    async () => {
      const clock = testClock(T0)
      const s = await server({}, { now: clock.now })
      const summaries = new Summaries(s.store.db, new Presence(clock.now), clock.now)
      const rolledOf = (x: Summary) => ({
        from: x.from,
        pageviews: x.pageviews,
        vitals: x.vitals,
        topPages: x.topPages,
        trend: x.trend,
      })
      /** Read inside a transaction: the cache is neither read nor kept there, the window is read whole. */
      const fresh = (window: Summary['window'], device: 'mobile' | null) =>
        rolledOf(s.store.sqlite.transaction(() => summaries.summary(SITE, window, device))())
      const allEqualFresh = async (when: string) => {
        for (const window of WINDOWS)
          for (const device of [null, 'mobile'] as const) {
            const q = `?window=${window}${device ? `&device=${device}` : ''}`
            expect(rolledOf(await summary(s, q)), `${when} ${q}`).toEqual(fresh(window, device))
          }
      }
      /** Every sample stored is rolled up (the job's watermark is past the newest id). */
      const rolledUp = () => {
        const q = (sql: string) => Number((s.store.sqlite.prepare(sql).get() as { v: unknown } | undefined)?.v ?? 0)
        return (
          q(`SELECT value AS v FROM meta WHERE key = 'metrics_rolled_samples'`) >=
          q('SELECT max(id) AS v FROM site_samples')
        )
      }
      for (let round = 0; round < 6; round++) {
        // Each round lands in other periods: the current minute, hour and day change as the clock moves.
        const events: BeaconEvent[] = [{ type: 'pageview', path: `/p${round % 3}` }]
        for (let i = 0; i < 5; i++)
          events.push(lcp(900 + round * 700 + i * 150, `r${round}-${i}`, `/p${(round + i) % 3}`))
        // An INP reported again is counted in the period it was first reported in: the last
        // round's, an older period of the minute and hour windows (the rollup job moves it there).
        const inp = (value: number, id: string): BeaconEvent => ({ type: 'vital', path: '/p1', name: 'INP', value, id })
        events.push(inp(100 + round * 10, `inp-${round}`))
        if (round > 0) events.push(inp(900 + round, `inp-${round - 1}`))
        await postBeacon(s.url, events)
        await eventually(rolledUp, 'rollup')
        await allEqualFresh(`round ${round}`)
        // The same question twice between rollups is answered from the cache.
        expect(summaries.summary(SITE, '28d', null).trend).toBe(summaries.summary(SITE, '28d', null).trend)
        clock.advance(round % 2 ? 3 * 3600_000 : 61_000)
      }
      // A write before a window's first period leaves that window's answer as it was; the others move.
      const before5m = summaries.summary(SITE, '5m', null)
      const before24h = summaries.summary(SITE, '24h', null)
      await postBeacon(s.url, [{ type: 'vital', path: '/p1', name: 'INP', value: 5000, id: 'inp-5' }]) // first reported 3 h ago
      await eventually(rolledUp, 'rollup')
      expect(summaries.summary(SITE, '24h', null).trend).not.toBe(before24h.trend)
      expect(summaries.summary(SITE, '5m', null).trend).toBe(before5m.trend)
      await allEqualFresh('after a write 3 h back')
      // With no rollup since, a window that moved on to a new period is read again.
      await allEqualFresh('unchanged')
      clock.advance(61_000)
      await allEqualFresh('a minute later')
      clock.advance(86_400_000)
      await allEqualFresh('a day later')
      // One period at a time, each window takes out what it leaves (5m after 5 minutes, 24h after
      // 24 hours, 7d after 7 days) and adds what closed.
      await postBeacon(s.url, [{ type: 'pageview', path: '/late' }, lcp(3300, 'late-1', '/late')])
      await eventually(rolledUp, 'rollup')
      for (const [step, times] of [
        [60_000, 7],
        [3600_000, 26],
        [86_400_000, 9],
      ] as const)
        for (let i = 0; i < times; i++) {
          clock.advance(step)
          await allEqualFresh(`${i + 1} × ${step} ms on`)
        }
    }
  )
})
