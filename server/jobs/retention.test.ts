import { afterEach, describe, expect, it } from 'vitest'
import { persistEvent, query, startTestServer, type TestServer, until } from '../test/harness.ts'
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
    const count = async (table: string, where = 'true', ...params: unknown[]) =>
      Number(
        (await query<{ n: number | string }>(s, `SELECT count(*) AS n FROM ${table} WHERE ${where}`, ...params))[0]!.n
      )
    expect(s.jobs.names()).toContain('retention')
    const now = Date.now()
    const ages = {
      fresh: now,
      pastEvents: now - 8 * DAY_MS,
      pastRaw: now - 31 * DAY_MS,
      pastRollups: now - 401 * DAY_MS,
    }
    for (const [name, at] of Object.entries(ages)) {
      const [row] = await query<{ id: number }>(
        s,
        "INSERT INTO deliveries (provider, received_at, outcome, size) VALUES ('github', ?, 'stored', 2) RETURNING id",
        at
      )
      await query(
        s,
        "INSERT INTO raw_bodies (delivery_row_id, headers, body, received_at) VALUES (?, '{}', ?, ?)",
        row!.id,
        Buffer.from('{}'),
        at
      )
      await query(s, "INSERT INTO delivery_keys (provider, delivery_id, received_at) VALUES ('github', ?, ?)", name, at)
      await query(
        s,
        "INSERT INTO site_hits (site, visitor, kind, path, device, at) VALUES ('a.example', 'v', 'pageview', '/', 'desktop', ?)",
        at
      )
      await query(s, "INSERT INTO custom_metrics (name, value, at) VALUES ('deploys', 1, ?)", at)
    }
    await persistEvent(s, 'build.finished', { n: 1 })
    await query(s, 'UPDATE events SET at = ?', ages.pastEvents)
    const last = await persistEvent(s, 'build.finished', { n: 2 })
    // On PostgreSQL an event row goes only once relayed into the stream (which then keeps it).
    if (s.engine.kind === 'pg')
      await until(
        async () => (await count('meta', "key = 'events_relayed_through' AND CAST(value AS bigint) >= ?", last.id)) > 0,
        'the relay past the last event'
      )

    await s.jobs.run('retention')
    // RAW_RETENTION_DAYS: the 31- and 401-day-old rows went, the 8-day-old one stays.
    for (const [table, column] of [
      ['deliveries', 'received_at'],
      ['raw_bodies', 'received_at'],
      ['delivery_keys', 'received_at'],
      ['site_hits', 'at'],
    ])
      expect([table, await count(table!, `${column} < ?`, now - DAY_MS), await count(table!)]).toEqual([table, 1, 2])
    // ROLLUP_RETENTION_DAYS: only the 401-day-old point went.
    expect(await count('custom_metrics')).toBe(3)
    // EVENT_RETENTION_DAYS: the 8-day-old event went, the new one stays.
    expect(await count('events')).toBe(1)
  })
})
