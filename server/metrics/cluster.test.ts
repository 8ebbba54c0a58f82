/**
 * The site metrics of a cluster (issue 17): two real Radiators on one PostgreSQL database and one
 * NATS JetStream stream. A visitor whose beacons land on both is one visitor on both; each shows
 * the same counts, summaries and latest custom metrics; the live `visitors` events come once (the
 * leader's), not once per instance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { until, type TestServer, TEST_ADMIN_TOKEN, WsTestClient } from '../test/harness.ts'
import { json, postBeacon, SITE, startMetricsServer } from '../test/metrics.ts'
import { servicesUp } from '../test/services.ts'
import { type TestCluster, testCluster } from '../test/cluster.ts'

const up = servicesUp('postgres', 'nats')
const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }

describe.skipIf(!up)('site metrics across two instances', () => {
  let cluster: TestCluster
  let a: TestServer
  let b: TestServer
  const clients: WsTestClient[] = []

  beforeAll(async () => {
    cluster = await testCluster()
    const env = { ...cluster.env, METRICS_TOKEN: 'push' }
    a = await startMetricsServer(env, { rollEveryMs: 100, visitorsEveryMs: 100, sweepEveryMs: 500 })
    b = await startMetricsServer(env, { rollEveryMs: 100, visitorsEveryMs: 100, sweepEveryMs: 500 })
  })

  afterAll(async () => {
    for (const c of clients) c.close()
    await a?.destroy()
    await b?.destroy()
    await cluster?.drop()
  })

  const sites = async (s: TestServer) =>
    (await json(fetch(`${s.url}/api/sites`, { headers: auth }))).sites.find((x: { site: string }) => x.site === SITE)
  const summary = async (s: TestServer) =>
    json(fetch(`${s.url}/api/sites/${SITE}/summary?window=1h`, { headers: auth }))

  it('counts one visitor seen by both instances once, on both, and both roll up and summarize the same', async () => {
    const ws = [a, b].map((s) => {
      const c = new WsTestClient(`${s.url.replace('http', 'ws')}/live?topics=visitors`)
      clients.push(c)
      return c
    })
    await Promise.all(ws.map((c) => until(() => c.events()[0], 'snapshot')))
    // The same browser (address and User-Agent) on A, then on B; another one on B only.
    expect((await postBeacon(a.url, [{ type: 'pageview', path: '/one' }])).status).toBe(202)
    expect((await postBeacon(b.url, [{ type: 'pageview', path: '/two' }])).status).toBe(202)
    const other = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'
    expect((await postBeacon(b.url, [{ type: 'pageview', path: '/two' }], { ua: other })).status).toBe(202)

    for (const s of [a, b])
      await until(
        async () => (await sites(s)).last5m === 2 && (await sites(s)).live === 2,
        `two visitors on :${s.port}`
      )
    for (const s of [a, b]) await until(async () => (await summary(s)).pageviews === 3, `rollups read on :${s.port}`)
    const [sa, sb] = await Promise.all([summary(a), summary(b)])
    expect(sa.topPages).toEqual(sb.topPages)
    expect(sa.visitors).toEqual({ live: 2, last5m: 2 })
    expect(sb.series).toEqual(sa.series)

    // Every client, whichever instance it is on, is told 2 — by one publisher: no copies per instance.
    const visitorEvents = (c: WsTestClient) => c.events().filter((e) => e.type === 'visitors' && e.data.site === SITE)
    await until(() => ws.every((c) => visitorEvents(c).at(-1)?.data.live === 2), 'both clients told 2 visitors')
    await new Promise((r) => setTimeout(r, 500))
    for (const c of ws) {
      const counts = visitorEvents(c).map((e) => JSON.stringify([e.data.live, e.data.last5m]))
      // Consecutive equal figures would be a second instance publishing the same change.
      for (let i = 1; i < counts.length; i++) expect(counts[i]).not.toBe(counts[i - 1])
    }
    expect(visitorEvents(ws[0]!).map((e) => e.id)).toEqual(visitorEvents(ws[1]!).map((e) => e.id))
  })

  it('shows a custom metric pushed to one instance as the latest on the other', async () => {
    const res = await fetch(`${a.url}/api/metrics`, {
      method: 'POST',
      headers: { authorization: 'Bearer push', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'queue.depth', value: 7 }),
    })
    expect(res.status).toBe(202)
    await until(
      async () => (await json(fetch(`${b.url}/api/metrics`, { headers: auth }))).metrics['queue.depth']?.value === 7,
      'the point on the other instance'
    )
    const series = await json(fetch(`${b.url}/api/metrics?name=queue.depth`, { headers: auth }))
    expect(series.points.map((p: { value: number }) => p.value)).toEqual([7])
  })
})
