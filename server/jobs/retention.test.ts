import { afterEach, describe, expect, it } from 'vitest'
import { persistEvent, startTestServer, type TestServer } from '../test/harness.ts'
import { DAY_MS } from '../time.ts'

const servers: TestServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.destroy()))
})

describe('the one retention sweep', () => {
  it('is one scheduled job that deletes from every table with a retention, each by its own setting', async () => {
    const s = await startTestServer({
      RAW_RETENTION_DAYS: '30',
      ROLLUP_RETENTION_DAYS: '400',
      EVENT_RETENTION_DAYS: '7',
    })
    servers.push(s)
    expect(s.jobs.names()).toContain('retention')
    const now = Date.now()
    const ages = {
      fresh: now,
      pastEvents: now - 8 * DAY_MS,
      pastRaw: now - 31 * DAY_MS,
      pastRollups: now - 401 * DAY_MS,
    }
    await s.writer.write((sqlite) => {
      const delivery = sqlite.prepare(
        "INSERT INTO deliveries (provider, received_at, outcome, size) VALUES ('github', ?, 'stored', 2) RETURNING id"
      )
      const body = sqlite.prepare(
        "INSERT INTO raw_bodies (delivery_row_id, headers, body, received_at) VALUES (?, '{}', x'7b7d', ?)"
      )
      const key = sqlite.prepare(
        "INSERT INTO delivery_keys (provider, delivery_id, received_at) VALUES ('github', ?, ?)"
      )
      const hit = sqlite.prepare(
        "INSERT INTO site_hits (site, visitor, kind, path, device, at) VALUES ('a.example', 'v', 'pageview', '/', 'desktop', ?)"
      )
      const metric = sqlite.prepare("INSERT INTO custom_metrics (name, value, at) VALUES ('deploys', 1, ?)")
      for (const [name, at] of Object.entries(ages)) {
        const { id } = delivery.get(at) as { id: number }
        body.run(id, at)
        key.run(name, at)
        hit.run(at)
        metric.run(at)
      }
    })
    await persistEvent(s, 'build.finished', { n: 1 })
    s.store.sqlite.prepare('UPDATE events SET at = ?').run(ages.pastEvents)
    await persistEvent(s, 'build.finished', { n: 2 })

    await s.jobs.run('retention')
    const count = (table: string, column: string) =>
      (
        s.store.sqlite.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${column} < ?`).get(now - DAY_MS) as {
          n: number
        }
      ).n
    const total = (table: string) =>
      (s.store.sqlite.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n
    // RAW_RETENTION_DAYS: the 31- and 401-day-old rows went, the 8-day-old one stays.
    for (const [table, column] of [
      ['deliveries', 'received_at'],
      ['raw_bodies', 'received_at'],
      ['delivery_keys', 'received_at'],
      ['site_hits', 'at'],
    ])
      expect([table, count(table!, column!), total(table!)]).toEqual([table, 1, 2])
    // ROLLUP_RETENTION_DAYS: only the 401-day-old point went.
    expect(total('custom_metrics')).toBe(3)
    // EVENT_RETENTION_DAYS: the 8-day-old event went, the new one stays.
    expect(total('events')).toBe(1)
  })
})
