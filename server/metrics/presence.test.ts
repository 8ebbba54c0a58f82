import { describe, expect, it } from 'vitest'
import { tempDir, until, type LiveMessage, type TestServer } from '../test/harness.ts'
import { json, postBeacon, SITE, testClock, metricsFixtures, startMetricsServer } from '../test/metrics.ts'
import { Presence } from './presence.ts'

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0)
const { server, ws } = metricsFixtures()

const figures = async (s: TestServer, site = SITE) =>
  (await json(fetch(`${s.url}/api/sites`))).sites.find((x: { site: string }) => x.site === site)

describe('live visitors', () => {
  it('counts live (a visible page within 45 s, no leave since) and last5m (any page view or heartbeat in 5 minutes)', async () => {
    const clock = testClock(T0)
    const s = await server({}, { now: clock.now })
    await postBeacon(s.url, [{ type: 'pageview', path: '/' }])
    expect(await figures(s)).toMatchObject({ live: 1, last5m: 1 })

    clock.advance(5_000)
    await postBeacon(s.url, [{ type: 'leave', path: '/' }])
    expect(await figures(s)).toMatchObject({ live: 0, last5m: 1 })

    clock.advance(10_000) // the tab is visible again: the snippet beats at once
    await postBeacon(s.url, [{ type: 'heartbeat', path: '/' }])
    expect(await figures(s)).toMatchObject({ live: 1, last5m: 1 })

    clock.advance(46_000) // no heartbeat for 46 s: the tab is gone without a leave
    expect(await figures(s)).toMatchObject({ live: 0, last5m: 1 })

    clock.advance(5 * 60_000)
    expect(await figures(s)).toMatchObject({ live: 0, last5m: 0 })
  })

  it('pushes visitors events at most once per site per second, with the latest figures', async () => {
    const s = await server({ SITES: `${SITE},blog.example.org`, TRUST_PROXY: 'true' })
    const c = ws(s, '?topics=visitors')
    await until(() => c.events()[0], 'snapshot')
    const end = Date.now() + 2200
    let n = 0
    while (Date.now() < end) {
      n++
      await Promise.all([
        postBeacon(s.url, [{ type: 'pageview', path: '/' }], { ip: `198.51.100.${n}` }),
        postBeacon(s.url, [{ type: 'pageview', path: '/' }], {
          ip: `198.51.100.${n}`,
          site: 'blog.example.org',
          origin: 'https://blog.example.org',
        }),
      ])
      await new Promise((r) => setTimeout(r, 20))
    }
    for (const site of [SITE, 'blog.example.org']) {
      const mine = () => c.events().filter((e) => e.type === 'visitors' && e.data.site === site)
      await until(() => mine().at(-1)?.data.last5m === n, `${site} reaching ${n} visitors`, 3000)
      const times = mine().map((e) => Date.parse(e.at!))
      // Many beacons, few events: the figures were coalesced.
      expect(times.length).toBeLessThanOrEqual(4)
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(995)
      expect(mine().at(-1)!.data).toEqual({ site, live: n, last5m: n })
    }
  })

  it('pushes nothing when the figures did not change', async () => {
    const s = await server()
    const c = ws(s, '?topics=visitors')
    await until(() => c.events()[0], 'snapshot')
    await postBeacon(s.url, [{ type: 'pageview', path: '/' }])
    await until(() => c.events().some((e) => e.type === 'visitors' && e.data.live === 1), 'first figures')
    const before = c.events().length
    for (let i = 0; i < 5; i++) {
      await postBeacon(s.url, [{ type: 'heartbeat', path: '/' }])
      await new Promise((r) => setTimeout(r, 300))
    }
    expect(c.events().length).toBe(before)
  })

  it('puts every site with its figures and 24h summary in the snapshot', async () => {
    const s = await server()
    await postBeacon(s.url, [{ type: 'pageview', path: '/pricing' }])
    const c = ws(s)
    const snap = (await until(() => c.events()[0], 'snapshot')) as LiveMessage
    expect(snap.type).toBe('snapshot')
    expect(snap.data.sites).toHaveLength(1)
    expect(snap.data.sites[0]).toMatchObject({ site: SITE, live: 1, last5m: 1 })
    expect(snap.data.sites[0].summary).toMatchObject({ site: SITE, window: '24h', device: 'all' })
    expect(snap.data.metrics).toEqual({})
  })

  it('rebuilds presence from the database after a restart', async () => {
    const dir = tempDir()
    const first = await startMetricsServer({}, {}, dir)
    await postBeacon(first.url, [{ type: 'pageview', path: '/' }])
    await first.close()
    const second = await server({}, {}, dir)
    expect(await figures(second)).toMatchObject({ live: 1, last5m: 1 })
  })
})

describe('presence order within one instant', () => {
  it('counts a visitor whose page view follows a leave in the same millisecond as live', () => {
    const p = new Presence(() => T0)
    p.record(SITE, 'v1', 'desktop', 'leave', T0)
    p.record(SITE, 'v1', 'desktop', 'pageview', T0)
    expect(p.counts(SITE).live).toBe(1)
  })

  it('counts a visitor whose leave follows the page view in the same millisecond as gone', () => {
    const p = new Presence(() => T0)
    p.record(SITE, 'v1', 'desktop', 'pageview', T0)
    p.record(SITE, 'v1', 'desktop', 'leave', T0)
    expect(p.counts(SITE)).toEqual({ live: 0, last5m: 1 })
  })
})
