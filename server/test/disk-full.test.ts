/**
 * A disk that refuses writes, made real with SQLite's max_page_count on the live connection: the
 * database can't grow, and every write that needs a new page fails with SQLITE_FULL exactly as on
 * a full disk. Raising it again is space coming back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadFixture } from './fixtures.ts'
import { startTestServer, TEST_ENGINE, type TestServer } from './harness.ts'
import * as github from './sign/github.ts'
import { postBeacon, SITE } from './metrics.ts'

const SECRET = 'disk-full-secret'
const TOKEN = 'disk-full-token'
const fx = loadFixture('github', 'workflow_job-completed-failure')

let s: TestServer
const logLines: string[] = []

let delivery = 0
const hook = () =>
  fetch(`${s.url}/hooks/github`, {
    method: 'POST',
    headers: { ...fx.headers, 'x-github-delivery': `disk-${++delivery}`, ...github.sign(fx.raw, SECRET) },
    body: new Uint8Array(fx.raw),
  })
const beacon = (i: number) =>
  postBeacon(
    s.url,
    Array.from({ length: 10 }, (_, k) => ({ type: 'pageview' as const, path: `/page/${i}/${k}` }))
  )
const metric = (i: number) =>
  fetch(`${s.url}/api/metrics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ name: `disk.metric.${i}.${'y'.repeat(80)}`, value: i }),
  })

const pageCount = () => s.store.sqlite.pragma('page_count', { simple: true }) as number

// The full disk is made with SQLite's max_page_count; PostgreSQL's own refusals are the PgWriter's tests.
describe.runIf(TEST_ENGINE === 'sqlite')('a disk that refuses writes', () => {
  beforeAll(async () => {
    s = await startTestServer(
      { GITHUB_WEBHOOK_SECRET: SECRET, METRICS_TOKEN: TOKEN, SITES: SITE, LOG_LEVEL: 'warn' },
      undefined,
      undefined,
      (l) => logLines.push(l)
    )
  })
  afterAll(() => s.destroy())

  it('answers writes 503 with a reason and Retry-After, reports it on /healthz, and recovers when space returns', async () => {
    expect((await hook()).status).toBe(200)
    // No room to grow from here on: the next page any write needs is refused with SQLITE_FULL.
    s.store.sqlite.pragma(`max_page_count = ${pageCount()}`)

    // Writes that need new pages fail; some may still fit in free space of existing pages.
    const answers: Response[] = []
    for (let i = 0; i < 40; i++) answers.push(await hook(), await beacon(i), await metric(i))
    const statuses = answers.map((r) => r.status)
    expect(statuses).not.toContain(500)
    const refused = answers.filter((r) => r.status === 503)
    expect(refused.length).toBeGreaterThan(0)
    for (const r of refused) {
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0)
      const body = await r.json()
      expect(body.code).toBe('UNAVAILABLE')
      expect(body.message).toMatch(/full/i)
    }
    // Every path that writes got its 503: webhooks, beacons and custom metrics.
    expect(new Set(answers.flatMap((r, i) => (r.status === 503 ? [i % 3] : [])))).toEqual(new Set([0, 1, 2]))

    const health = await fetch(`${s.url}/healthz`)
    expect(health.status).toBe(503)
    const hb = await health.json()
    expect(hb.status).toBe('unavailable')

    // Space returns: the next write goes through and /healthz says ok again, no restart.
    s.store.sqlite.pragma('max_page_count = 4294967294')
    expect((await hook()).status).toBe(200)
    expect((await beacon(1000)).status).toBe(202)
    expect((await metric(1000)).status).toBe(202)
    const after = await fetch(`${s.url}/healthz`)
    expect(after.status).toBe(200)
    expect(logLines.filter((l) => l.includes('"level":"error"'))).toEqual([])
  })
})
