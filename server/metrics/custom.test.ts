import { describe, expect, it } from 'vitest'
import { until, type TestServer } from '../test/harness.ts'
import { countOf, json, testClock, metricsFixtures } from '../test/metrics.ts'

const T0 = Date.UTC(2026, 3, 2, 9, 0, 0)
const { server, ws } = metricsFixtures()

const push = (s: TestServer, body: unknown, token: string | null = 'team-token') =>
  fetch(`${s.url}/api/metrics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })

describe('custom metrics', () => {
  it('answers 401 naming METRICS_TOKEN when no token is configured', async () => {
    const s = await server()
    const res = await push(s, { name: 'deploys', value: 1 })
    expect(res.status).toBe(401)
    expect((await res.json()).message).toContain('METRICS_TOKEN')
  })

  it('answers 401 without a token or with a wrong one', async () => {
    const s = await server({ METRICS_TOKEN: 'old-token,team-token' })
    expect((await push(s, { name: 'deploys', value: 1 }, null)).status).toBe(401)
    expect((await push(s, { name: 'deploys', value: 1 }, 'team-tokem')).status).toBe(401)
    // Either rotation token is accepted.
    expect((await push(s, { name: 'deploys', value: 1 }, 'old-token')).status).toBe(202)
  })

  it.each([
    ['a body that is not JSON', '{"name":'],
    ['a name over 100 characters', { name: 'x'.repeat(101), value: 1 }],
    ['a value that is not a number', { name: 'deploys', value: '3' }],
    ['more than 100 items', Array.from({ length: 101 }, () => ({ name: 'q', value: 1 }))],
    [
      'more than 20 tags',
      { name: 'q', value: 1, tags: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`t${i}`, 'v'])) },
    ],
    ['a tag that is not a string', { name: 'q', value: 1, tags: { env: 3 } }],
    ['a control character in the name', { name: 'a\nb', value: 1 }],
  ])('rejects %s with 400', async (_name, body) => {
    const s = await server({ METRICS_TOKEN: 'team-token' })
    const res = await push(s, body)
    expect(res.status).toBe(400)
    expect((await res.json()).code).toBe('BAD_REQUEST')
  })

  it('rejects a body over 64 KB with 413', async () => {
    const s = await server({ METRICS_TOKEN: 'team-token' })
    const tags = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`tag${i}`, 'y'.repeat(256)]))
    const res = await push(
      s,
      Array.from({ length: 20 }, (_, i) => ({ name: `m${i}`, value: 1, tags }))
    )
    expect(res.status).toBe(413)
  })

  it('stores one point or many, answers 202 after COMMIT and serves the latest per name', async () => {
    const clock = testClock(T0)
    const s = await server({ METRICS_TOKEN: 'team-token' }, { now: clock.now })
    expect((await push(s, { name: 'deploys today', value: 3, unit: 'count' })).status).toBe(202)
    clock.advance(60_000)
    const res = await push(s, [
      { name: 'deploys today', value: 4, unit: 'count' },
      { name: 'error rate', value: 0.012, unit: '%', tags: { service: 'checkout' } },
    ])
    expect(await res.json()).toMatchObject({ stored: 2 })
    expect(await countOf(s, 'custom_metrics')).toBe(3)
    const latest = await json(fetch(`${s.url}/api/metrics`))
    expect(latest.metrics).toEqual({
      'deploys today': {
        name: 'deploys today',
        value: 4,
        unit: 'count',
        tags: null,
        at: new Date(T0 + 60_000).toISOString(),
      },
      'error rate': {
        name: 'error rate',
        value: 0.012,
        unit: '%',
        tags: { service: 'checkout' },
        at: new Date(T0 + 60_000).toISOString(),
      },
    })
  })

  it('serves a series for one name over a window', async () => {
    const clock = testClock(T0)
    const s = await server({ METRICS_TOKEN: 'team-token' }, { now: clock.now })
    for (const [ago, value] of [
      [3 * 3600_000, 1],
      [30 * 60_000, 2],
      [60_000, 3],
    ] as const) {
      clock.set(T0 - ago)
      await push(s, { name: 'queue depth', value })
    }
    clock.set(T0)
    const series = await json(fetch(`${s.url}/api/metrics?name=queue%20depth&window=1h`))
    expect(series.window).toBe('1h')
    expect(series.points.map((p: { value: number }) => p.value)).toEqual([2, 3])
    expect((await fetch(`${s.url}/api/metrics?window=1h`)).status).toBe(400)
    expect((await fetch(`${s.url}/api/metrics?name=q&window=2h`)).status).toBe(400)
  })

  it('pushes the latest value as a metric event and keeps it in the snapshot, also after a restart', async () => {
    const s = await server({ METRICS_TOKEN: 'team-token' })
    const c = ws(s, '?topics=metrics')
    await until(() => c.events()[0], 'snapshot')
    await push(s, { name: 'deploys today', value: 7, tags: { team: 'web' } })
    const ev = await until(() => c.events().find((e) => e.type === 'metric'), 'metric event')
    expect(ev.data).toMatchObject({ name: 'deploys today', value: 7, unit: null, tags: { team: 'web' } })

    const late = ws(s)
    const snap = await until(() => late.events()[0], 'snapshot')
    expect(snap.data.metrics['deploys today']).toMatchObject({ value: 7 })

    await s.close()
    const again = await server({ METRICS_TOKEN: 'team-token' }, {}, s.dataDir)
    expect((await json(fetch(`${again.url}/api/metrics`))).metrics['deploys today']).toMatchObject({ value: 7 })
  })
})
